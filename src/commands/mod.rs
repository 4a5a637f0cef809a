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
use std::sync::atomic::Ordering;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use crate::error::{Error, Result};
use crate::script::INTERRUPTED;

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stops the script between
/// operations (and a program it runs), and what it did is rolled back.
pub fn stop_scripts_on_signals() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(sig, &action) };
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
