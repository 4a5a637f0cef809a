//! The journal layer's errors. Undo tells "left alone on purpose" (another
//! owner's object) from "failed", and every refusal names who is in the way.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kernel(#[from] plumb_kernel::Error),
    /// The journal or the state directory could not be read or written.
    #[error("{context}: {source}")]
    State {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("no run '{run}' in {dir} (see `plumb journal list`)")]
    NoSuchRun { run: String, dir: String },
    #[error("run {run} is still running (pid {pid}); stop it first, or pass --force")]
    Running { run: String, pid: u32 },
    #[error("run {run} was made from another network namespace (inode {theirs}, this is {ours}); roll it back from there")]
    OtherHost { run: String, theirs: u64, ours: u64 },
    /// Rolling back an owner while other live runs use its objects.
    #[error("run {run} owns {what}, which live runs use: {}; roll those back first, or pass --force", users.join(", "))]
    InUse {
        run: String,
        what: String,
        users: Vec<String>,
    },
    /// The name is taken: by which run, or by something plumb did not make.
    #[error("{what} exists already ({owner}); pick another name")]
    Exists { what: String, owner: String },
    /// A shared object exists with settings that differ from what this run asks.
    #[error("{what} is {has} ({holder}); this run wants {want}")]
    Conflict {
        what: String,
        has: String,
        want: String,
        holder: String,
    },
    /// A subnet whose every address is leased to a live run.
    #[error("no free address left in {subnet}: {leased} are leased to live runs (roll some back, or give a larger subnet)")]
    Exhausted { subnet: String, leased: usize },
    /// A run uses another run's object while that run is being rolled back.
    #[error("{what} belongs to run {owner}, which is being rolled back")]
    Leaving { what: String, owner: String },
    /// Lines of a journal that could not be read: what they described may remain.
    #[error("journal {run} has unreadable line(s) {}: what they described may still be in the kernel (`plumb gc` finds plumb-marked objects without a run)", lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", "))]
    Damaged { run: String, lines: Vec<usize> },
    /// Several undo steps failed; each is listed.
    #[error("rollback left {} problem(s):\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Undo(Vec<UndoFailure>),
}

/// One undo step that did not complete, and why.
#[derive(Debug, thiserror::Error)]
#[error("undo `{command}`: {error}")]
pub struct UndoFailure {
    pub command: String,
    #[source]
    pub error: Box<Error>,
}

impl Error {
    pub fn state(context: impl Into<String>, source: io::Error) -> Self {
        Error::State {
            context: context.into(),
            source,
        }
    }

    /// The kernel error inside, if that is what this is.
    pub fn kernel(&self) -> Option<&plumb_kernel::Error> {
        match self {
            Error::Kernel(k) => Some(k),
            _ => None,
        }
    }

    pub fn is_already_gone(&self) -> bool {
        self.kernel().is_some_and(|k| k.is_already_gone())
    }

    /// Left alone on purpose: someone else's object now has the name.
    pub fn is_not_ours(&self) -> bool {
        matches!(self.kernel(), Some(plumb_kernel::Error::NotOurs { .. }))
    }
}
