//! A counter on standard error while a run makes or undoes many changes
//! (a W1000 build, a 10k-rule batch, a big rollback): only on a terminal,
//! never in a pipe or a CI log, and only once the work has taken a while.
//!
//! It reads the run's journal, which records every change as it is made
//! (an op before the kernel sees it, `done` or `undone` after), so it
//! needs no hook in the session or in undo: a thread reads what was
//! appended since it last looked, ten times a second.

use std::fs::File;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Nothing is shown for work shorter than this.
const QUIET_FOR: Duration = Duration::from_millis(500);
const EVERY: Duration = Duration::from_millis(100);

/// What the watched journal is about to see.
#[derive(Clone, Copy)]
pub enum Activity {
    /// A run making changes (and, if it fails, undoing them).
    Apply,
    /// A rollback of a run with this many changes in place.
    Undo { total: usize },
}

/// Counts of a journal's records, from where the watch began.
#[derive(Default, PartialEq, Clone)]
struct Counts {
    done: usize,
    undone: usize,
    /// Rules of a firewall batch written but not yet done (in the kernel's hands).
    rules_in_flight: Option<usize>,
}

impl Counts {
    fn absorb(&mut self, line: &[u8]) {
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(line) else {
            return; // torn or foreign: the next look reads it whole
        };
        match record["t"].as_str() {
            Some("op") => {
                self.rules_in_flight = (record["op"]["op"] == "firewall")
                    .then(|| record["op"]["rules"].as_array().map_or(0, Vec::len));
            }
            Some("done") => {
                self.done += 1;
                self.rules_in_flight = None;
            }
            Some("failed") => self.rules_in_flight = None,
            Some("undone") => self.undone += 1,
            _ => {}
        }
    }

    fn text(&self, activity: Activity) -> String {
        match activity {
            Activity::Apply => {
                let mut text = format!("plumb: {} changes made so far", self.done);
                if let Some(n) = self.rules_in_flight {
                    text += &format!(", applying {n} firewall rules");
                }
                if self.undone > 0 {
                    text += &format!("; {} undone", self.undone);
                }
                text
            }
            Activity::Undo { total } => {
                format!("plumb: {} of {total} changes undone", self.undone)
            }
        }
    }
}

/// A counter shown while it lives; dropping it clears the line.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Is standard error a terminal a person watches (not a pipe, not CI)?
fn watched() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

impl Progress {
    /// Watch the journal at `path` from its current end, when a person is
    /// watching standard error; otherwise None (and nothing runs).
    pub fn watch(path: &Path, activity: Activity) -> Option<Progress> {
        if !watched() {
            return None;
        }
        let mut file = File::open(path).ok()?;
        file.seek(SeekFrom::End(0)).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || show(file, activity, &flag));
        Some(Progress {
            stop,
            thread: Some(thread),
        })
    }
}

fn show(mut file: File, activity: Activity, stop: &AtomicBool) {
    let started = Instant::now();
    let mut counts = Counts::default();
    let mut partial = Vec::new();
    let mut shown: Option<Counts> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(EVERY);
        let mut fresh = Vec::new();
        if file.read_to_end(&mut fresh).is_err() {
            break; // the journal went (a run that left nothing removes it)
        }
        partial.extend(fresh);
        // Whole records only; a record being written is read next time.
        if let Some(end) = partial.iter().rposition(|b| *b == b'\n') {
            for line in partial[..end].split(|b| *b == b'\n') {
                counts.absorb(line);
            }
            partial.drain(..=end);
        }
        if started.elapsed() >= QUIET_FOR && shown.as_ref() != Some(&counts) {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{}", counts.text(activity));
            let _ = err.flush();
            shown = Some(counts.clone());
        }
    }
    if shown.is_some() {
        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_count_as_changes_made_undone_and_rules_in_flight() {
        let mut c = Counts::default();
        for line in [
            r#"{"t":"begin","run":"r"}"#,
            r#"{"t":"op","seq":1,"op":{"op":"netns_add","name":"a"}}"#,
            r#"{"t":"done","seq":1}"#,
            r#"{"t":"op","seq":2,"op":{"op":"firewall","rules":[{},{},{}]}}"#,
        ] {
            c.absorb(line.as_bytes());
        }
        assert_eq!(
            c.text(Activity::Apply),
            "plumb: 1 changes made so far, applying 3 firewall rules"
        );
        c.absorb(br#"{"t":"done","seq":2}"#);
        c.absorb(br#"{"t":"undone","seq":2}"#);
        c.absorb(b"{\"t\":\"und"); // torn: ignored
        assert_eq!(
            c.text(Activity::Apply),
            "plumb: 2 changes made so far; 1 undone"
        );
        assert_eq!(
            c.text(Activity::Undo { total: 5 }),
            "plumb: 1 of 5 changes undone"
        );
    }
}
