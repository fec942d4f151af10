//! The library's errors: everything that stops an invocation before it runs.
//! A run that started ends in an [`Outcome`](crate::Outcome) instead.

use crate::caps::fs::MountError;
use crate::caps::fs::overlap::OverlapError;
use crate::caps::net::NetSetupError;
use airlock_audit::AuditError;
use airlock_rules::Refusal;
use airlock_rules::doc::DocError;

/// An invocation that did not run, or a host that could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy or other operator document is malformed or invalid.
    #[error(transparent)]
    Document(#[from] DocError),
    /// The input is not a JSON document.
    #[error("the input is not JSON: {0}")]
    Input(String),
    /// The input is larger than the policy's `[limits] input`.
    #[error(
        "the input is larger than {max}, the most the policy accepts: send less, or raise \
         [limits] input in the policy"
    )]
    InputTooLarge {
        /// The policy's limit.
        max: airlock_rules::units::ByteSize,
    },
    /// The action was refused before it ran.
    #[error("refused: {0}")]
    Refused(#[from] Refusal),
    /// A mount directory could not be opened.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// A mount reaches one of airlock's own files or directories.
    #[error(transparent)]
    Overlap(#[from] OverlapError),
    /// The policy's `[network]` settings cannot be used (a CA certificate
    /// that cannot be read).
    #[error(transparent)]
    Network(#[from] NetSetupError),
    /// The audit log cannot be written; nothing runs unrecorded.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A file outside any run could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The WebAssembly engine could not be set up, or compiling failed for
    /// a reason that is not the component's.
    #[error("runtime: {context}")]
    Runtime {
        /// What failed.
        context: String,
        /// The engine's error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// A runtime error: `context`, caused by `source` when there is one.
    pub(crate) fn runtime(context: impl Into<String>, source: Option<wasmtime::Error>) -> Error {
        Error::Runtime {
            context: context.into(),
            source: source.map(Into::into),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<airlock_rules::Error> for Error {
    fn from(e: airlock_rules::Error) -> Error {
        match e {
            airlock_rules::Error::Document(doc) => Error::Document(doc),
            airlock_rules::Error::Io { context, source } => Error::Io { context, source },
            other => Error::runtime(other.to_string(), None),
        }
    }
}
