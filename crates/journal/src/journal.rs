//! The write-ahead journal: one JSON-lines file per run under /run/plumb
//! (`PLUMB_STATE_DIR` overrides). Each op is written (one write(2)) before it
//! reaches the kernel, so a killed run loses nothing; no fsync, because a
//! machine crash takes the network state with it, and /run is cleared then
//! too. A write that fails (a full disk) is cut back off the file, and stops
//! the run before its change; progress that cannot be written while undoing
//! is kept in memory and written when it can be.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lock::StateLock;
use crate::op::{Op, Outcome};
use plumb_kernel::{netns, process};

pub const DEFAULT_STATE_DIR: &str = "/run/plumb";

pub fn state_dir() -> PathBuf {
    std::env::var_os("PLUMB_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// The state directory, mode 0700 (journals name what runs did).
pub(crate) fn ensure_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::state(format!("create the state directory {}", dir.display()), e))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndStatus {
    Applied,
    RolledBack,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Record {
    Begin {
        run: String,
        source: String,
        pid: u32,
        pid_start: u64,
        host_netns: u64,
        started: u64,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, String>,
        /// What the run is for, when something finds runs by it (a CNI attachment).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    Op {
        seq: u64,
        op: Op,
        /// Where the script asked for it: `FILE:LINE`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
        /// The op's shared-object key, in plain text so that other runs find
        /// the journals that share an object without parsing every one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shared: Option<String>,
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
    /// A rollback began: other runs may no longer start using this run's objects.
    Leaving,
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

impl EntryState {
    /// Still (possibly) in the kernel.
    pub fn is_live(self) -> bool {
        matches!(self, EntryState::Pending | EntryState::Done)
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub seq: u64,
    pub op: Op,
    pub state: EntryState,
    pub outcome: Option<Outcome>,
    pub at: Option<String>,
}

#[cfg(test)]
impl Entry {
    /// An entry whose op was applied, for the undo planner's and the drift
    /// check's tests.
    pub(crate) fn done(seq: u64, op: Op) -> Entry {
        Entry {
            seq,
            op,
            state: EntryState::Done,
            outcome: None,
            at: None,
        }
    }
}

/// What `plumb journal list` shows for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Applied,
    RolledBack,
    /// Its process died mid-run, or a rollback could not finish.
    Incomplete,
    /// Empty or without a readable beginning: nothing can be undone from it.
    Unreadable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Applied => "applied",
            Status::RolledBack => "rolled back",
            Status::Incomplete => "incomplete",
            Status::Unreadable => "unreadable",
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
    pub params: BTreeMap<String, String>,
    pub key: Option<String>,
    path: PathBuf,
    file: File,
    /// Bytes of the file known to be whole records.
    len: u64,
    entries: Vec<Entry>,
    pid: u32,
    pid_start: u64,
    host_netns: u64,
    ended: Option<EndStatus>,
    leaving: bool,
    /// Lines (1-based) that could not be read: what they said may remain.
    unreadable: Vec<usize>,
    /// Records that could not be written (a full disk), oldest first.
    unwritten: Vec<Record>,
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

/// `DATE-TIME-N`: N counts the runs of this state directory, so ids sort by
/// when their runs began, whatever the pids and however many per second.
fn run_id_for(secs: u64, number: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}-{number}")
}

/// The number at the end of a run id (its place in the order of runs).
pub fn run_number(run_id: &str) -> Option<u64> {
    run_id.rsplit('-').next()?.parse().ok()
}

/// The next run number: one more than the last handed out (kept in
/// `STATE_DIR/last-run`), and than any journal present. Under the lock.
fn next_run_number(dir: &Path) -> Result<u64> {
    let counter = dir.join("last-run");
    let last = fs::read_to_string(&counter)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let highest = journal_ids(dir)?
        .iter()
        .filter_map(|id| run_number(id))
        .max()
        .unwrap_or(0);
    let next = last.max(highest) + 1;
    fs::write(&counter, next.to_string())
        .map_err(|e| Error::state(format!("write {}", counter.display()), e))?;
    Ok(next)
}

fn journal_ids(dir: &Path) -> Result<Vec<String>> {
    match fs::read_dir(dir) {
        Ok(rd) => Ok(rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".jsonl").map(str::to_string))
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::state(format!("read {}", dir.display()), e)),
    }
}

impl Journal {
    fn file_of(dir: &Path, run_id: &str) -> PathBuf {
        dir.join(format!("{run_id}.jsonl"))
    }

    /// Start a new run's journal. `source` says what made it (a script path,
    /// "(repl)"); `params` are its `--set` values; `key` what finds it again.
    pub fn create(
        source: &str,
        params: BTreeMap<String, String>,
        key: Option<String>,
    ) -> Result<Journal> {
        let dir = state_dir();
        let pid = std::process::id();
        let started = now_secs();
        let (run_id, path, file) = {
            let _lock = StateLock::acquire(&dir)?;
            let run_id = run_id_for(started, next_run_number(&dir)?);
            let path = Self::file_of(&dir, &run_id);
            let file = OpenOptions::new()
                .append(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::state(format!("create the journal {}", path.display()), e))?;
            (run_id, path, file)
        };
        let mut journal = Journal {
            run_id,
            source: source.into(),
            started,
            params,
            key,
            path,
            file,
            len: 0,
            entries: Vec::new(),
            pid,
            pid_start: process::start_time(pid).unwrap_or(0),
            host_netns: netns::host_inode()?,
            ended: None,
            leaving: false,
            unreadable: Vec::new(),
            unwritten: Vec::new(),
        };
        let begin = Record::Begin {
            run: journal.run_id.clone(),
            source: journal.source.clone(),
            pid,
            pid_start: journal.pid_start,
            host_netns: journal.host_netns,
            started,
            params: journal.params.clone(),
            key: journal.key.clone(),
        };
        if let Err(e) = journal.write(&begin) {
            // Not even its beginning is on disk (a full disk): leave no empty journal.
            let _ = fs::remove_file(&journal.path);
            return Err(e);
        }
        Ok(journal)
    }

    /// Load a run's journal, to show it or to roll it back.
    pub fn load(run_id: &str) -> Result<Journal> {
        let dir = state_dir();
        let path = Self::file_of(&dir, run_id);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::NoSuchRun {
                        run: run_id.into(),
                        dir: dir.display().to_string(),
                    }
                } else {
                    Error::state(format!("open {}", path.display()), e)
                }
            })?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::state(format!("read {}", path.display()), e))?;
        let mut journal = Journal {
            run_id: run_id.into(),
            source: String::new(),
            started: 0,
            params: BTreeMap::new(),
            key: None,
            path: path.clone(),
            file,
            len: bytes.len() as u64,
            entries: Vec::new(),
            pid: 0,
            pid_start: 0,
            host_netns: 0,
            ended: None,
            leaving: false,
            unreadable: Vec::new(),
            unwritten: Vec::new(),
        };
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        // A run killed mid-write leaves a last line without its newline: that
        // record never reached the kernel (each is written before its change).
        let torn = lines.pop().filter(|l| !l.is_empty());
        for (n, line) in lines.iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Record>(line) {
                Ok(record) => journal.absorb(record),
                Err(_) => journal.unreadable.push(n + 1),
            }
        }
        if torn.is_some() {
            // Appending after it would glue the next record to the torn one.
            journal.len -= torn.map_or(0, |t| t.len() as u64);
            let _ = journal.file.set_len(journal.len);
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
                params,
                key,
            } => {
                self.run_id = run;
                self.source = source;
                self.pid = pid;
                self.pid_start = pid_start;
                self.host_netns = host_netns;
                self.started = started;
                self.params = params;
                self.key = key;
            }
            Record::Op { seq, op, at, .. } => self.entries.push(Entry {
                seq,
                op,
                state: EntryState::Pending,
                outcome: None,
                at,
            }),
            Record::Done { seq, outcome } => {
                if let Some(e) = self.entry_mut(seq) {
                    e.state = EntryState::Done;
                    e.outcome = Some(outcome);
                }
            }
            Record::Failed { seq } => self.set_state(seq, EntryState::Failed),
            Record::Undone { seq } => self.set_state(seq, EntryState::Undone),
            Record::Leaving => self.leaving = true,
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

    fn encode(record: &Record) -> Vec<u8> {
        let mut line = serde_json::to_vec(record).expect("journal records serialize");
        line.push(b'\n');
        line
    }

    /// Append records in one write(2): they reach the file whole or (if
    /// killed) torn at the end. A failed write is cut back off the file.
    fn write_all(&mut self, records: &[Record]) -> Result<()> {
        let bytes: Vec<u8> = records.iter().flat_map(Self::encode).collect();
        match self.file.write_all(&bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(Error::state(
                    format!("write the journal {}", self.path.display()),
                    e,
                ))
            }
        }
    }

    fn write(&mut self, record: &Record) -> Result<()> {
        self.write_all(std::slice::from_ref(record))
    }

    /// Write a record of progress; if it cannot be written now, keep it for
    /// later (undo must go on without room to write).
    fn note(&mut self, record: Record) {
        if self.unwritten.is_empty() && self.write(&record).is_ok() {
            return;
        }
        self.unwritten.push(record);
        // Still no room: it stays kept; undo goes on regardless.
        let _ = self.retry_unwritten();
    }

    /// Write the progress kept in memory, if there is room now. Ok when
    /// nothing is left unwritten.
    pub fn retry_unwritten(&mut self) -> Result<()> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.unwritten);
        match self.write_all(&records) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.unwritten = records;
                Err(e)
            }
        }
    }

    /// The sequence number the next recorded op will get.
    pub fn next_seq(&self) -> u64 {
        self.entries.last().map_or(1, |e| e.seq + 1)
    }

    /// Record an op before it is applied; returns its sequence number. If it
    /// cannot be written, the op must not be applied.
    pub fn record(&mut self, op: Op, at: Option<String>) -> Result<u64> {
        let seq = self.next_seq();
        self.retry_unwritten()?;
        self.write(&Record::Op {
            seq,
            shared: op.shared_key(),
            op: op.clone(),
            at: at.clone(),
        })?;
        self.entries.push(Entry {
            seq,
            op,
            state: EntryState::Pending,
            outcome: None,
            at,
        });
        self.ended = None;
        Ok(seq)
    }

    /// The text by which [`Journal::mentioning`] finds the journals that share `key`.
    pub fn shared_needle(key: &str) -> Vec<u8> {
        let mut needle = b"\"shared\":".to_vec();
        needle.extend(serde_json::to_vec(key).expect("strings serialize"));
        needle
    }

    /// The leases of `subnet` that the journal `id` holds, read from its lease
    /// lines and its undo records alone (every lease of every live run is
    /// read on every lease: parsing whole journals would be O(runs × ops)).
    pub(crate) fn live_leases(id: &str, subnet: &ipnet::IpNet) -> Vec<ipnet::IpNet> {
        let Ok(bytes) = fs::read(Self::file_of(&state_dir(), id)) else {
            return Vec::new();
        };
        let mut leases = Vec::new();
        let mut gone = std::collections::HashSet::new();
        for line in bytes.split(|b| *b == b'\n') {
            let find = |s: &str| memchr::memmem::find(line, s.as_bytes()).is_some();
            if find(r#""op":"lease""#) {
                if let Ok(Record::Op {
                    seq,
                    op:
                        Op::Lease {
                            subnet: s, addr, ..
                        },
                    ..
                }) = serde_json::from_slice(line)
                {
                    if s == *subnet {
                        leases.push((seq, addr));
                    }
                }
            } else if find(r#""t":"undone""#) || find(r#""t":"failed""#) {
                if let Ok(Record::Undone { seq } | Record::Failed { seq }) =
                    serde_json::from_slice(line)
                {
                    gone.insert(seq);
                }
            }
        }
        leases
            .into_iter()
            .filter(|(seq, _)| !gone.contains(seq))
            .map(|(_, addr)| addr)
            .collect()
    }

    /// The ids of journals whose text contains `needle` (read raw, unparsed).
    pub fn mentioning(needle: &[u8]) -> Result<Vec<String>> {
        Self::mentioning_except(needle, None)
    }

    /// The same, never reading the journal `except` (the asker's own).
    pub fn mentioning_except(needle: &[u8], except: Option<&str>) -> Result<Vec<String>> {
        let mut found = Vec::new();
        Self::find_mentioning(needle, except, |id| {
            found.push(id.to_string());
            None::<()>
        })?;
        Ok(found)
    }

    /// The first `f(id)` that is Some, over the journals that contain
    /// `needle`: stops reading files as soon as it has an answer.
    pub fn find_mentioning<T>(
        needle: &[u8],
        except: Option<&str>,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> Result<Option<T>> {
        let dir = state_dir();
        for id in journal_ids(&dir)? {
            if Some(id.as_str()) == except {
                continue;
            }
            let Ok(bytes) = fs::read(Self::file_of(&dir, &id)) else {
                continue;
            };
            if memchr::memmem::find(&bytes, needle).is_some() {
                if let Some(found) = f(&id) {
                    return Ok(Some(found));
                }
            }
        }
        Ok(None)
    }

    pub fn done(&mut self, seq: u64, outcome: Outcome) {
        if let Some(e) = self.entry_mut(seq) {
            e.state = EntryState::Done;
            e.outcome = Some(outcome.clone());
        }
        self.note(Record::Done { seq, outcome });
    }

    pub fn failed(&mut self, seq: u64) {
        self.set_state(seq, EntryState::Failed);
        self.note(Record::Failed { seq });
    }

    pub fn undone(&mut self, seq: u64) {
        self.set_state(seq, EntryState::Undone);
        self.note(Record::Undone { seq });
    }

    /// Many undone at once (a thousand namespaces and what was in them):
    /// one write.
    pub fn undone_all(&mut self, seqs: &[u64]) {
        for &seq in seqs {
            self.set_state(seq, EntryState::Undone);
        }
        let records: Vec<Record> = seqs.iter().map(|&seq| Record::Undone { seq }).collect();
        if self.unwritten.is_empty() && self.write_all(&records).is_ok() {
            return;
        }
        self.unwritten.extend(records);
        let _ = self.retry_unwritten();
    }

    /// Close the run. "Rolled back" is only written when nothing of it
    /// remains; if even that cannot be written (a full disk), the journal of
    /// a run with nothing left is removed instead: its absence tells the
    /// same truth, and frees the room.
    pub fn end(&mut self, status: EndStatus) -> Result<()> {
        let nothing_left = self.live_changes() == 0 && self.unreadable.is_empty();
        if status == EndStatus::RolledBack && !nothing_left {
            return self.retry_unwritten();
        }
        self.ended = Some(status);
        self.note(Record::End { status });
        match self.retry_unwritten() {
            Err(_) if status == EndStatus::RolledBack => self.discard(),
            other => other,
        }
    }

    /// Mark the run as being rolled back (see [`Record::Leaving`]).
    pub fn leaving(&mut self) -> Result<()> {
        self.leaving = true;
        self.retry_unwritten()?;
        self.write(&Record::Leaving)
    }

    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Remove the journal of a run that left nothing in the kernel.
    pub fn discard(&self) -> Result<()> {
        fs::remove_file(&self.path)
            .map_err(|e| Error::state(format!("remove {}", self.path.display()), e))
    }

    /// The journal's file (a progress display reads what is appended).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn unreadable_lines(&self) -> &[usize] {
        &self.unreadable
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
        for n in &self.unreadable {
            lines.push(format!("line {n}: unreadable"));
        }
        lines
    }

    /// Does a live entry of this run hold the shared object `key`?
    pub fn holds(&self, key: &str) -> bool {
        self.entries
            .iter()
            .rev()
            .any(|e| e.state == EntryState::Done && e.op.shared_key().as_deref() == Some(key))
    }

    /// Changes still in the kernel (done, or in flight).
    pub fn live_changes(&self) -> usize {
        self.entries.iter().filter(|e| e.state.is_live()).count()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn is_own(&self) -> bool {
        self.pid == std::process::id()
    }

    pub fn status(&self) -> Status {
        if self.started == 0 {
            return Status::Unreadable;
        }
        let alive = || self.is_own() || process::start_time(self.pid) == Some(self.pid_start);
        let nothing_left = self.live_changes() == 0 && self.unreadable.is_empty();
        match self.ended {
            _ if nothing_left && !self.entries.is_empty() => Status::RolledBack,
            Some(EndStatus::RolledBack) if nothing_left => Status::RolledBack,
            Some(EndStatus::Applied) if !self.leaving => Status::Applied,
            None if alive() => Status::Running,
            // Died mid-run, or a rollback began and could not finish.
            _ => Status::Incomplete,
        }
    }

    /// Rollback acts in the namespace plumb ran in; refuse from anywhere else.
    pub fn check_same_host(&self) -> Result<()> {
        let here = netns::host_inode()?;
        if here != self.host_netns {
            return Err(Error::OtherHost {
                run: self.run_id.clone(),
                theirs: self.host_netns,
                ours: here,
            });
        }
        Ok(())
    }

    /// Every journal in the state directory, in the order their runs began.
    pub fn list() -> Result<Vec<Journal>> {
        let mut ids = journal_ids(&state_dir())?;
        ids.sort_by_key(|id| (run_number(id), id.clone()));
        let mut journals = Vec::new();
        for id in ids {
            match Journal::load(&id) {
                Ok(j) => journals.push(j),
                // Removed meanwhile by a run that left nothing.
                Err(Error::NoSuchRun { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(journals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_sort_by_their_number() {
        assert_eq!(run_id_for(0, 7), "19700101-000000-7");
        assert_eq!(format_time(1_795_395_176), "2026-11-23 00:52:56");
        let (a, b) = (run_id_for(1_795_395_176, 9), run_id_for(1_795_395_176, 10));
        assert!(run_number(&a) < run_number(&b), "{a} {b}");
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
