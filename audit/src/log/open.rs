//! Opening a log: taking its lock, resuming the chain, the tree and the
//! open intents from the saved state and the log's tail, checking them
//! against the last checkpoint, and recording what a crash left behind
//! (`audit.torn`, `audit.recover`).

use super::{AuditLog, Clock, Writer};
use crate::AuditError;
use crate::EventKind;
use crate::faults::Faults;
use crate::paths::Paths;
use crate::record::Event;
use crate::state::{self};
use airlock_rules::policy::AuditConfig;
use std::fs::{File, OpenOptions};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
impl AuditLog {
    /// Open (or create) the log `config` describes.
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(config, Faults::new())
    }

    /// Open the log, with its writes and syncs going through `faults`.
    ///
    /// The log is locked for this host; the chain, tree and open intents are
    /// resumed from the saved state and the log's tail (see
    /// its state file) and checked against the last checkpoint.
    /// Intents a crash left open are closed with an `audit.recover`
    /// record, and a checkpoint covers whatever the last one did not.
    pub fn open_with(config: &AuditConfig, faults: Faults) -> Result<AuditLog, AuditError> {
        AuditLog::open_waiting(config, faults, LOCK_PATIENCE)
    }

    /// [`open_with`](Self::open_with), waiting up to `patience` for another
    /// host that holds the log to let it go (by default a quarter of a
    /// second): a command that runs once, beside others on the same log,
    /// waits as long as its run may take.
    pub fn open_waiting(
        config: &AuditConfig,
        faults: Faults,
        patience: Duration,
    ) -> Result<AuditLog, AuditError> {
        let paths = Paths::new(&config.path);
        let fail = |what: &str, path: &std::path::Path, e: std::io::Error| {
            AuditError::storage(what, path, &e)
        };
        if let Ok(meta) = std::fs::metadata(&paths.log)
            && !meta.is_file()
        {
            return Err(AuditError::Config(format!(
                "{} is not a regular file; the audit log must be one",
                paths.log.display()
            )));
        }
        if let Some(dir) = paths.log.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail("cannot create the directory of", &paths.log, e))?;
        }
        let lock = lock(&paths, patience)?;
        let key = crate::keys::load_or_create(config.key.as_deref(), &paths)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&paths.log)
            .map_err(|e| fail("cannot open", &paths.log, e))?;
        let (at, saved_at, torn) = state::resume(&paths, &mut file)?;
        let last = crate::publish::prepare(&config.checkpoints, &key.verifier())?;
        let checkpointed = match &last {
            Some(cp) if cp.size > at.next_seq => {
                return Err(AuditError::Tampered(format!(
                    "{} has {} records but its last checkpoint names {}: records were removed \
                     (TRUNCATED); run `airlock audit verify`",
                    paths.log.display(),
                    at.next_seq,
                    cp.size
                )));
            }
            Some(cp) => cp.size,
            None => 0,
        };
        let log = AuditLog {
            paths,
            config: config.clone(),
            key,
            faults,
            writer: Mutex::new(Writer {
                file: Arc::new(file),
                at,
                owed: Vec::new(),
                checkpointed,
                checkpointed_at: Instant::now(),
                broken: None,
                seal_error: None,
                seal_asked: false,
                clock: Clock::default(),
                buf: Vec::with_capacity(1024),
                _lock: lock,
            }),
            syncing: Mutex::new(()),
            synced: AtomicU64::new(0),
            published: Mutex::new(checkpointed),
            saved_at: Mutex::new(saved_at),
            sealer: Mutex::new(None),
            timings: super::Timings::default(),
        };
        if let Some(cp) = &last
            && cp.size == log.lock()?.at.next_seq
            && cp.root != log.root()?
        {
            return Err(AuditError::Tampered(format!(
                "{} does not hash to its last checkpoint's root at size {}: a record was changed; \
                 run `airlock audit verify`",
                log.paths.log.display(),
                cp.size
            )));
        }
        if let Some(torn) = torn {
            log.append(
                None,
                Event::new(EventKind::AuditTorn)
                    .field("offset", torn.offset)
                    .field("bytes", torn.bytes)
                    .field("sha256", torn.sha256)
                    .field("saved", torn.saved.display().to_string())
                    .field(
                        "reason",
                        "the log ended in a record cut short (the host stopped mid-write); \
                         it was moved aside",
                    ),
            )?;
        }
        let (open, runs): (Vec<u64>, Vec<u64>) = {
            let w = log.lock()?;
            (
                w.at.open.keys().copied().collect(),
                w.at.runs.keys().copied().collect(),
            )
        };
        if !open.is_empty() || !runs.is_empty() {
            log.append(
                None,
                Event::new(EventKind::AuditRecover)
                    .field("intents", open)
                    .field("runs", runs)
                    .field(
                        "reason",
                        "the host stopped before recording what became of these intents, and \
                         the end of these runs (by their run.start's seq); whether each intent \
                         took effect, and how each run ended, is unknown",
                    ),
            )?;
        }
        log.checkpoint()?;
        Ok(log)
    }
}

/// How long [`lock`] keeps trying, unless told otherwise, before it decides
/// another host holds the lock.
const LOCK_PATIENCE: Duration = Duration::from_millis(250);

/// Only one host writes a log at a time.
///
/// The lock is an `flock(2)`, which belongs to the open file, so a process
/// forked by any thread of this one holds it too until it execs and its
/// copy of the descriptor closes. A host dropped and opened again while
/// another thread spawns a command could find its own lock still held for
/// that moment, so a held lock is tried again for `patience` before it is
/// taken to be another host's, which holds it for its lifetime.
fn lock(paths: &Paths, patience: Duration) -> Result<File, AuditError> {
    let path = paths.lock();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AuditError::storage("cannot open", &path, &e))?;
    let deadline = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(32));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError::Busy(format!(
                    "another airlock host is writing {} (it held {} for all of {}): retry \
                     when it is done, or give this host a log of its own ([audit] path)",
                    paths.log.display(),
                    path.display(),
                    humantime::format_duration(patience)
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(AuditError::storage("cannot lock", &path, &e));
            }
        }
    }
}
