//! `plumb run SCRIPT`: the batch runner. A failing script is rolled back
//! whole; its exit code says how it ended.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Position, Scope};

use crate::error::{Error, Result};
use crate::progress::{Activity, Progress};
use crate::script::{self, Params, ScriptError};
use plumb_journal::{Failure, Journal, Session};
use plumb_kernel::Kernel;

pub struct RunArgs {
    /// A file, or `-` for standard input.
    pub script: PathBuf,
    pub params: BTreeMap<String, String>,
    pub dry_run: bool,
}

/// How a run ended, for the exit code.
pub enum Outcome {
    Applied,
    /// The script failed (or ended with `exit(N)`, N ≠ 0) and its changes
    /// were undone, or the undo reported errors. The exit code to use.
    Failed(u8),
}

/// The script's text and the name its messages use.
fn read_script(path: &Path) -> Result<(String, String)> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::io("read the script from standard input", e))?;
        return Ok(("<stdin>".into(), text));
    }
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io(format!("read script {name}"), e))?;
    Ok((name, text))
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// A failure located where the script asked for the change; without an
/// origin, at the end of the script.
fn located(file: &str, f: Failure) -> ScriptError {
    match f.origin.map(|o| *o) {
        Some(o) => ScriptError {
            file: o.file,
            position: Position::new(o.line as u16, o.column as u16),
            message: f.error.to_string(),
        },
        None => ScriptError {
            file: file.into(),
            position: Position::NONE,
            message: format!("at the end of the script: {}", f.error),
        },
    }
}

/// How a script's evaluation ended: its session (to finish or undo), and
/// the located error with the exit code it asks for.
pub struct Evaluated {
    pub session: Session,
    pub result: std::result::Result<(), (ScriptError, u8)>,
}

/// Evaluate `source` (named `file`) in `session`: the core of `plumb run`
/// and of a CNI ADD. `prepare` may add to the engine and the scope before
/// the script runs (the `cni` value).
pub fn evaluate(
    file: &str,
    source: &str,
    session: Session,
    params: BTreeMap<String, String>,
    prepare: impl FnOnce(&mut rhai::Engine, &script::Api, &mut Scope<'static>),
) -> Evaluated {
    let session = Rc::new(RefCell::new(session));
    let (mut engine, api) = script::engine(session.clone(), Params::new(params));
    let mut scope = Scope::new();
    prepare(&mut engine, &api, &mut scope);
    api.add_source(file, source);
    super::stop_scripts_on_signals();

    let evaluated = engine
        .compile(source)
        .map_err(|e| e.into())
        .and_then(|mut ast| {
            // `import` and run_script() resolve relative paths from the script's directory.
            ast.set_source(file);
            engine.run_ast_with_scope(&mut scope, &ast)
        });
    let result: std::result::Result<(), (ScriptError, u8)> = match evaluated {
        Ok(()) => Ok(()),
        Err(e) => match script::exit_request(&e) {
            Some(0) => Ok(()),
            Some(code) => Err((ScriptError::from_rhai(&engine, file, &e), code)),
            None => Err((ScriptError::from_rhai(&engine, file, &e), 1)),
        },
    };
    let result = result.and_then(|()| {
        let flushed = session.borrow_mut().settle();
        flushed.map_err(|f| (located(file, f), 1))
    });
    if result.is_ok() {
        // A script that failed before reading its parameters did not miss them.
        for unused in api.params.borrow().unused() {
            eprintln!("plumb: warning: --set {unused}=... was not used by {file}");
        }
    }
    drop(scope);
    drop(engine);
    drop(api);
    let session = Rc::try_unwrap(session)
        .unwrap_or_else(|_| unreachable!("the engine and the API are dropped"))
        .into_inner();
    Evaluated { session, result }
}

/// Undo what a failed run made and close its journal, saying what happened
/// on standard error. True when nothing of it is left.
pub fn undo_failed(session: &mut Session) -> Result<bool> {
    let undoing = session.journal().and_then(|j| {
        let total = j.live_changes();
        Progress::watch(j.path(), Activity::Undo { total })
    });
    let undone = session.undo_after(0);
    drop(undoing);
    let id = session.run_id().unwrap_or("").to_string();
    if let (Err(e), false) = (session.finish(true), session.is_dry_run()) {
        // A full disk: the kernel is clean, the journal says less.
        eprintln!("plumb: {e}: `plumb rollback {id}` completes the journal's record");
    }
    match undone {
        Ok(report) => {
            for note in &report.notes {
                eprintln!("plumb: {note}");
            }
            match session.journal() {
                Some(j) if report.undone == 0 && j.live_changes() == 0 => j.discard()?,
                _ if report.undone > 0 => eprintln!(
                    "plumb: rolled back the {} change(s) run {id} had made",
                    report.undone
                ),
                _ => {}
            }
            Ok(true)
        }
        Err(e) => {
            eprintln!("plumb: {e}\nplumb: retry with: plumb rollback {id}");
            Ok(false)
        }
    }
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    let (file, source) = read_script(&args.script)?;
    if !args.dry_run {
        script::needs::preflight(&file, &source)?;
    }
    let kernel = Kernel::new()?;
    let session = if args.dry_run {
        Session::dry_run(kernel, Box::new(std::io::stdout()))
    } else {
        let origin = if file == "<stdin>" {
            file.clone()
        } else {
            canonical(&args.script)
        };
        Session::new(kernel, Journal::create(&origin, args.params.clone(), None)?)
    };
    let progress = session
        .journal()
        .and_then(|j| Progress::watch(j.path(), Activity::Apply));
    let Evaluated {
        mut session,
        result,
    } = evaluate(&file, &source, session, args.params, |_, _, _| {});
    drop(progress);
    match result {
        Ok(()) => {
            session.finish(false)?;
            if let Some(journal) = session.journal() {
                let changes = journal.live_changes();
                if changes == 0 {
                    journal.discard()?;
                } else {
                    eprintln!(
                        "plumb: run {} applied {changes} change(s); {}",
                        journal.run_id,
                        crate::sandbox::undo_hint(&journal.run_id)
                    );
                }
            }
            Ok(Outcome::Applied)
        }
        Err((err, code)) => {
            eprintln!("{err}");
            undo_failed(&mut session)?;
            Ok(Outcome::Failed(code))
        }
    }
}
