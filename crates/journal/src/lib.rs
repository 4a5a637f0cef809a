//! plumb's journal layer, between the script API and the kernel: every change
//! is one typed [`Op`] that applies itself, undoes itself and prints its
//! shell equivalent, written to a per-run journal before it is made.
//!
//! - [`Session`]: one run, applying ops (or printing them, in a dry run);
//! - [`Journal`]: the on-disk record, its runs' order and status;
//! - [`undo`]: planning and carrying out an undo;
//! - [`shared`]: objects many runs share, counted from the live journals;
//! - [`StateLock`]: the lock every plumb process takes around shared decisions;
//! - [`gc`]: what plumb made whose journal is gone;
//! - [`Op::check`]: drift, whether what a run made is still as made.
//!
//! It depends on plumb-kernel and on nothing of the script layer.

pub mod check;
pub mod error;
pub mod gc;
mod journal;
mod lock;
mod op;
mod session;
pub mod shared;
pub mod undo;

pub use check::{check_entry, expectations, route_text, Change, Drift};
pub use error::{Error, Result, UndoFailure};
pub use journal::{
    format_time, run_number, state_dir, EndStatus, Entry, EntryState, Journal, Status,
    DEFAULT_STATE_DIR,
};
pub use lock::StateLock;
pub use op::{mark_of, run_of_mark, Op, Outcome, Owner, SHARED_MARK};
pub use session::{Failure, Origin, Session};
pub use undo::{Report, UndoOptions};
