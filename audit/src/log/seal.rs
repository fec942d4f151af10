//! Checkpoints, published one at a time in increasing size — and sealing
//! in the background, so that checkpoints at the end of runs do not hold
//! up the runs still going.
//!
//! Under `sync = "always"` a run's end is sealed by a checkpoint before the
//! run returns. Under `group` and `none`, the run returns once its last
//! record is written, and wakes the host's checkpoint thread
//! ([`Checkpointer::wake`](super::Checkpointer::wake)), which seals every
//! run that ended meanwhile with one fsync and one signed checkpoint
//! ([`AuditLog::seal`]). The writer is not held during the fsync or the
//! signing, so other runs keep appending. If sealing fails, the next append
//! writes the checkpoint first and fails (and with it the run asking) if it
//! still cannot: the log fails closed as before, one run later.

use super::{AuditLog, append::now};
use crate::AuditError;
use crate::checkpoint::Checkpoint;
use crate::merkle::Hash;
use crate::state::{self, Saved};
use std::fs::File;
use std::sync::atomic::Ordering;

impl AuditLog {
    /// Sync `file` (which holds every record below `size`), then sign and
    /// publish the checkpoint of `size` records with `root`, and save
    /// `saved` as the resume point if the state on disk is
    /// [stale](state::SavedAt::stale_at) — unless a checkpoint as large was
    /// published meanwhile (`None`).
    pub(super) fn publish_checkpoint(
        &self,
        file: &File,
        size: u64,
        root: Hash,
        saved: Saved,
    ) -> Result<Option<Checkpoint>, AuditError> {
        // A checkpoint never names a record that is not on disk.
        self.faults
            .sync(file)
            .map_err(|e| AuditError::storage("cannot sync", &self.paths.log, &e))?;
        self.synced.fetch_max(size, Ordering::AcqRel);
        let mut published = self.published.lock().map_err(|_| {
            AuditError::Internal("the checkpoint writer was poisoned by a panic".into())
        })?;
        if size <= *published {
            return Ok(None);
        }
        let cp = Checkpoint {
            origin: self.key.name().to_owned(),
            size,
            root,
            time: Some(now()),
        };
        crate::publish::publish(&self.config, &self.faults, &cp.sign(&self.key), cp.size)?;
        *published = size;
        let mut saved_at = self.saved_at.lock().unwrap_or_else(|p| p.into_inner());
        if state::SavedAt::stale_at(*saved_at, &saved) {
            match state::save(&self.paths, &saved) {
                Ok(at) => *saved_at = Some(at),
                // The state is a cache: the next open reads more of the log.
                Err(e) => {
                    tracing::warn!(state = %self.paths.state().display(), "cannot save the audit state: {e}")
                }
            }
        }
        Ok(Some(cp))
    }

    /// Write a checkpoint of every record appended so far without holding
    /// the writer while syncing, signing and publishing. A failure is kept:
    /// the next append writes the checkpoint first, or fails.
    pub fn seal(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (file, size, root, saved) = {
            let w = self.lock()?;
            if w.at.next_seq == w.checkpointed {
                return Ok(None);
            }
            (
                w.file.clone(),
                w.at.next_seq,
                w.at.frontier.root(),
                w.at.saved(),
            )
        };
        let result = self.publish_checkpoint(&file, size, root, saved);
        let mut w = self.lock()?;
        match &result {
            Ok(_) => {
                w.seal_error = None;
                w.checkpointed(size);
            }
            Err(e) => w.seal_error = Some(e.clone()),
        }
        result
    }
}
