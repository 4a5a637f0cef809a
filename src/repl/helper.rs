//! rustyline integration: multi-line input and tab completion.
//!
//! Completion offers API function names (and `module::function` for the
//! stdlib), the session's variables, methods and properties after `.`, and
//! inside a string literal the names of namespaces and links that exist now
//! (asked of the kernel at the moment Tab is pressed).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

use super::input::is_complete;
use plumb_journal::Session;
use plumb_kernel::{netns, NsRef};

/// Properties of plumb's handle types, offered after `.` with the methods.
const PROPERTIES: &[&str] = &[
    "name", "netns", "peer", "ifindex", "gateway", "subnet", "in_use",
];

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "break", "continue",
    "return", "throw", "try", "catch", "import", "as", "true", "false",
];

pub const META_COMMANDS: &[&str] = &[
    ":help",
    ":journal",
    ":undo",
    ":rollback",
    ":save",
    ":load",
    ":show",
    ":graph",
    ":quit",
];

pub struct ReplHelper {
    pub session: Rc<RefCell<Session>>,
    /// API and stdlib function names.
    pub functions: BTreeSet<String>,
    /// The session's variables, updated after each statement.
    pub variables: Rc<RefCell<BTreeSet<String>>>,
}

impl ReplHelper {
    /// Names of namespaces and of links in the host and in every namespace.
    fn kernel_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = netns::list_named().into_iter().collect();
        let session = self.session.borrow();
        let spaces =
            std::iter::once(NsRef::Host).chain(names.clone().into_iter().map(NsRef::Named));
        let mut links = BTreeSet::new();
        for ns in spaces {
            if let Ok(found) = session.inspect().links(&ns) {
                links.extend(found.into_iter().map(|l| l.name));
            }
        }
        names.extend(links);
        names
    }

    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        if before.starts_with(':') && !before.contains(' ') {
            let found = META_COMMANDS.iter().filter(|m| m.starts_with(before));
            return (0, found.map(|m| m.to_string()).collect());
        }
        if let Some(start) = open_string_start(before) {
            let typed = &before[start..];
            let found = self
                .kernel_names()
                .into_iter()
                .filter(|n| n.starts_with(typed));
            return (start, found.collect());
        }
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let typed = &before[start..];
        let after_dot = before[..start].ends_with('.');
        let mut found: BTreeSet<String> = BTreeSet::new();
        let functions = self
            .functions
            .iter()
            .filter(|f| !after_dot || !f.contains("::"));
        found.extend(functions.filter(|f| f.starts_with(typed)).cloned());
        if after_dot {
            found.extend(
                PROPERTIES
                    .iter()
                    .filter(|p| p.starts_with(typed))
                    .map(|p| p.to_string()),
            );
        } else {
            let variables = self.variables.borrow();
            found.extend(variables.iter().filter(|v| v.starts_with(typed)).cloned());
            found.extend(
                KEYWORDS
                    .iter()
                    .filter(|k| k.starts_with(typed))
                    .map(|k| k.to_string()),
            );
        }
        (start, found.into_iter().collect())
    }
}

/// Where the text of a string literal left open before the cursor begins.
fn open_string_start(before: &str) -> Option<usize> {
    let mut open: Option<(char, usize)> = None;
    let mut escaped = false;
    for (i, c) in before.char_indices() {
        match open {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some((quote, _)) if c == quote => open = None,
            Some(_) => {}
            None if c == '"' || c == '`' => open = Some((c, i + 1)),
            None => {}
        }
    }
    open.map(|(_, start)| start)
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words) = self.candidates(line, pos);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') || is_complete(input) {
            Ok(ValidationResult::Valid(None))
        } else {
            Ok(ValidationResult::Incomplete)
        }
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_open_before_the_cursor_is_found() {
        assert_eq!(open_string_start("link(netns_open(\"ne"), Some(17));
        assert_eq!(open_string_start("let a = \"x\"; f(`b"), Some(16));
        assert_eq!(open_string_start("let a = \"x\\\"y\";"), None);
        assert_eq!(open_string_start("netns"), None);
    }
}
