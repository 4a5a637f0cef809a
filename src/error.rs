//! The errors of plumb's front ends (commands, scripts, the REPL): those of
//! the layers below, plus what only a front end meets.

pub use plumb_journal::Error as JournalError;
pub use plumb_kernel::Error as KernelError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A command-line argument that does not make sense.
    #[error("{0}")]
    Usage(String),
    /// A file or stream of the front end (a script, the terminal, an output file).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<KernelError> for Error {
    fn from(e: KernelError) -> Self {
        Error::Journal(e.into())
    }
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Standard output closed under us (`plumb journal list | head`).
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            Error::Io { source, .. } => Some(source),
            Error::Journal(JournalError::State { source, .. }) => Some(source),
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
