//! `plumb repl`: type the tutorials' steps one statement at a time. The
//! session is a journaled run like any other; each statement is atomic (a
//! failing one undoes what it changed), variables, functions and imports
//! persist, and meta-commands show, draw, undo, save and load.

mod helper;
mod input;
mod show;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};
use rhai::{Dynamic, Engine, Position, Scope, AST};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;

use crate::cli::{GraphFormat, Renderer};
use crate::commands::{self, graph as graph_command};
use crate::error::{Error, Result};
use crate::script::{self, Api, Params, ScriptError, INTERRUPTED};
use plumb_journal::{EntryState, Journal, Session};
use plumb_kernel::{Kernel, NsRef, MAIN_TABLE};

pub struct ReplArgs {
    pub params: BTreeMap<String, String>,
    pub rollback_on_exit: bool,
}

/// A statement that ran to the end, and the journal entries it made.
/// `:undo` takes back whole statements, and `:save` writes a statement only
/// while every change it made is still in place (or it made none: `let`,
/// `fn`, `print`), so the saved script builds what the session holds.
struct Statement {
    text: String,
    /// Journal sequence numbers after..=last were made by this statement.
    after: u64,
    last: u64,
}

impl Statement {
    /// How many of its changes are still in place, of how many it made
    /// (a change the kernel refused inside a `try` was never made).
    fn live(&self, journal: &Journal) -> (usize, usize) {
        let made = journal
            .entries()
            .iter()
            .filter(|e| e.seq > self.after && e.seq <= self.last)
            .filter(|e| e.state != EntryState::Failed);
        made.fold((0, 0), |(live, all), e| {
            (live + usize::from(e.state.is_live()), all + 1)
        })
    }
}

struct Repl {
    engine: Engine,
    api: Api,
    session: Rc<RefCell<Session>>,
    scope: Scope<'static>,
    /// Every function defined so far; each statement runs with them.
    functions: AST,
    statements: Vec<Statement>,
    variables: Rc<RefCell<BTreeSet<String>>>,
    /// Whether any statement failed (the exit status when input is piped).
    any_failed: bool,
    /// Set by `exit(N)`: leave, with N as the exit status.
    exit_code: Option<u8>,
}

/// The session; returns plumb's exit status.
pub fn repl(args: ReplArgs) -> Result<u8> {
    let journal = Journal::create("(repl)", args.params.clone(), None)?;
    let session = Rc::new(RefCell::new(Session::new(Kernel::new()?, journal)));
    let (engine, api) = script::engine(session.clone(), Params::new(args.params));
    crate::commands::stop_scripts_on_signals();
    let mut repl = Repl {
        engine,
        api,
        session,
        scope: Scope::new(),
        functions: AST::empty(),
        statements: Vec::new(),
        variables: Rc::default(),
        any_failed: false,
        exit_code: None,
    };
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        let id = repl
            .session
            .borrow()
            .run_id()
            .unwrap_or_default()
            .to_string();
        println!("plumb repl: session {id}. Each statement is undone if it fails; :help lists commands, Ctrl-D leaves.");
        repl.interactive()?;
    } else {
        repl.piped()?;
    }
    repl.finish(args.rollback_on_exit)?;
    // Ended by a signal: the shell's convention, 128 + its number.
    if let Some(sig) = commands::terminated_by() {
        return Ok(128 + sig as u8);
    }
    // A person saw each error as it happened; a pipe (CI) needs the status.
    let failed = !interactive && repl.any_failed;
    Ok(repl.exit_code.unwrap_or(u8::from(failed)))
}

/// Ctrl-C while a statement runs must not throw away the lines typed ahead
/// of it: the terminal flushes its input queue on SIGINT unless NOFLSH is
/// set. rustyline keeps the flag (it saves and restores the mode around
/// each line); it is taken off again when the session ends.
struct KeepTypeahead(Option<Termios>);

