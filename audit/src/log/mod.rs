//! The append-only writer behind every record: the chain, the Merkle
//! frontier, durability, checkpoints and segments. [`AuditLog`]'s fields
//! are private to this module: [`open`], [`append`], [`durable`] and [`seal`]
//! are the only code that touches them.

mod append;
mod durable;
mod open;
mod seal;

use crate::AuditError;
use crate::RunInfo;
use crate::faults::Faults;
use crate::merkle::Hash;
use crate::note::{SigningKey, VerifierKey};
use crate::paths::Paths;
use crate::record::Event;
use crate::state::{self, Resume};
use airlock_rules::policy::{AuditConfig, SyncPolicy};
use append::Clock;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, mpsc};
use std::time::Instant;

/// The `prev` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// How many times [`AuditLog::lock`] tries the writer before it sleeps:
/// some tens of microseconds.
const SPINS: u32 = 2_000;

/// One host's audit log.
#[derive(Debug)]
pub struct AuditLog {
    paths: Paths,
    config: AuditConfig,
    key: SigningKey,
    faults: Faults,
    writer: Mutex<Writer>,
    /// Group commit: held by the one writer syncing the log for everyone.
    syncing: Mutex<()>,
    /// Every record below this seq is on disk (an fsync covered it).
    synced: AtomicU64,
    /// The size of the last checkpoint published: checkpoints go out one at
    /// a time, each larger than the last.
    published: Mutex<u64>,
    /// Where the state file on disk resumes ([`state::SavedAt`]).
    saved_at: Mutex<Option<state::SavedAt>>,
    /// The checkpoint thread, if one runs ([`set_sealer`](Self::set_sealer)).
    sealer: Mutex<Option<(u64, mpsc::Sender<()>)>>,
    /// How long appends and durability waits took, for a server's metrics.
    timings: Timings,
}

/// Time spent appending records and waiting for them to be durable, since
/// the log was opened ([`AuditLog::timings`]).
#[derive(Debug, Default)]
pub(crate) struct Timings {
    append_ns: AtomicU64,
    appends: AtomicU64,
    durable_ns: AtomicU64,
    durables: AtomicU64,
}

/// What [`AuditLog::timings`] reads: time spent appending and waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimingsNow {
    /// Records appended, and the time they took (the writer's lock, the
    /// write, and the fsync under `sync = "always"`).
    pub appends: u64,
    /// Time taken by the appends, all together.
    pub append_total: std::time::Duration,
    /// Waits for a record to be durable under `sync = "group"` (an intent
    /// waiting for the shared fsync).
    pub durable_waits: u64,
    /// Time taken by those waits, all together.
    pub durable_total: std::time::Duration,
}

impl Timings {
    fn add(total: &AtomicU64, count: &AtomicU64, took: std::time::Duration) {
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        total.fetch_add(ns, Ordering::Relaxed);
        count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn appended(&self, took: std::time::Duration) {
        Timings::add(&self.append_ns, &self.appends, took);
    }

    pub(crate) fn made_durable(&self, took: std::time::Duration) {
        Timings::add(&self.durable_ns, &self.durables, took);
    }

    fn now(&self) -> TimingsNow {
        let ns = |a: &AtomicU64| std::time::Duration::from_nanos(a.load(Ordering::Relaxed));
        TimingsNow {
            appends: self.appends.load(Ordering::Relaxed),
            append_total: ns(&self.append_ns),
            durable_waits: self.durables.load(Ordering::Relaxed),
            durable_total: ns(&self.durable_ns),
        }
    }
}

#[derive(Debug)]
struct Writer {
    file: Arc<File>,
    at: Resume,
    /// Records whose effect happened but whose write failed; written first
    /// once the log takes writes again.
    owed: Vec<(Option<RunInfo>, Event)>,
    checkpointed: u64,
    checkpointed_at: Instant,
    /// Set when a failed write could not be undone, or an fsync failed
    /// under group commit: nothing more is appended until the host restarts.
    broken: Option<AuditError>,
    /// Why the last checkpoint written in the background ([`seal`]
    /// (AuditLog::seal)) failed: the next append writes one first, and fails
    /// if it cannot.
    seal_error: Option<AuditError>,
    /// A checkpoint fell due and the checkpoint thread was asked for it.
    seal_asked: bool,
    clock: Clock,
    buf: Vec<u8>,
    _lock: File,
}

impl Writer {
    /// A checkpoint of `size` records was published.
    fn checkpointed(&mut self, size: u64) {
        if size > self.checkpointed {
            self.checkpointed = size;
            self.checkpointed_at = Instant::now();
            self.seal_asked = false;
        }
    }
}

impl AuditLog {
    /// The active segment's file.
    pub fn path(&self) -> &std::path::Path {
        &self.paths.log
    }

    /// A key for `context` that only a reader of this log's signing key can
    /// compute ([`SigningKey::derive`](super::note::SigningKey::derive)).
    pub fn derive_key(&self, context: &str) -> zeroize::Zeroizing<[u8; 32]> {
        self.key.derive(context)
    }

    /// The key that checks this log's checkpoints.
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// Number of records.
    pub fn size(&self) -> Result<u64, AuditError> {
        Ok(self.lock()?.at.next_seq)
    }

    /// The Merkle root over every record.
    pub fn root(&self) -> Result<Hash, AuditError> {
        Ok(self.lock()?.at.frontier.root())
    }

    /// Time spent appending and waiting for durability since the log was
    /// opened.
    pub fn timings(&self) -> TimingsNow {
        self.timings.now()
    }

    /// The durability setting.
    pub fn sync_policy(&self) -> SyncPolicy {
        self.config.sync
    }

    /// The writer. It is held for a few microseconds per record, less than
    /// a sleeping thread takes to be woken (on a VM, its vCPU too), so a
    /// caller that finds it taken spins for a while before it sleeps.
    fn lock(&self) -> Result<MutexGuard<'_, Writer>, AuditError> {
        let poisoned = |_| AuditError::Internal("the audit writer was poisoned by a panic".into());
        for _ in 0..SPINS {
            match self.writer.try_lock() {
                Ok(w) => return Ok(w),
                Err(TryLockError::Poisoned(e)) => return Err(poisoned(e)),
                Err(TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
        self.writer.lock().map_err(poisoned)
    }
}

#[cfg(test)]
mod tests;
