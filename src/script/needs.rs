//! Before a run: which programs will the script need? Read from its text
//! (and the scripts it runs or imports by a literal path): the API functions
//! it calls that run a program (firewall functions run iptables, ping()
//! runs ping, check::serve runs python3), and the first word of each
//! exec_in/spawn_in command written as a literal list. A program missing
//! on this machine is reported before anything is changed, with the one
//! command that installs it. What the text hides (a name built at run time)
//! is still caught at the call, with the same message.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use plumb_kernel::{programs, Result};

/// API functions (stdlib ones as `module::name`) and the programs they run.
const RUNS: &[(&str, &[&str])] = &[
    ("masquerade", FIREWALL),
    ("publish", FIREWALL),
    ("forward_accept", FIREWALL),
    ("isolate", FIREWALL),
    ("rule", FIREWALL),
    ("docker::network", FIREWALL),
    ("ping", &["ping"]),
    ("check::assert_reachable", &["ping"]),
    ("check::assert_unreachable", &["ping"]),
    ("check::serve", &["python3"]),
];

const FIREWALL: &[&str] = &["iptables", "iptables-save", "iptables-restore"];

/// Functions whose list argument's first word is a program to run.
const COMMANDS: &[&str] = &["exec_in", "spawn_in"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Punct(char),
}

/// Words (`docker::run` is one), string literals and punctuation, each with
/// its line; comments dropped. Backtick strings are read as plain text.
fn tokens(source: &str) -> Vec<(usize, Token)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut star = false;
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    }
                    if star && c == '/' {
                        break;
                    }
                    star = c == '*';
                }
            }
            '"' | '`' | '\'' => {
                let start = line;
                let mut text = String::new();
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => text.extend(chars.next()),
                        s if s == c => break,
                        s => {
                            line += usize::from(s == '\n');
                            text.push(s);
                        }
                    }
                }
                out.push((start, Token::Text(text)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                loop {
                    match chars.peek() {
                        Some(&n) if n.is_alphanumeric() || n == '_' => word.push(n),
                        Some(':') => {
                            chars.next();
                            if chars.peek() != Some(&':') {
                                out.push((line, Token::Word(word)));
                                out.push((line, Token::Punct(':')));
                                word = String::new();
                                break;
                            }
                            word.push_str("::");
                        }
                        _ => break,
                    }
                    chars.next();
                }
                if !word.is_empty() {
                    out.push((line, Token::Word(word)));
                }
            }
            c if c.is_whitespace() => {}
            c => out.push((line, Token::Punct(c))),
        }
    }
    out
}

/// What one script needs: program → where it is first needed.
type Needs = BTreeMap<String, Use>;

/// A call that runs a program: `masquerade()` at FILE:LINE.
#[derive(Clone, Debug, PartialEq)]
pub struct Use {
    pub call: String,
    pub file: String,
    pub line: usize,
}

impl Use {
    /// `masquerade() at line 63` in `file`, else `... at FILE:LINE`.
    fn describe(&self, file: &str) -> String {
        if self.file == file {
            format!("{}() at line {}", self.call, self.line)
        } else {
            format!("{}() at {}:{}", self.call, self.file, self.line)
        }
    }
}

