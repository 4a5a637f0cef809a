//! When is REPL input complete? While a bracket, brace or parenthesis is
//! open, a string or block comment is unterminated, or the text ends with an
//! operator that needs a right-hand side (`let x = 1 +`), Enter continues it
//! on the next line.

/// Characters that cannot end a statement: operators, `,`, `.` and `::`.
const NEEDS_MORE: &str = "+-*/%=<>&|^!,.?:";

/// True when `text` closes everything it opens and does not end with an
/// operator (too many closers count as complete: the parser then reports
/// the error with its position).
pub fn is_complete(text: &str) -> bool {
    let mut depth: i64 = 0;
    // The last character outside strings and comments that is not a space.
    let mut last = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_comment = c == '/' && matches!(chars.peek(), Some('/' | '*'));
        if !(c.is_whitespace() || starts_comment) {
            last = Some(c);
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '"' | '`' | '\'' => {
                let mut closed = false;
                while let Some(s) = chars.next() {
                    if s == '\\' {
                        chars.next();
                    } else if s == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return false;
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut closed = false;
                let mut star = false;
                for s in chars.by_ref() {
                    if star && s == '/' {
                        closed = true;
                        break;
                    }
                    star = s == '*';
                }
                if !closed {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth <= 0 && !last.is_some_and(|c| NEEDS_MORE.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_strings_comments_and_trailing_operators_continue() {
        for text in [
            "fn f(x) {",
            "let a = [1,",
            "veth(\"v0\", #{ peer: \"c0\"",
            "let s = `multi",
            "/* note",
            "let x = 1 +",
            "let x = 1 + // the rest below",
            "let ok = a &&",
            "let y =",
            "docker::",
            "v.",
        ] {
            assert!(!is_complete(text), "{text}");
        }
        for text in [
            "fn f(x) {\n  x + 1\n}",
            "let a = [1, 2];",
            "let s = \"{ not a brace\";",
            "let c = '{';",
            "// a comment with {",
            "print(\"a \\\" quote\")",
            "}",
            "let x = 1 + 2",
            "let s = \"ends with +\";",
            "let n = 4 / 2 /* a comment */",
        ] {
            assert!(is_complete(text), "{text}");
        }
    }
}
