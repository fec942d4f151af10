//! Why the audit log could not be written, in kinds an engine can act on:
//! retry ([`AuditError::Busy`]), page a person ([`AuditError::Tampered`]),
//! fail over ([`AuditError::Storage`]), fix the policy
//! ([`AuditError::Config`]). In every case the host refuses to act
//! unrecorded.

use std::io;

/// The audit log could not be opened or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Another airlock host is writing the log. Retry later, or give this
    /// host a log of its own.
    #[error("audit unavailable: {0}")]
    Busy(String),
    /// The log, its state or its checkpoints are not what airlock last
    /// wrote: changed behind its back, or damaged. Nothing is written to it
    /// until a person has looked (`airlock audit verify`); retrying does
    /// not help.
    #[error("audit unavailable: {0}")]
    Tampered(String),
    /// The file system refused a read, write, sync, rename or lock: a full
    /// or failing disk, a read-only mount, permissions. Fail over to a host
    /// whose storage works; after a write that could not be undone or a
    /// failed sync, this host's log takes no more writes until it restarts.
    #[error("audit unavailable: {message}")]
    Storage {
        /// What failed, on which file, and the system's words.
        message: String,
        /// The system's error kind (`StorageFull`, `ReadOnlyFilesystem`,
        /// `PermissionDenied`, …).
        kind: io::ErrorKind,
    },
    /// The policy's `[audit]` settings cannot be used: the log is not a
    /// regular file, the checkpoint key cannot be read, the anchor command
    /// fails. Fix the policy.
    #[error("audit unavailable: {0}")]
    Config(String),
    /// The run went past its budget of refused host calls and is being
    /// stopped; the log itself is fine.
    #[error("{0}")]
    OverBudget(String),
    /// airlock itself failed (a panic while writing, a record it cannot
    /// encode). A bug: report it.
    #[error("audit unavailable: {0}")]
    Internal(String),
}

impl AuditError {
    /// A storage error: `what` was being done to `path` when `e` happened.
    pub fn storage(what: &str, path: &std::path::Path, e: &io::Error) -> AuditError {
        AuditError::Storage {
            message: format!("{what} {}: {e}", path.display()),
            kind: e.kind(),
        }
    }
}