impl KeepTypeahead {
    fn new() -> KeepTypeahead {
        let stdin = std::io::stdin();
        let Ok(original) = tcgetattr(&stdin) else {
            return KeepTypeahead(None);
        };
        let mut keep = original.clone();
        keep.local_flags |= LocalFlags::NOFLSH;
        match tcsetattr(&stdin, SetArg::TCSANOW, &keep) {
            Ok(()) => KeepTypeahead(Some(original)),
            Err(_) => KeepTypeahead(None),
        }
    }
}

impl Drop for KeepTypeahead {
    fn drop(&mut self) {
        if let Some(original) = &self.0 {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, original);
        }
    }
}

/// ~/.local/state/plumb/history (or under $XDG_STATE_HOME).
fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("plumb/history"))
}

impl Repl {
    fn interactive(&mut self) -> Result<()> {
        let mut functions: BTreeSet<String> = script::reference(&self.engine)
            .into_iter()
            .map(|f| f.name)
            .collect();
        functions.extend(
            script::stdlib::reference(&self.engine)
                .into_iter()
                .map(|f| f.name),
        );
        let helper = helper::ReplHelper {
            session: self.session.clone(),
            functions,
            variables: self.variables.clone(),
        };
        let mut editor: Editor<helper::ReplHelper, DefaultHistory> = Editor::new()
            .map_err(|e| Error::io("start the line editor", std::io::Error::other(e)))?;
        editor.set_helper(Some(helper));
        let history = history_path();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        let _typeahead = KeepTypeahead::new();
        loop {
            if commands::terminated_by().is_some() {
                break;
            }
            match editor.readline("plumb> ") {
                Ok(line) => {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let _ = editor.add_history_entry(line.as_str());
                    if !self.handle(&line)? {
                        break;
                    }
                }
                // SIGTERM, or the terminal went (SIGHUP): leave as on Ctrl-D.
                Err(ReadlineError::Interrupted) if commands::terminated_by().is_some() => break,
                // Ctrl-C: drop the current input, keep the session.
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                // A terminal that is gone cannot be read: the session ends
                // as on Ctrl-D, so --rollback-on-exit still rolls back.
                Err(e) => {
                    eprintln!("plumb: cannot read the terminal ({e}): the session ends");
                    break;
                }
            }
        }
        if let Some(path) = &history {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = editor.save_history(path);
        }
        Ok(())
    }

