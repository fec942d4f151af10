//! The host's checkpoint thread: it seals runs that ended (under `sync =
//! "group"` and `"none"`, see [`seal`](super::AuditLog::seal)) when it is
//! woken — at most every [`SEAL_EVERY`], so that under load one checkpoint
//! covers every run that ended in that window — and writes a checkpoint
//! every `checkpoint_interval / 2` if the interval passed and records were
//! added. While it runs, a checkpoint that falls due in an append
//! (`checkpoint_every`) is asked of it too, so that no append holds the
//! writer through an fsync.

use super::log::AuditLog;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The shortest time between two checkpoints that seal runs' ends: a run's
/// end is sealed at most this long (plus one fsync and one signature)
/// after it returns.
pub const SEAL_EVERY: Duration = Duration::from_millis(10);

/// Writes checkpoints in the background; stops when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    /// `None` for a host without the thread ([`Checkpointer::none`]).
    wake: Option<mpsc::Sender<()>>,
    log: Weak<AuditLog>,
    /// What [`AuditLog::set_sealer`] returned for this thread.
    sealer: Option<u64>,
}

impl Checkpointer {
    /// Start checking `log` every `interval / 2`.
    pub fn start(log: &Arc<AuditLog>, interval: Duration) -> std::io::Result<Checkpointer> {
        let (wake, woken) = mpsc::channel::<()>();
        let weak: Weak<AuditLog> = Arc::downgrade(log);
        let log = weak.clone();
        let tick = (interval / 2).max(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("airlock-checkpoints".into())
            .spawn(move || {
                let mut sealed_at = Instant::now() - SEAL_EVERY;
                loop {
                    let sealing = match woken.recv_timeout(tick) {
                        Ok(()) => true,
                        Err(RecvTimeoutError::Timeout) => false,
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if sealing {
                        // Let the runs ending in this window share one checkpoint.
                        if let Some(wait) = SEAL_EVERY.checked_sub(sealed_at.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        sealed_at = Instant::now();
                    }
                    // Every run that ended while the last checkpoint was
                    // written is covered by this one.
                    while woken.try_recv().is_ok() {}
                    let Some(log) = log.upgrade() else { break };
                    let written = if sealing {
                        log.seal().map(drop)
                    } else {
                        log.seal_if_due()
                    };
                    if let Err(e) = written {
                        // The next record tries again and fails closed.
                        tracing::error!("cannot write a checkpoint: {e}");
                    }
                }
            })?;
        let sealer = weak.upgrade().map(|log| log.set_sealer(Some(wake.clone())));
        Ok(Checkpointer {
            wake: Some(wake),
            log: weak,
            sealer,
        })
    }

    /// No thread: appends write the checkpoints that fall due themselves,
    /// and runs' ends are sealed when the host seals or is dropped.
    pub fn none() -> Checkpointer {
        Checkpointer {
            wake: None,
            log: Weak::new(),
            sealer: None,
        }
    }

    /// Seal what was appended so far, soon, on the checkpoint thread.
    pub fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.send(());
        }
    }
}

impl Drop for Checkpointer {
    /// Appends write their checkpoints themselves again, and the thread,
    /// its last sender gone, ends.
    fn drop(&mut self) {
        if let (Some(log), Some(sealer)) = (self.log.upgrade(), self.sealer) {
            log.unset_sealer(sealer);
        }
    }
}
