//! The batch runner (`plumb run`) and the journal commands (`plumb rollback`,
//! `plumb journal list|show`). A failing script is rolled back whole.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::{Error, Result};
use crate::journal::{self, Journal, Session, Status};
use crate::kernel::Kernel;
use crate::script::{self, Params, ScriptError};

extern "C" fn on_signal(_: libc::c_int) {
    script::INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C or SIGTERM stops the script between operations, and it is rolled back.
pub fn stop_scripts_on_signals() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

pub struct RunArgs {
    pub script: PathBuf,
    pub params: BTreeMap<String, String>,
    pub dry_run: bool,
}

/// How a run ended, for the exit code.
pub enum Outcome {
    Applied,
    /// The script failed and its changes were undone (or the undo reported errors).
    Failed,
}

pub fn run(args: RunArgs) -> Result<Outcome> {
    let file = args.script.display().to_string();
    let source = std::fs::read_to_string(&args.script)
        .map_err(|e| Error::io(format!("read script {file}"), e))?;
    let kernel = Kernel::new()?;
    let session = if args.dry_run {
        Session::dry_run(kernel, Box::new(std::io::stdout()))
    } else {
        Session::new(kernel, Journal::create(&canonical(&args.script))?)
    };
    let session = Rc::new(RefCell::new(session));
    let (engine, api) = script::engine(session.clone(), Params::new(args.params));
    stop_scripts_on_signals();

    let result = engine
        .compile(&source)
        .map_err(|e| e.into())
        .and_then(|mut ast| {
            // `import` and run_script() resolve relative paths from the script's directory.
            ast.set_source(file.as_str());
            engine.run_ast(&ast)
        })
        .map_err(|e| ScriptError::from_rhai(&file, &e))
        .and_then(|()| {
            session.borrow_mut().flush().map_err(|e| ScriptError {
                file: file.clone(),
                position: rhai::Position::NONE,
                message: format!("at the end of the script: {e}"),
            })
        });
    for unused in api.params.borrow().unused() {
        eprintln!("plumb: warning: --set {unused}=... was not used by {file}");
    }
    drop(engine);
    drop(api);
    let mut session = Rc::try_unwrap(session)
        .map_err(|_| Error::Journal("the script engine still holds the session".into()))?
        .into_inner();
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
        Err(err) => {
            eprintln!("{err}");
            let undone = session.undo_after(0);
            session.finish(true)?;
            let id = session.run_id().unwrap_or("").to_string();
            match undone {
                Ok(0) => {
                    if let Some(j) = session.journal() {
                        j.discard()?;
                    }
                }
                Ok(n) => eprintln!("plumb: rolled back the {n} change(s) run {id} had made"),
                Err(e) => eprintln!("plumb: {e}\nplumb: retry with: plumb rollback {id}"),
            }
            Ok(Outcome::Failed)
        }
    }
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Which runs `plumb rollback` undoes.
pub enum Which {
    Run(String),
    Last,
    All,
}

pub fn rollback(which: Which, force: bool) -> Result<bool> {
    let ids: Vec<String> = match which {
        Which::Run(id) => vec![id],
        Which::Last | Which::All => {
            let mut pending: Vec<Journal> = Journal::list()?
                .into_iter()
                .filter(|j| j.status().needs_rollback())
                .collect();
            pending.reverse();
            if pending.is_empty() {
                eprintln!("plumb: no run has changes left to undo");
                return Ok(true);
            }
            let n = if matches!(which, Which::Last) {
                1
            } else {
                pending.len()
            };
            pending.into_iter().take(n).map(|j| j.run_id).collect()
        }
    };
    let kernel = Kernel::new()?;
    let mut clean = true;
    for id in ids {
        let mut journal = Journal::load(&id)?;
        journal.check_same_host()?;
        match journal.status() {
            Status::Running if !force => {
                return Err(Error::Journal(format!(
                    "run {id} is still running (pid alive); stop it first, or pass --force"
                )))
            }
            Status::RolledBack => {
                eprintln!("plumb: run {id} is already rolled back");
                continue;
            }
            _ => {}
        }
        match journal::undo_after(&mut journal, &kernel, 0) {
            Ok(n) => {
                journal.end(journal::EndStatus::RolledBack)?;
                eprintln!("plumb: rolled back run {id} ({n} change(s))");
            }
            Err(e) => {
                clean = false;
                eprintln!("plumb: run {id}: {e}\nplumb: fix what is named above and run `plumb rollback {id}` again");
            }
        }
    }
    Ok(clean)
}

pub fn journal_list() -> Result<()> {
    let runs = Journal::list()?;
    if runs.is_empty() {
        println!("no runs in {}", journal::state_dir().display());
        return Ok(());
    }
    println!(
        "{:<26} {:<12} {:>7}  {:<19}  SOURCE",
        "RUN", "STATUS", "CHANGES", "STARTED (UTC)"
    );
    for j in runs {
        println!(
            "{:<26} {:<12} {:>7}  {:<19}  {}",
            j.run_id,
            j.status().as_str(),
            j.live_changes(),
            journal::format_time(j.started),
            j.source
        );
    }
    Ok(())
}

pub fn journal_show(id: &str) -> Result<()> {
    let j = Journal::load(id)?;
    println!(
        "run {} ({}), from {}, started {} UTC",
        j.run_id,
        j.status().as_str(),
        j.source,
        journal::format_time(j.started)
    );
    for line in j.describe_entries() {
        println!("{line}");
    }
    Ok(())
}
