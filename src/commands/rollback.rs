//! `plumb rollback RUN | --last | --all`: undo runs from their journals.

use crate::error::{Error, Result};
use crate::progress::{Activity, Progress};
use plumb_journal::{undo, Error as JournalError, Journal, Status, UndoOptions};
use plumb_kernel::Kernel;

/// Which runs `plumb rollback` undoes.
pub enum Which {
    Run(String),
    Last,
    All,
}

/// The runs to roll back, newest first, the first one loaded (a journal
/// of a big run takes a while to read: not twice).
fn chosen(which: Which) -> Result<(Option<Journal>, Vec<String>)> {
    if let Which::Run(id) = which {
        return Ok((None, vec![id]));
    }
    let journals = Journal::list()?;
    for j in journals.iter().filter(|j| j.status() == Status::Unreadable) {
        eprintln!(
            "plumb: journal {} is unreadable (empty, or written on a full disk): nothing can be undone from it; `plumb gc` finds what plumb made without a journal",
            j.run_id
        );
    }
    let mut pending: Vec<&Journal> = journals
        .iter()
        .filter(|j| j.status().needs_rollback())
        .collect();
    pending.reverse();
    if pending.is_empty() {
        let running: Vec<String> = journals
            .iter()
            .filter(|j| j.status() == Status::Running)
            .map(|j| format!("{} (pid {})", j.run_id, j.pid()))
            .collect();
        if running.is_empty() {
            eprintln!("plumb: no run has changes left to undo");
        } else {
            eprintln!(
                "plumb: no finished run has changes left to undo; still running: {} (stop it, or `plumb rollback --force RUN`)",
                running.join(", ")
            );
        }
        return Ok((None, Vec::new()));
    }
    let n = if matches!(which, Which::Last) {
        1
    } else {
        pending.len()
    };
    let ids: Vec<String> = pending
        .into_iter()
        .take(n)
        .map(|j| j.run_id.clone())
        .collect();
    let first = journals.into_iter().find(|j| j.run_id == ids[0]);
    Ok((first, ids))
}

/// True when every chosen run is fully rolled back.
pub fn rollback(which: Which, force: bool, kill: bool) -> Result<bool> {
    let (mut loaded, ids) = chosen(which)?;
    let kernel = Kernel::new()?;
    let mut clean = true;
    for id in ids {
        // The others are read afresh: runs before them were being undone.
        let mut journal = match loaded.take() {
            Some(j) => j,
            None => Journal::load(&id)?,
        };
        match journal.status() {
            Status::Running if !force => {
                return Err(JournalError::Running {
                    run: id,
                    pid: journal.pid(),
                }
                .into())
            }
            Status::RolledBack => {
                eprintln!("plumb: run {id} is already rolled back");
                continue;
            }
            Status::Unreadable => {
                eprintln!(
                    "plumb: run {id}: its journal is unreadable; nothing can be undone from it"
                );
                clean = false;
                continue;
            }
            Status::Running | Status::Applied | Status::Incomplete => {}
        }
        let total = journal.live_changes();
        let progress = Progress::watch(journal.path(), Activity::Undo { total });
        let outcome = undo::rollback(&mut journal, &kernel, force, UndoOptions { kill });
        drop(progress);
        match outcome {
            Ok(report) => {
                for note in &report.notes {
                    eprintln!("plumb: {note}");
                }
                eprintln!("plumb: rolled back run {id} ({} change(s))", report.undone);
            }
            Err(e @ JournalError::InUse { .. }) => return Err(Error::Journal(e)),
            Err(e) => {
                clean = false;
                eprintln!(
                    "plumb: run {id}: {e}\nplumb: fix what is named above and run `plumb rollback {id}` again"
                );
            }
        }
    }
    Ok(clean)
}
