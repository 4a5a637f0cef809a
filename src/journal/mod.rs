//! The write-ahead journal: one JSON-lines file per run under /run/plumb
//! (`PLUMB_STATE_DIR` overrides). Each op is written (one write(2)) before it
//! reaches the kernel, so a killed run loses nothing; no fsync, because a
//! machine crash takes the network state with it, and /run is cleared then too.

mod op;
mod session;
mod undo;

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use op::{mark_of, shell_join, Op, Outcome};
pub use session::Session;
pub use undo::undo_after;

use crate::error::{Context, Error, Result};
use crate::kernel::{netns, process};

pub const DEFAULT_STATE_DIR: &str = "/run/plumb";

pub fn state_dir() -> PathBuf {
    std::env::var_os("PLUMB_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    Applied,
    RolledBack,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Record {
    Begin {
        run: String,
        source: String,
        pid: u32,
        pid_start: u64,
        host_netns: u64,
        started: u64,
    },
    Op {
        seq: u64,
        op: Op,
    },
    Done {
        seq: u64,
        #[serde(default)]
        outcome: Outcome,
    },
    Failed {
        seq: u64,
    },
    Undone {
        seq: u64,
    },
    End {
        status: EndStatus,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryState {
    /// Written, not known to have reached the kernel (in flight if the run died).
    Pending,
    Done,
    /// The kernel refused it: nothing to undo.
    Failed,
    Undone,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub seq: u64,
    pub op: Op,
    pub state: EntryState,
    pub outcome: Option<Outcome>,
}

/// What `plumb journal list` shows for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Applied,
    RolledBack,
    Incomplete,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Applied => "applied",
            Status::RolledBack => "rolled back",
            Status::Incomplete => "incomplete",
        }
    }

    /// Does the run still have changes in the kernel that `rollback` should undo?
    pub fn needs_rollback(self) -> bool {
        matches!(self, Status::Applied | Status::Incomplete)
    }
}

pub struct Journal {
    pub run_id: String,
    pub source: String,
    pub started: u64,
    path: PathBuf,
    file: File,
    entries: Vec<Entry>,
    pid: u32,
    pid_start: u64,
    host_netns: u64,
    ended: Option<EndStatus>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// UTC calendar date and time of a Unix time: (year, month, day, h, m, s).
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

pub fn format_time(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

fn run_id_for(secs: u64, pid: u32) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}-{pid}")
}

impl Journal {
    fn file_of(dir: &Path, run_id: &str) -> PathBuf {
        dir.join(format!("{run_id}.jsonl"))
    }

    /// Start a new run's journal. `source` says what made it (a script path, "repl").
    pub fn create(source: &str) -> Result<Journal> {
        let dir = state_dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .context(|| format!("create the journal directory {}", dir.display()))?;
        let pid = std::process::id();
        let started = now_secs();
        let base = run_id_for(started, pid);
        let (run_id, path, file) = (0..100)
            .find_map(|n| {
                let id = if n == 0 {
                    base.clone()
                } else {
                    format!("{base}.{n}")
                };
                let path = Self::file_of(&dir, &id);
                OpenOptions::new()
                    .append(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .ok()
                    .map(|f| (id, path, f))
            })
            .ok_or_else(|| {
                Error::Journal(format!("cannot create a journal file in {}", dir.display()))
            })?;
        let mut journal = Journal {
            run_id,
            source: source.into(),
            started,
            path,
            file,
            entries: Vec::new(),
            pid,
            pid_start: process::start_time(pid).unwrap_or(0),
            host_netns: netns::host_inode()?,
            ended: None,
        };
        journal.write(&Record::Begin {
            run: journal.run_id.clone(),
            source: journal.source.clone(),
            pid,
            pid_start: journal.pid_start,
            host_netns: journal.host_netns,
            started,
        })?;
        Ok(journal)
    }

    /// Load a run's journal, to show it or to roll it back.
    pub fn load(run_id: &str) -> Result<Journal> {
        let dir = state_dir();
        let path = Self::file_of(&dir, run_id);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::Journal(format!(
                        "no run '{run_id}' in {} (see `plumb journal list`)",
                        dir.display()
                    ))
                } else {
                    Error::io(format!("open {}", path.display()), e)
                }
            })?;
        let mut journal = Journal {
            run_id: run_id.into(),
            source: String::new(),
            started: 0,
            path: path.clone(),
            file: file.try_clone().context(|| "dup journal fd".into())?,
            entries: Vec::new(),
            pid: 0,
            pid_start: 0,
            host_netns: 0,
            ended: None,
        };
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.context(|| format!("read {}", path.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            // A run killed mid-write leaves a torn last line: it never reached the kernel.
            let Ok(record) = serde_json::from_str::<Record>(&line) else {
                eprintln!(
                    "plumb: {}:{}: skipping unreadable journal line",
                    path.display(),
                    n + 1
                );
                continue;
            };
            journal.absorb(record);
        }
        Ok(journal)
    }

    fn absorb(&mut self, record: Record) {
        match record {
            Record::Begin {
                run,
                source,
                pid,
                pid_start,
                host_netns,
                started,
            } => {
                self.run_id = run;
                self.source = source;
                self.pid = pid;
                self.pid_start = pid_start;
                self.host_netns = host_netns;
                self.started = started;
            }
            Record::Op { seq, op } => self.entries.push(Entry {
                seq,
                op,
                state: EntryState::Pending,
                outcome: None,
            }),
            Record::Done { seq, outcome } => {
                if let Some(e) = self.entry_mut(seq) {
                    e.state = EntryState::Done;
                    e.outcome = Some(outcome);
                }
            }
            Record::Failed { seq } => self.set_state(seq, EntryState::Failed),
            Record::Undone { seq } => self.set_state(seq, EntryState::Undone),
            Record::End { status } => self.ended = Some(status),
        }
    }

    /// Entries are numbered 1, 2, ... in order, so entry `seq` sits at `seq - 1`.
    fn entry_mut(&mut self, seq: u64) -> Option<&mut Entry> {
        let index = usize::try_from(seq).ok()?.checked_sub(1)?;
        self.entries.get_mut(index).filter(|e| e.seq == seq)
    }

    fn set_state(&mut self, seq: u64, state: EntryState) {
        if let Some(e) = self.entry_mut(seq) {
            e.state = state;
        }
    }

    fn write(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("journal records serialize");
        line.push(b'\n');
        // One write(2): a record reaches the file whole or (if killed) torn at the end.
        self.file
            .write_all(&line)
            .context(|| format!("write the journal {}", self.path.display()))
    }

    /// Record an op before it is applied; returns its sequence number.
    pub fn record(&mut self, op: Op) -> Result<u64> {
        let seq = self.entries.last().map_or(1, |e| e.seq + 1);
        self.write(&Record::Op {
            seq,
            op: op.clone(),
        })?;
        self.entries.push(Entry {
            seq,
            op,
            state: EntryState::Pending,
            outcome: None,
        });
        self.ended = None;
        Ok(seq)
    }

    pub fn done(&mut self, seq: u64, outcome: Outcome) -> Result<()> {
        self.write(&Record::Done {
            seq,
            outcome: outcome.clone(),
        })?;
        if let Some(e) = self.entry_mut(seq) {
            e.state = EntryState::Done;
            e.outcome = Some(outcome);
        }
        Ok(())
    }

    pub fn failed(&mut self, seq: u64) -> Result<()> {
        self.write(&Record::Failed { seq })?;
        self.set_state(seq, EntryState::Failed);
        Ok(())
    }

    pub fn undone(&mut self, seq: u64) -> Result<()> {
        self.write(&Record::Undone { seq })?;
        self.set_state(seq, EntryState::Undone);
        Ok(())
    }

    pub fn end(&mut self, status: EndStatus) -> Result<()> {
        self.write(&Record::End { status })?;
        self.ended = Some(status);
        Ok(())
    }

    /// Remove the journal of a run that left nothing in the kernel.
    pub fn discard(&self) -> Result<()> {
        fs::remove_file(&self.path).context(|| format!("remove {}", self.path.display()))
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// One line per command: sequence number, state, and the op's shell equivalent.
    pub fn describe_entries(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for e in &self.entries {
            let state = match e.state {
                EntryState::Pending => "in flight",
                EntryState::Done => "applied",
                EntryState::Failed => "failed",
                EntryState::Undone => "undone",
            };
            for (i, command) in e.op.shell().iter().enumerate() {
                if i == 0 {
                    lines.push(format!("{:>4}  {:<9}  {command}", e.seq, state));
                } else {
                    lines.push(format!("{:>4}  {:<9}  {command}", "", ""));
                }
            }
        }
        lines
    }

    /// Changes still in the kernel (done, or in flight).
    pub fn live_changes(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, EntryState::Done | EntryState::Pending))
            .count()
    }

    pub fn is_own(&self) -> bool {
        self.pid == std::process::id()
    }

    pub fn status(&self) -> Status {
        if self.live_changes() == 0 && !self.entries.is_empty() {
            return Status::RolledBack;
        }
        match self.ended {
            Some(EndStatus::RolledBack) => Status::RolledBack,
            Some(EndStatus::Applied) => Status::Applied,
            None if self.is_own() || process::start_time(self.pid) == Some(self.pid_start) => {
                Status::Running
            }
            None => Status::Incomplete,
        }
    }

    /// Rollback acts in the namespace plumb ran in; refuse from anywhere else.
    pub fn check_same_host(&self) -> Result<()> {
        let here = netns::host_inode()?;
        if here != self.host_netns {
            return Err(Error::Journal(format!(
                "run {} was made from another network namespace (inode {}, this is {here}); run the rollback from there",
                self.run_id, self.host_netns
            )));
        }
        Ok(())
    }

    /// Every journal in the state directory, oldest first.
    pub fn list() -> Result<Vec<Journal>> {
        let dir = state_dir();
        let mut ids: Vec<String> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".jsonl").map(str::to_string))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
        };
        ids.sort();
        ids.iter().map(|id| Journal::load(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_time() {
        assert_eq!(run_id_for(0, 7), "19700101-000000-7");
        assert_eq!(format_time(1_795_395_176), "2026-11-23 00:52:56");
        assert!(run_id_for(1_795_395_176, 9) < run_id_for(1_795_395_177, 1));
    }

    #[test]
    fn records_round_trip() {
        let r = Record::Done {
            seq: 3,
            outcome: Outcome {
                inode: Some(4026532000),
                ..Default::default()
            },
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"t":"done","seq":3,"outcome":{"inode":4026532000}}"#
        );
        assert!(matches!(
            serde_json::from_str::<Record>(&text).unwrap(),
            Record::Done { seq: 3, .. }
        ));
    }
}
