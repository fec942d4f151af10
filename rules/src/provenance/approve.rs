//! Writing an approval: the rules every approver follows, whether it is
//! `airlock approve` or an engine's own approval screen.
//!
//! 1. A component the lock already approves needs nothing written.
//! 2. A version older than the highest ever approved under its name is a
//!    downgrade, which can bring back what a newer version fixed: it is
//!    refused unless the approver allows it, and then the lock keeps the
//!    high-water mark and the version it went back from
//!    ([`Review::entry`]).
//! 3. The lock is changed as it is when the approval is written, not as it
//!    was when the review was made, and only if this action's approval in
//!    it is still the one the review compared against (a compare-and-swap
//!    under [`Lock::edit`]). Otherwise a person would have approved a
//!    change from something that is no longer approved — a downgrade,
//!    perhaps, that rule 2 never saw — and nothing is written.

use super::lock::{Entry, Lock};
use super::review::Review;
use std::path::Path;
use std::time::SystemTime;

/// What [`write()`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The lock now approves the component with this entry.
    Approved(Box<Entry>),
    /// The lock approved this exact component already; nothing was written.
    AlreadyApproved,
    /// Another approver wrote the same approval meanwhile; nothing was
    /// written.
    ApprovedMeanwhile,
}

/// Why an approval was not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApproveError {
    /// The version is older than the highest approved one, and downgrades
    /// were not allowed.
    #[error(
        "{name} {version} is older than the approved {previous}; a downgrade can bring back \
         what a newer version fixed: allow the downgrade if that is intended"
    )]
    Downgrade {
        /// The action's name.
        name: String,
        /// The version being approved.
        version: semver::Version,
        /// The approved version, and the highest one approved before it if
        /// that is another.
        previous: String,
    },
    /// The lock's approval of this action changed after the review was
    /// made.
    #[error(
        "{lock} changed while {name} {version} was reviewed: {now}; nothing was written: \
         review it again against the lock as it is"
    )]
    Changed {
        /// The lock file.
        lock: String,
        /// The action's name.
        name: String,
        /// The version being approved.
        version: semver::Version,
        /// What the lock says now, in plain words.
        now: String,
    },
    /// The approval could not be recorded, so it was not written: no
    /// approval takes effect without its record.
    #[error("the approval could not be recorded: {0}; nothing was written to the lock")]
    Unrecorded(String),
    /// The lock could not be read, locked or written.
    #[error(transparent)]
    Lock(#[from] crate::Error),
}

/// Refuse a downgrade unless `allow_downgrade` (rule 2).
pub fn check_downgrade(review: &Review, allow_downgrade: bool) -> Result<(), ApproveError> {
    let Some(p) = review.previous.as_ref().filter(|_| review.is_downgrade()) else {
        return Ok(());
    };
    if allow_downgrade {
        return Ok(());
    }
    let previous = match p.highest == p.version {
        true => p.version.to_string(),
        false => format!("{} (approved {} before it)", p.version, p.highest),
    };
    Err(ApproveError::Downgrade {
        name: review.manifest.action.name.clone(),
        version: review.manifest.action.version.clone(),
        previous,
    })
}

/// Write the approval `review` describes into the lock at `lock_path`,
/// following all three rules. `reviewed` is the lock the review was made
/// against; `source` is where the component came from, as the lock
/// records it.
///
/// `record` is called with the new entry once the approval is decided,
/// under the lock's edit and before it is saved: an error from it leaves
/// the lock as it was ([`ApproveError::Unrecorded`]).
pub fn write(
    review: &Review,
    reviewed: &Lock,
    lock_path: &Path,
    source: impl Into<String>,
    now: SystemTime,
    allow_downgrade: bool,
    record: impl FnOnce(&Entry) -> Result<(), String>,
) -> Result<Written, ApproveError> {
    let editing = Lock::edit(lock_path)?;
    let name = &review.manifest.action.name;
    // Decided on the lock as it is now, under the edit, not on the one
    // the review read.
    match editing.current().get(name) {
        Some(now) if now.digest == review.digest => {
            return Ok(match reviewed.get(name) == Some(now) {
                true => Written::AlreadyApproved,
                false => Written::ApprovedMeanwhile,
            });
        }
        _ => {}
    }
    check_downgrade(review, allow_downgrade)?;
    match editing.current().get(name) {
        now if now == reviewed.get(name) => {}
        now => {
            return Err(ApproveError::Changed {
                lock: lock_path.display().to_string(),
                name: name.clone(),
                version: review.manifest.action.version.clone(),
                now: now.map_or_else(
                    || format!("the approval of {name} was removed"),
                    |e| format!("it now approves {name} {} ({})", e.version, e.digest),
                ),
            });
        }
    }
    let entry = review.entry(source, now);
    record(&entry).map_err(ApproveError::Unrecorded)?;
    editing.save(entry.clone())?;
    Ok(Written::Approved(Box::new(entry)))
}
