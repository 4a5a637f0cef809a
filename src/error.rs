//! One error type for the whole crate: every variant says what was being done,
//! and the user-facing ones say what to do about it.

use std::io;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a netlink request.
    #[error("{context}: {source}{hint}", hint = errno_hint(source))]
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
    #[error("invalid {what} '{text}': {why}")]
    Invalid {
        what: &'static str,
        text: String,
        why: String,
    },
    #[error("network namespace '{0}' does not exist (create it with netns(\"{0}\") or `ip netns add {0}`)")]
    NoSuchNetns(String),
    #[error("no link named '{name}' in {ns}")]
    NoSuchLink { name: String, ns: String },
    #[error("{0}")]
    Journal(String),
    #[error("firewall: {0}")]
    Firewall(String),
    /// A connectivity probe (TCP connect, HTTP GET) did not get through.
    #[error("{0}")]
    Probe(String),
    /// Several undo steps failed; each is listed.
    #[error("rollback left {} error(s):\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Undo(Vec<Error>),
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
        matches!(self, Error::NoSuchNetns(_) | Error::NoSuchLink { .. })
            || matches!(
                self.errno(),
                Some(libc::ENOENT | libc::ENODEV | libc::ESRCH | libc::EADDRNOTAVAIL)
            )
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
