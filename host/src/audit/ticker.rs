//! Checkpoints "every T seconds while active": a thread that wakes up and
//! writes one if records were added since the last.

use super::log::AuditLog;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Writes a checkpoint when the interval has passed and records were added;
/// stops when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Start checking `log` every `interval / 2`.
    pub fn start(log: &Arc<AuditLog>, interval: Duration) -> std::io::Result<Checkpointer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let log: Weak<AuditLog> = Arc::downgrade(log);
        let tick = (interval / 2).max(Duration::from_millis(10));
        std::thread::Builder::new()
            .name("airlock-checkpoints".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    let Some(log) = log.upgrade() else { break };
                    if let Err(e) = log.checkpoint_if_due() {
                        // The next record tries again and fails closed.
                        tracing::error!("cannot write a checkpoint: {e}");
                    }
                }
            })?;
        Ok(Checkpointer { _stop: stop })
    }
}
