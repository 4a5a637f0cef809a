//! When is REPL input complete? While a bracket, brace or parenthesis is
//! open, or a string or block comment is unterminated, Enter continues it on
//! the next line.

/// True when `text` closes everything it opens (too many closers count as
/// complete: the parser then reports the error with its position).
pub fn is_complete(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
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
    depth <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_strings_and_comments_continue() {
        for text in [
            "fn f(x) {",
            "let a = [1,",
            "veth(\"v0\", #{ peer: \"c0\"",
            "let s = `multi",
            "/* note",
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
        ] {
            assert!(is_complete(text), "{text}");
        }
    }
}
