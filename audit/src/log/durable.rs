//! Durability: syncs (per record, or one for a group of writers),
//! checkpoints when they fall due, and rotation to a new segment.

use super::{AuditLog, Writer};
use crate::AuditError;
use crate::checkpoint::Checkpoint;
use crate::state::{self};
use std::fs::OpenOptions;
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
impl AuditLog {
    /// Write a checkpoint if records were added since the last one, after
    /// any record still owed: a host sealing its log on the way out leaves
    /// no result unwritten that the log could take.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, AuditError> {
        let mut w = self.lock()?;
        // After a torn write that could not be undone nothing is appended;
        // what is on record can still be sealed.
        if w.broken.is_none() {
            self.write_owed(&mut w)?;
        }
        if w.at.next_seq == w.checkpointed {
            return Ok(None);
        }
        self.write_checkpoint(&mut w)
    }

    /// Whether `checkpoint_every` records were added since the last
    /// checkpoint, or `checkpoint_interval` passed since it with records
    /// added.
    pub(super) fn checkpoint_due(&self, w: &Writer) -> bool {
        w.at.next_seq > w.checkpointed
            && (w.at.next_seq - w.checkpointed >= self.config.checkpoint_every
                || w.checkpointed_at.elapsed() >= self.config.checkpoint_interval)
    }

    /// [`seal`](Self::seal) if a checkpoint is due.
    pub fn seal_if_due(&self) -> Result<(), AuditError> {
        if !self.checkpoint_due(&*self.lock()?) {
            return Ok(());
        }
        self.seal().map(drop)
    }

    /// From now on, a checkpoint that falls due while appending is asked of
    /// `sealer` (a checkpoint thread calling [`seal`](Self::seal)) rather
    /// than written by the append; `None` goes back to writing it there.
    /// Returns a number that [`unset_sealer`](Self::unset_sealer) takes,
    /// so that only the one that set a sealer takes it away.
    pub fn set_sealer(&self, sealer: Option<mpsc::Sender<()>>) -> u64 {
        let mut current = self.sealer.lock().unwrap_or_else(|p| p.into_inner());
        let number = current.as_ref().map_or(0, |(n, _)| n + 1);
        *current = sealer.map(|s| (number, s));
        number
    }

    /// Go back to writing checkpoints in the append, if the sealer is still
    /// the one set when [`set_sealer`](Self::set_sealer) returned `number`
    /// (a host that replaced another on this log has its own by then).
    pub fn unset_sealer(&self, number: u64) {
        let mut current = self.sealer.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|(n, _)| *n == number) {
            *current = None;
        }
    }

    pub(super) fn sealer(&self) -> Option<mpsc::Sender<()>> {
        self.sealer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|(_, s)| s.clone())
    }

    /// Group commit: wait until a sync covers record `seq`, doing it if no
    /// one else has. One writer syncs at a time; every record written
    /// before its sync started is covered by it.
    pub(super) fn wait_durable(&self, seq: u64) -> Result<(), AuditError> {
        if self.synced.load(Ordering::Acquire) > seq {
            return Ok(());
        }
        let _one = self
            .syncing
            .lock()
            .map_err(|_| AuditError::Internal("the audit writer was poisoned by a panic".into()))?;
        if self.synced.load(Ordering::Acquire) > seq {
            return Ok(());
        }
        let (file, upto) = {
            let w = self.lock()?;
            (w.file.clone(), w.at.next_seq)
        };
        match self.faults.sync(&file) {
            Ok(()) => {
                self.synced.fetch_max(upto, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                let why = AuditError::Storage {
                    message: format!(
                        "fsync of {} failed ({e}): records already written may be lost; restart the host",
                        self.paths.log.display()
                    ),
                    kind: e.kind(),
                };
                self.lock()?.broken = Some(why.clone());
                Err(why)
            }
        }
    }

    /// Write a checkpoint of everything appended so far, holding the writer
    /// (see [`seal`](Self::seal) for one that does not).
    pub(super) fn write_checkpoint(
        &self,
        w: &mut Writer,
    ) -> Result<Option<Checkpoint>, AuditError> {
        let size = w.at.next_seq;
        let cp = self.publish_checkpoint(&w.file, size, w.at.frontier.root(), w.at.saved())?;
        w.checkpointed(size);
        Ok(cp)
    }

    /// Seal the active segment and start a new one; the chain goes on.
    pub(super) fn rotate(&self, w: &mut Writer) -> Result<(), AuditError> {
        if w.at.next_seq == w.at.active_first {
            return Ok(());
        }
        let fail = |e: std::io::Error| AuditError::storage("cannot rotate", &self.paths.log, &e);
        self.write_checkpoint(w)?;
        let sealed = self.paths.segment(w.at.active_first);
        std::fs::rename(&self.paths.log, &sealed).map_err(fail)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.paths.log)
            .map_err(|e| {
                let why = AuditError::storage("cannot create a new segment", &self.paths.log, &e);
                w.broken = Some(why.clone());
                why
            })?;
        w.file = Arc::new(file);
        w.at.active_first = w.at.next_seq;
        w.at.len = 0;
        let saved = state::save(&self.paths, &w.at.saved()).map_err(fail)?;
        *self.saved_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
        Ok(())
    }
}