    /// Statements from a pipe: no prompt; a statement may span lines.
    fn piped(&mut self) -> Result<()> {
        let mut pending = String::new();
        // Lines come from a thread: a signal must end the session even while
        // the pipe has nothing to read.
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            if commands::terminated_by().is_some() {
                return Ok(());
            }
            let line = match lines.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(line) => line,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let line = line.map_err(|e| Error::io("read standard input", e))?;
            if pending.is_empty() && line.trim().is_empty() {
                continue;
            }
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending += &line;
            if pending.trim_start().starts_with(':') || input::is_complete(&pending) {
                let text = std::mem::take(&mut pending);
                if !self.handle(&text)? {
                    return Ok(());
                }
            }
        }
        if !pending.trim().is_empty() {
            self.handle(&pending)?;
        }
        Ok(())
    }

    /// One input: a meta-command or a statement. False means leave.
    fn handle(&mut self, text: &str) -> Result<bool> {
        let trimmed = text.trim();
        if let Some(command) = trimmed.strip_prefix(':') {
            return self.meta(command);
        }
        self.statement(text);
        Ok(self.exit_code.is_none())
    }

    fn checkpoint(&self) -> u64 {
        self.session
            .borrow()
            .journal()
            .and_then(|j| j.entries().last().map(|e| e.seq))
            .unwrap_or(0)
    }

    /// Run a statement atomically: on error, undo what it changed.
    fn statement(&mut self, text: &str) -> bool {
        INTERRUPTED.store(false, Ordering::Relaxed);
        let after = self.checkpoint();
        let result = self.evaluate(text);
        match result {
            Ok(value) => {
                self.statements.push(Statement {
                    text: text.to_string(),
                    after,
                    last: self.checkpoint(),
                });
                *self.variables.borrow_mut() = self
                    .scope
                    .iter()
                    .map(|(name, ..)| name.to_string())
                    .collect();
                if !value.is_unit() {
                    println!("=> {}", show::show(&self.engine, &value));
                }
                true
            }
            Err(err) => {
                self.any_failed = true;
                print_error(text, &err);
                match self.session.borrow_mut().undo_after(after) {
                    Ok(r) if r.undone == 0 => {}
                    Ok(r) => eprintln!("undid the {} change(s) this statement made", r.undone),
                    Err(e) => eprintln!("undoing this statement: {e}"),
                }
                false
            }
        }
    }

    fn evaluate(&mut self, text: &str) -> std::result::Result<Dynamic, ScriptError> {
        let engine = &self.engine;
        let locate = |e: &rhai::EvalAltResult| ScriptError::from_rhai(engine, "<input>", e);
        self.api.add_source("<input>", text);
        let mut ast = self
            .engine
            .compile_with_scope(&self.scope, text)
            .map_err(|e| locate(&e.into()))?;
        ast.set_source("<input>");
        let with_functions = self.functions.merge(&ast);
        let value = match engine.eval_ast_with_scope::<Dynamic>(&mut self.scope, &with_functions) {
            Ok(value) => value,
            // exit(N) ends the session after this statement, which keeps its changes.
            Err(e) => match script::exit_request(&e) {
                Some(code) => {
                    self.exit_code = Some(code);
                    Dynamic::UNIT
                }
                None => return Err(locate(&e)),
            },
        };
        let flushed = self.session.borrow_mut().settle();
        flushed.map_err(|f| ScriptError {
            file: "<input>".into(),
            position: f.origin.as_ref().map_or(Position::NONE, |o| {
                Position::new(o.line as u16, o.column as u16)
            }),
            message: f.error.to_string(),
        })?;
        self.functions = self.functions.merge(&ast.clone_functions_only());
        self.keep_imports(text);
        Ok(value)
    }

    /// Imports last only as long as one evaluation: register each imported
    /// module under its alias so later statements still see it. The statement
    /// already ran, so its real imports resolve; a match that does not (the
    /// words inside a string) was no import and is passed over.
    fn keep_imports(&mut self, text: &str) {
        for (path, alias) in imports(text) {
            let resolver = self.engine.module_resolver();
            if let Ok(module) = resolver.resolve(&self.engine, None, &path, Position::NONE) {
                self.engine.register_static_module(alias, module);
            }
        }
    }

    fn meta(&mut self, command: &str) -> Result<bool> {
        let (name, arg) = match command.split_once(char::is_whitespace) {
            Some((n, a)) => (n, a.trim()),
            None => (command, ""),
        };
        match name {
            "quit" | "q" | "exit" => return Ok(false),
            "help" | "h" => self.help(arg),
            "journal" => self.print_journal(),
            "undo" => {
                let n = if arg.is_empty() {
                    Ok(1)
                } else {
                    arg.parse::<usize>()
                };
                match n {
                    Ok(n) if n > 0 => self.undo_statements(n),
                    _ => eprintln!(":undo takes a positive number of statements, like :undo 2"),
                }
            }
            "rollback" => self.rollback(),
            "save" if !arg.is_empty() => self.save(Path::new(arg)),
            "load" if !arg.is_empty() => self.load(Path::new(arg)),
            "show" => self.show(arg),
            "graph" => self.graph(arg),
            "save" | "load" => eprintln!(":{name} needs a file name, like :{name} topology.rhai"),
            _ => eprintln!("unknown command :{name}; :help lists the commands"),
        }
        Ok(true)
    }

    fn help(&self, name: &str) {
        let mut docs = script::reference(&self.engine);
        docs.extend(script::stdlib::reference(&self.engine));
        if name.is_empty() {
            println!("Meta-commands:");
            println!("  :help [NAME]   functions, or one function's signature and doc");
            println!("  :journal       this session's changes, as ip/iptables commands");
            println!(
                "  :undo [N]      undo the last N statements that changed something (default 1)"
            );
            println!("  :rollback      undo every change of the session");
            println!(
                "  :save FILE     write the statements whose changes are in place as a script"
            );
            println!("  :load FILE     run a script into the session");
            println!("  :show [NS]     links, addresses and routes of a namespace (default: host)");
            println!("  :graph [FILE]  draw what the session made: FILE.svg, .dot, .mmd or .json (Mermaid text without FILE)");
            println!("  :quit          leave (changes stay; Ctrl-D too; exit(N) in a statement too, status N)");
            let names: BTreeSet<&str> = docs.iter().map(|d| d.name.as_str()).collect();
            println!("Functions (:help NAME for one):");
            println!("  {}", names.into_iter().collect::<Vec<_>>().join(" "));
            return;
        }
        let found: Vec<_> = docs.iter().filter(|d| d.name == name).collect();
        if found.is_empty() {
            println!("no function named {name}; :help lists them");
        }
        for d in found {
            println!("{}\n    {}", d.signature, d.doc);
        }
    }

    fn print_journal(&self) {
        let session = self.session.borrow();
        let Some(journal) = session.journal() else {
            return;
        };
        if journal.entries().is_empty() {
            println!("no changes yet");
        }
        for line in journal.describe_entries() {
            println!("{line}");
        }
    }

    /// Undo the last `n` statements whose changes are in place, whole.
    fn undo_statements(&mut self, n: usize) {
        let from = {
            let session = self.session.borrow();
            let journal = session.journal().expect("a REPL session has a journal");
            let changed: Vec<&Statement> = self
                .statements
                .iter()
                .filter(|s| s.live(journal).0 > 0)
                .collect();
            if changed.is_empty() {
                println!("nothing to undo");
                return;
            }
            changed[changed.len() - n.min(changed.len())].after
        };
        self.undo_after(from);
    }

    fn rollback(&mut self) {
        self.undo_after(0);
    }

    /// Undo every change after journal entry `after`, then forget the
    /// statements that no longer stand whole (see [`Statement`]).
    fn undo_after(&mut self, after: u64) {
        match self.session.borrow_mut().undo_after(after) {
            Ok(report) if report.undone == 0 => println!("nothing to undo"),
            Ok(report) => println!("undid {} change(s)", report.undone),
            Err(e) => eprintln!("{e}"),
        }
        let session = self.session.borrow();
        let journal = session.journal().expect("a REPL session has a journal");
        self.statements.retain(|s| {
            let (live, all) = s.live(journal);
            if live > 0 && live < all {
                eprintln!(
                    "{live} of the {all} changes of `{}` are still in place; :save leaves the statement out",
                    s.text.trim()
                );
            }
            live == all
        });
    }

    fn save(&self, path: &Path) {
        let mut text = String::from("// Saved from a plumb repl session.\n");
        for s in &self.statements {
            text += s.text.trim_end();
            if !text.ends_with(';') && !text.ends_with('}') {
                text.push(';');
            }
            text.push('\n');
        }
        match std::fs::write(path, text) {
            Ok(()) => println!(
                "wrote {} statement(s) to {}",
                self.statements.len(),
                path.display()
            ),
            Err(e) => eprintln!("cannot write {}: {e}", path.display()),
        }
    }

    fn load(&mut self, path: &Path) {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                if self.statement(&text) {
                    println!("loaded {}", path.display());
                }
            }
            Err(e) => eprintln!("cannot read {}: {e}", path.display()),
        }
    }

    /// `:show [NS]`: links with their addresses, then routes.
    fn show(&self, name: &str) {
        let ns = match name {
            "" | "host" => NsRef::Host,
            n => NsRef::Named(n.to_string()),
        };
        let session = self.session.borrow();
        let k = session.inspect();
        let (links, addrs, routes) = match (k.links(&ns), k.addrs(&ns), k.routes(&ns)) {
            (Ok(l), Ok(a), Ok(r)) => (l, a, r),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
                eprintln!("{e}");
                return;
            }
        };
        let name_of = |index: u32| {
            links
                .iter()
                .find(|l| l.index == index)
                .map_or(format!("#{index}"), |l| l.name.clone())
        };
        println!(
            "{:<16} {:<8} {:<5} {:>6}  {:<12} ADDRESSES",
            "LINK", "KIND", "STATE", "MTU", "MASTER"
        );
        for l in &links {
            let addresses: Vec<String> = addrs
                .iter()
                .filter(|a| a.index == l.index)
                .map(|a| a.addr.to_string())
                .collect();
            println!(
                "{:<16} {:<8} {:<5} {:>6}  {:<12} {}",
                l.name,
                if l.kind.is_empty() { "-" } else { &l.kind },
                if l.up { "up" } else { "down" },
                l.mtu,
                l.master.map_or("-".into(), name_of),
                addresses.join(" ")
            );
        }
        println!("ROUTES");
        for r in routes.iter().filter(|r| r.table == MAIN_TABLE) {
            let dest = r.dest.map_or("default".into(), |d| d.to_string());
            let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
            let dev = r
                .dev
                .map(|d| format!(" dev {}", name_of(d)))
                .unwrap_or_default();
            println!("  {dest}{via}{dev}");
        }
    }

    /// `:graph [FILE]`: what the session made, drawn as `plumb graph RUN` draws a run.
    fn graph(&self, file: &str) {
        let session = self.session.borrow();
        let journal = session.journal().expect("a REPL session has a journal");
        let graph = crate::graph::model::from_runs(&[journal]);
        if file.is_empty() {
            print!("{}", crate::graph::mermaid::render(&graph));
            return;
        }
        let path = Path::new(file);
        let format = graph_command::format_of(path).unwrap_or(GraphFormat::Svg);
        let drawn = graph_command::render(&graph, format, Renderer::Builtin)
            .and_then(|text| graph_command::write(&text, Some(path)));
        match drawn {
            Ok(()) => println!("drew the session's network to {file}"),
            Err(e) => eprintln!("{e}"),
        }
    }

    fn finish(&mut self, rollback: bool) -> Result<()> {
        let mut session = self.session.borrow_mut();
        if rollback {
            let undone = session.undo_after(0);
            session.finish(true)?;
            match undone {
                Ok(r) => eprintln!("plumb: undid the session's {} change(s)", r.undone),
                Err(e) => eprintln!("plumb: {e}"),
            }
        } else {
            session.finish(false)?;
        }
        let journal = session.journal().expect("a REPL session has a journal");
        let live = journal.live_changes();
        if live == 0 {
            journal.discard()?;
        } else {
            eprintln!(
                "plumb: session {} keeps {live} change(s); {}",
                journal.run_id,
                crate::sandbox::undo_hint(&journal.run_id)
            );
        }
        let _ = std::io::stdout().flush();
        Ok(())
    }
}

