//! One module per command; main.rs parses the command line (cli.rs) and
//! calls them. Shared here: signals, and writing to standard output.

pub mod completions;
pub mod doc;
pub mod gc;
pub mod graph;
pub mod journal;
pub mod rollback;
pub mod run;
pub mod sandbox;
pub mod status;
pub mod test;

use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::{Error, Result};
use crate::script::INTERRUPTED;

/// SIGTERM or SIGHUP received: the session ends (the REPL leaves as on
/// Ctrl-D). 0 while none came.
pub static TERMINATED_BY: AtomicI32 = AtomicI32::new(0);

/// The thread that installed the handlers (the one reading input).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
    if sig != libc::SIGINT {
        TERMINATED_BY.store(sig, Ordering::Relaxed);
        // A line editor waiting at its prompt wakes only for SIGINT (its own
        // handler then), sent to the thread it reads on: it returns as on
        // Ctrl-C, and the caller sees TERMINATED_BY. Elsewhere SIGINT lands
        // here again, harmlessly.
        // SAFETY: pthread_kill is async-signal-safe; the id is this
        // process's main thread, alive while the process is.
        unsafe {
            libc::pthread_kill(
                MAIN_THREAD.load(Ordering::Relaxed) as libc::pthread_t,
                libc::SIGINT,
            )
        };
    }
}

/// The signal that ended the session, if one did.
pub fn terminated_by() -> Option<i32> {
    Some(TERMINATED_BY.load(Ordering::Relaxed)).filter(|&s| s != 0)
}

/// Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stops the script between
/// operations (and a program it runs), and what it did is rolled back.
pub fn stop_scripts_on_signals() {
    // SAFETY: pthread_self has no preconditions.
    MAIN_THREAD.store(unsafe { libc::pthread_self() } as u64, Ordering::Relaxed);
    let interrupt = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // Not restarted: the read a line editor waits in must return.
    let end = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler stores to atomics and sends a signal, no more.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &interrupt);
        let _ = sigaction(Signal::SIGTERM, &end);
        let _ = sigaction(Signal::SIGHUP, &end);
    }
}

/// Print lines to standard output; a closed one (`| head`) is an error the
/// caller may take as "stop".
pub fn print_lines<I: IntoIterator<Item = String>>(lines: I) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").map_err(|e| Error::io("write to standard output", e))?;
    }
    out.flush()
        .map_err(|e| Error::io("write to standard output", e))
}

/// Print a JSON document (pretty, one trailing newline) to standard output.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("plumb's documents serialize");
    print_lines([text])
}
