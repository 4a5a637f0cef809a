//! One lock for every plumb process that shares a state directory: an
//! exclusive flock(2) on `STATE_DIR/lock`, held around decisions on shared
//! state (shared objects, other runs' objects, run ids) and around firewall
//! batches. Re-entrant within a process: a holder may take it again.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

thread_local! {
    /// The held lock and how many guards share it.
    static HELD: RefCell<Option<(Flock<File>, usize)>> = const { RefCell::new(None) };
}

/// Holds the state lock until dropped.
pub struct StateLock {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl StateLock {
    /// Wait for the lock on `dir` (created if missing).
    pub fn acquire(dir: &Path) -> Result<StateLock> {
        HELD.with(|held| -> Result<()> {
            let mut held = held.borrow_mut();
            if let Some((_, depth)) = held.as_mut() {
                *depth += 1;
                return Ok(());
            }
            crate::journal::ensure_dir(dir)?;
            let path = dir.join("lock");
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::state(format!("open {}", path.display()), e))?;
            let locked = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, e)| Error::state(format!("lock {}", path.display()), e.into()))?;
            // Programs that change shared state hold it with us (see keep_open).
            plumb_kernel::process::keep_open(Some(locked.as_raw_fd()));
            *held = Some((locked, 1));
            Ok(())
        })?;
        Ok(StateLock {
            _not_send: std::marker::PhantomData,
        })
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        HELD.with(|held| {
            let mut held = held.borrow_mut();
            if let Some((_, depth)) = held.as_mut() {
                *depth -= 1;
                if *depth == 0 {
                    plumb_kernel::process::keep_open(None);
                    // Dropping the Flock unlocks it.
                    *held = None;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_reentrant_and_excludes_other_processes() {
        let dir = std::env::temp_dir().join(format!("plumb-lock-{}", std::process::id()));
        let outer = StateLock::acquire(&dir).unwrap();
        let inner = StateLock::acquire(&dir).unwrap();
        drop(inner);
        // Another open file description cannot take it while we hold it.
        let other = File::open(dir.join("lock")).unwrap();
        let other = Flock::lock(other, FlockArg::LockExclusiveNonblock);
        assert!(other.is_err(), "the lock was not held");
        drop(outer);
        let other = File::open(dir.join("lock")).unwrap();
        assert!(Flock::lock(other, FlockArg::LockExclusiveNonblock).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