/// Add what `source` (named `file`) needs, following literal run_script()
/// and local import paths (each file once).
fn scan(file: &str, source: &str, needs: &mut Needs, seen: &mut Vec<PathBuf>) {
    let tokens = tokens(source);
    let dir = Path::new(file).parent().unwrap_or(Path::new(""));
    // import "docker" as d; d::network(...) is docker::network.
    let mut aliases: HashMap<String, String> = HashMap::new();
    let mut follow = Vec::new();
    for (i, (line, token)) in tokens.iter().enumerate() {
        let next = |k: usize| tokens.get(i + k).map(|(_, t)| t);
        match (token, next(1), next(2)) {
            (Token::Word(w), Some(Token::Text(path)), _) if w == "import" => {
                if let (Some(Token::Word(r#as)), Some(Token::Word(alias))) = (next(2), next(3)) {
                    if r#as == "as" {
                        aliases.insert(alias.clone(), path.clone());
                    }
                }
                if path.starts_with('.') || path.starts_with('/') {
                    follow.push(dir.join(format!("{path}.rhai")));
                }
            }
            (Token::Word(name), Some(Token::Punct('(')), after) => {
                let called = match name.split_once("::") {
                    Some((alias, f)) => match aliases.get(alias) {
                        Some(module) => format!("{module}::{f}"),
                        None => name.clone(),
                    },
                    None => name.clone(),
                };
                let at = Use {
                    call: called.clone(),
                    file: file.to_string(),
                    line: *line,
                };
                if let Some((_, runs)) = RUNS.iter().find(|(f, _)| *f == called) {
                    for program in *runs {
                        needs
                            .entry(program.to_string())
                            .or_insert_with(|| at.clone());
                    }
                }
                if called == "run_script" {
                    if let Some(Token::Text(path)) = after {
                        follow.push(dir.join(path));
                    }
                }
                if COMMANDS.contains(&called.as_str()) {
                    if let Some(program) = first_listed_word(&tokens[i + 2..]) {
                        needs.entry(program).or_insert(at);
                    }
                }
            }
            _ => {}
        }
    }
    for path in follow {
        if seen.contains(&path) {
            continue;
        }
        seen.push(path.clone());
        if let Ok(text) = std::fs::read_to_string(&path) {
            scan(&path.display().to_string(), &text, needs, seen);
        }
    }
}

/// In a call's arguments, the first string of the first literal list:
/// `exec_in(ns, ["curl", url])` runs curl.
fn first_listed_word(arguments: &[(usize, Token)]) -> Option<String> {
    let mut depth = 0;
    for (k, (_, token)) in arguments.iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') if depth == 0 => return None,
            Token::Punct(')') => depth -= 1,
            Token::Punct('[') => {
                return match arguments.get(k + 1) {
                    Some((_, Token::Text(word))) if !word.is_empty() => Some(word.clone()),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    None
}

/// The programs a script (and what it runs) will need, each with where it
/// is first needed.
pub fn programs_needed(file: &str, source: &str) -> Vec<(String, Use)> {
    let mut needs = Needs::new();
    scan(file, source, &mut needs, &mut vec![PathBuf::from(file)]);
    needs.into_iter().collect()
}

/// Refuse to start a script that needs a program this machine lacks.
pub fn preflight(file: &str, source: &str) -> Result<()> {
    refuse_missing(file, programs_needed(file, source))
}

/// An error naming what of `needs` (program, where it is needed) is not
/// installed, as needed by `what` (a script's file name, or `plumb test`).
pub fn refuse_missing(what: &str, needs: Vec<(String, Use)>) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    let mut uses: Vec<String> = Vec::new();
    for (program, at) in needs {
        if missing.contains(&program) || programs::find(&program).is_some() {
            continue;
        }
        missing.push(program);
        let used = at.describe(what);
        if !uses.contains(&used) {
            uses.push(used);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(programs::missing_error(missing, what, uses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_that_run_programs_are_found_in_the_text() {
        let source = r#"
            // publish(#{ port: 1 }) in a comment runs nothing
            import "docker" as d;
            import "check" as check;
            let net = d::network("n", #{});
            let text = "masquerade(";
            check::serve(ns, 80, "");
            exec_in(ns, ["curl", "-s", url]);
            spawn_in(ns, argv);
            if ping(ns, "10.0.0.1") {}
        "#;
        let needs: BTreeMap<String, String> = programs_needed("t.rhai", source)
            .into_iter()
            .map(|(program, at)| (program, at.describe("t.rhai")))
            .collect();
        assert_eq!(
            needs.keys().collect::<Vec<_>>(),
            [
                "curl",
                "iptables",
                "iptables-restore",
                "iptables-save",
                "ping",
                "python3"
            ]
        );
        assert_eq!(needs["iptables"], "docker::network() at line 5");
        assert_eq!(needs["curl"], "exec_in() at line 8");
        assert_eq!(needs["ping"], "ping() at line 10");
    }

    #[test]
    fn scripts_run_by_a_literal_path_are_read_too() {
        let dir = std::env::temp_dir().join(format!("plumb-needs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(
            dir.join("lib/fw.rhai"),
            "rule(\"filter\", \"INPUT\", \"-j ACCEPT\");",
        )
        .unwrap();
        std::fs::write(dir.join("lib/probe.rhai"), "fn p(ns) { ping(ns, \"::1\") }").unwrap();
        let main = dir.join("main.rhai");
        let source = "run_script(\"lib/fw.rhai\");\nimport \"./lib/probe\" as probe;";
        let main = main.display().to_string();
        let needs: BTreeMap<String, String> = programs_needed(&main, source)
            .into_iter()
            .map(|(program, at)| (program, at.describe(&main)))
            .collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            needs["iptables-restore"].starts_with("rule() at /"),
            "{needs:?}"
        );
        assert!(
            needs["iptables-restore"].ends_with("lib/fw.rhai:1"),
            "{needs:?}"
        );
        assert!(needs["ping"].ends_with("lib/probe.rhai:1"), "{needs:?}");
    }
}