/// `import "PATH" as ALIAS` statements in a text.
fn imports(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("import") {
        rest = &rest[i + "import".len()..];
        let Some(quoted) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some((path, after)) = quoted.split_once('"') else {
            break;
        };
        let Some(alias_part) = after.trim_start().strip_prefix("as") else {
            continue;
        };
        let alias: String = alias_part
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !alias.is_empty() {
            found.push((path.to_string(), alias));
        }
    }
    found
}

/// The error, with the statement's line and a caret under the position.
fn print_error(text: &str, err: &ScriptError) {
    let mut out = std::io::stderr().lock();
    if let (Some(line), Some(col)) = (err.position.line(), err.position.position()) {
        if let Some(source) = text.lines().nth(line - 1) {
            let _ = writeln!(out, "  {source}");
            let _ = writeln!(
                out,
                "  {}^ {}",
                " ".repeat(col.saturating_sub(1)),
                err.message
            );
            return;
        }
    }
    let _ = writeln!(out, "error: {}", err.message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_found_with_their_aliases() {
        let text = "import \"check\" as check;\nlet x = 1; import \"../lib/x\" as my_x;";
        assert_eq!(
            imports(text),
            vec![
                ("check".into(), "check".into()),
                ("../lib/x".into(), "my_x".into())
            ]
        );
        assert!(imports("let important = 1;").is_empty());
    }
}
