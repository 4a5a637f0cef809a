//! The kernel layer's errors: each says what was being done, and the ones a
//! user meets say what to do about it.

use std::io;
use std::time::Duration;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a request (netlink, a mount, a namespace file).
    #[error("{context}: {}{hint}", errno_text(source), hint = errno_hint(source))]
    Kernel {
        context: String,
        #[source]
        source: io::Error,
    },
    /// A file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Text that does not parse as what it should be (a CIDR, a name, a port...).
    #[error("invalid {what} '{text}': {why}", text = cut(text))]
    Invalid {
        what: &'static str,
        text: String,
        why: String,
    },
    #[error("network namespace '{0}' does not exist (create it with netns(\"{0}\") or `ip netns add {0}`)")]
    NoSuchNetns(String),
    #[error("no link named '{name}' in {ns}")]
    NoSuchLink { name: String, ns: String },
    /// A namespace given by a process or a path that is not there (any more).
    #[error("{0} does not exist (is the container running?)")]
    NoNamespace(String),
    /// An object with the expected name is there, but it is not the one
    /// expected (another namespace, a reused pid, another owner's link): it
    /// is left alone on purpose.
    #[error("{what} is not the one expected ({detail}); left alone")]
    NotOurs { what: String, detail: String },
    /// Something the kernel does asynchronously did not finish in time.
    #[error("{what}: still not done after {after:?}")]
    Timeout { what: String, after: Duration },
    /// Processes plumb did not start keep a namespace alive.
    #[error("{ns} still holds processes plumb did not start: {}; stop them, or roll back with --kill", holders.join(", "))]
    Busy { ns: String, holders: Vec<String> },
    #[error("firewall: {0}")]
    Firewall(String),
    /// iptables refused a batch; `rule` is the refused rule's place in it.
    #[error("firewall: {message}")]
    Rejected {
        rule: Option<usize>,
        message: String,
    },
    /// Programs plumb needs are not installed; `install` says how to get them.
    #[error(
        "{needed_for} needs {}{}, which {} not installed: {install}",
        programs.join(", "),
        if uses.is_empty() { String::new() } else { format!(" (for {})", uses.join(", ")) },
        if programs.len() == 1 { "is" } else { "are" }
    )]
    Missing {
        programs: Vec<String>,
        needed_for: String,
        /// The calls that need them (`masquerade() at line 63`), if known.
        uses: Vec<String>,
        install: String,
    },
    /// A connectivity probe (TCP connect, HTTP GET) did not get through.
    #[error("{0}")]
    Probe(String),
}

impl Error {
    pub fn kernel(context: impl Into<String>, source: io::Error) -> Self {
        Error::Kernel {
            context: context.into(),
            source,
        }
    }

    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn invalid(what: &'static str, text: impl Into<String>, why: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            text: text.into(),
            why: why.into(),
        }
    }

    /// The errno behind a kernel or I/O error, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { source, .. } | Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// "Already gone" counts as success when undoing (the CNI DEL contract).
    pub fn is_already_gone(&self) -> bool {
        matches!(
            self,
            Error::NoSuchNetns(_) | Error::NoSuchLink { .. } | Error::NoNamespace(_)
        ) || matches!(
            self.errno(),
            Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
        )
    }
}

/// Long user text (a 1 MB bad name) is cut in messages.
pub fn cut(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.len() <= LIMIT {
        return text.to_string();
    }
    let mut end = LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// The kernel's words for the errors users meet, in theirs.
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        // A bridge's port list is full; the kernel says "Exchange full".
        Some(libc::EXFULL) => "the bridge already has 1024 ports, the most the kernel allows (spread containers over several bridges)".into(),
        _ => e.to_string(),
    }
}

fn errno_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EEXIST) => " (pick another name, or remove the existing one first)",
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (plumb needs root or CAP_NET_ADMIN; try --sandbox as root)"
        }
        Some(libc::ENETUNREACH) => {
            " (the gateway is not on a connected subnet: add an address in its subnet first)"
        }
        _ => "",
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::io("system call", io::Error::from(e))
    }
}

/// Attach context to nix/io results.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, io::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

impl<T> Context<T> for std::result::Result<T, nix::Error> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(what(), io::Error::from(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_and_a_full_bridge_is_explained() {
        let e = Error::invalid("name", "x".repeat(1 << 20), "too long");
        let text = e.to_string();
        assert!(text.len() < 200, "{}", text.len());
        assert!(text.contains("(1048576 bytes)"), "{text}");
        let full = Error::kernel(
            "attach veth9 to br0",
            io::Error::from_raw_os_error(libc::EXFULL),
        );
        assert!(full.to_string().contains("1024 ports"), "{full}");
        assert!(!full.to_string().contains("Exchange full"), "{full}");
    }
}
