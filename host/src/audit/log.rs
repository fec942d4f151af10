//! The append-only writer behind every record: the chain, the Merkle
//! frontier, durability, checkpoints and segments.

use super::RunInfo;
use super::checkpoint::Checkpoint;
use super::faults::Faults;
use super::jcs;
use super::merkle::Hash;
use super::note::{SigningKey, VerifierKey};
use super::paths::Paths;
use super::record::Event;
use super::state::{self, Resume};
use crate::policy::{AuditConfig, SyncPolicy};
use crate::provenance::Digest;
use jcs::Extra;
use sha2::{Digest as _, Sha256};
use smallvec::SmallVec;
use std::fs::{File, OpenOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant, SystemTime};

/// The audit log could not be written: the host refuses to act unrecorded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit unavailable: {0}")]
pub struct AuditError(pub String);

/// The `prev` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The members of every record that only the writer knows: in canonical
/// order, as [`jcs::object_with_holes`] wants them.
const PLACE: [&str; 3] = ["prev", "seq", "time"];

/// A record encoded but for its place in the log ([`PLACE`]).
struct Pending {
    holes: jcs::Holes,
    /// What it does to the open intents.
    effect: state::Effect,
    /// The line's chain hash and Merkle leaf hash, fed the bytes before
    /// the first hole: under the writer, only the rest is hashed.
    chain: Sha256,
    leaf: Sha256,
}

impl Pending {
    /// Encode `event`. What every record of a run carries (`v`, `phase`,
    /// the run's identity) is written beside the event's fields, not added
    /// to them.
    fn new(run: Option<&RunInfo>, event: &Event) -> Result<Pending, AuditError> {
        let phase = event.phase_of();
        let mut digest = [0; Digest::TEXT_LEN];
        let mut extra: SmallVec<[(&str, Extra); 6]> = SmallVec::new();
        extra.push(("v", Extra::Raw(b"1")));
        extra.push(("phase", Extra::Str(phase.as_str())));
        if let Some(run) = run {
            extra.push(("run", Extra::Str(&run.run)));
            extra.push(("action", Extra::Str(&run.action)));
            extra.push(("digest", Extra::Str(run.digest.text(&mut digest))));
        }
        if let Some((key, json)) = &event.raw {
            debug_assert!(!PLACE.contains(key) && extra.iter().all(|(k, _)| k != key));
            extra.push((key, Extra::Raw(json.bytes())));
        }
        let holes = jcs::object_with_holes(event.fields.iter(), &extra, &PLACE)
            .map_err(|_| AuditError("a record is outside the canonical subset".into()))?;
        let (chain, leaf) = super::record::line_hashers(holes.prefix());
        Ok(Pending {
            effect: state::Effect::of(
                Some(phase),
                |k| event.fields.get(k),
                run.map(|r| r.run.as_str()),
            ),
            holes,
            chain,
            leaf,
        })
    }
}

/// One host's audit log.
#[derive(Debug)]
pub struct AuditLog {
    pub(super) paths: Paths,
    pub(super) config: AuditConfig,
    pub(super) key: SigningKey,
    pub(super) faults: Faults,
    writer: Mutex<Writer>,
    /// Group commit: held by the one writer syncing the log for everyone.
    syncing: Mutex<()>,
    /// Every record below this seq is on disk (an fsync covered it).
    pub(super) synced: AtomicU64,
    /// The size of the last checkpoint published: checkpoints go out one at
    /// a time, each larger than the last.
    pub(super) published: Mutex<u64>,
    /// Where the state file on disk resumes ([`state::SavedAt`]).
    pub(super) saved_at: Mutex<Option<state::SavedAt>>,
    /// The checkpoint thread, if one runs ([`set_sealer`](Self::set_sealer)).
    sealer: Mutex<Option<mpsc::Sender<()>>>,
}

#[derive(Debug)]
pub(super) struct Writer {
    pub(super) file: Arc<File>,
    pub(super) at: Resume,
    /// Records whose effect happened but whose write failed; written first
    /// once the log takes writes again.
    owed: Vec<(Option<RunInfo>, Event)>,
    pub(super) checkpointed: u64,
    pub(super) checkpointed_at: Instant,
    /// Set when a failed write could not be undone, or an fsync failed
    /// under group commit: nothing more is appended until the host restarts.
    broken: Option<String>,
    /// Why the last checkpoint written in the background ([`seal`]
    /// (AuditLog::seal)) failed: the next append writes one first, and fails
    /// if it cannot.
    pub(super) seal_error: Option<AuditError>,
    /// A checkpoint fell due and the checkpoint thread was asked for it.
    seal_asked: bool,
    clock: Clock,
    buf: Vec<u8>,
    _lock: File,
}

impl Writer {
    /// A checkpoint of `size` records was published.
    pub(super) fn checkpointed(&mut self, size: u64) {
        if size > self.checkpointed {
            self.checkpointed = size;
            self.checkpointed_at = Instant::now();
            self.seal_asked = false;
        }
    }
}

impl AuditLog {
    /// Open (or create) the log `config` describes.
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(config, Faults::new())
    }

    /// Open the log, with its writes and syncs going through `faults`.
    ///
    /// The log is locked for this host; the chain, tree and open intents are
    /// resumed from the saved state and the log's tail (see
    /// [`state`](super::state)) and checked against the last checkpoint.
    /// Intents a crash left open are closed with an `audit.recover`
    /// record, and a checkpoint covers whatever the last one did not.
    pub fn open_with(config: &AuditConfig, faults: Faults) -> Result<AuditLog, AuditError> {
        let paths = Paths::new(&config.path);
        let fail = |what: &str, path: &std::path::Path, e: std::io::Error| {
            AuditError(format!("{what} {}: {e}", path.display()))
        };
        if let Ok(meta) = std::fs::metadata(&paths.log)
            && !meta.is_file()
        {
            return Err(AuditError(format!(
                "{} is not a regular file; the audit log must be one",
                paths.log.display()
            )));
        }
        if let Some(dir) = paths.log.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail("cannot create the directory of", &paths.log, e))?;
        }
        let lock = lock(&paths)?;
        let key = super::keys::load_or_create(config.key.as_deref(), &paths)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&paths.log)
            .map_err(|e| fail("cannot open", &paths.log, e))?;
        let (at, saved_at, torn) = state::resume(&paths, &mut file)?;
        let last = super::publish::prepare(&config.checkpoints, &key.verifier())?;
        let checkpointed = match &last {
            Some(cp) if cp.size > at.next_seq => {
                return Err(AuditError(format!(
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
        };
        if let Some(cp) = &last
            && cp.size == log.lock()?.at.next_seq
            && cp.root != log.root()?
        {
            return Err(AuditError(format!(
                "{} does not hash to its last checkpoint's root at size {}: a record was changed; \
                 run `airlock audit verify`",
                log.paths.log.display(),
                cp.size
            )));
        }
        if let Some(torn) = torn {
            log.append(
                None,
                Event::new("audit.torn")
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
                Event::new("audit.recover")
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

    /// The active segment's file.
    pub fn path(&self) -> &std::path::Path {
        &self.paths.log
    }

    /// The files of this log.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Where checkpoints are written.
    pub fn checkpoints_path(&self) -> &std::path::Path {
        &self.config.checkpoints
    }

    /// A key for `context` that only a reader of this log's signing key can
    /// compute ([`SigningKey::derive`](super::note::SigningKey::derive)).
    pub(crate) fn derive_key(&self, context: &str) -> zeroize::Zeroizing<[u8; 32]> {
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

    /// Append one record and return its sequence number; `run` is `None`
    /// for records about the host itself. Durable on return under
    /// `sync = "always"`; see [`append_durable`](Self::append_durable).
    pub fn append(&self, run: Option<&RunInfo>, event: Event) -> Result<u64, AuditError> {
        self.append_event(run, &event.seal(None))
    }

    /// [`append`](Self::append), leaving `event` with the caller (to
    /// [`owe`](Self::owe) if the append fails).
    pub(super) fn append_event(
        &self,
        run: Option<&RunInfo>,
        event: &Event,
    ) -> Result<u64, AuditError> {
        // Encoded before the writer is taken: under it, only the record's
        // place in the log is left to write. It is freed after the writer
        // is let go.
        let mut record = Pending::new(run, event)?;
        let mut w = self.lock()?;
        if let Some(why) = &w.broken {
            return Err(AuditError(why.clone()));
        }
        if w.seal_error.is_some() {
            self.write_checkpoint(&mut w)?;
            w.seal_error = None;
        }
        if self.checkpoint_due(&w) {
            // A checkpoint thread writes it without holding the writer: an
            // fsync here would stop every run's records for milliseconds.
            // Without a thread (or with one that ended), the append writes it.
            let asked = match self.sealer() {
                Some(sealer) => w.seal_asked || sealer.send(()).is_ok(),
                None => false,
            };
            if asked {
                w.seal_asked = true;
            } else {
                self.write_checkpoint(&mut w)?;
            }
        }
        if let Some(limit) = self.config.segment_size
            && w.at.len >= limit.0
        {
            self.rotate(&mut w)?;
        }
        self.write_owed(&mut w)?;
        self.write_record(&mut w, &mut record)
    }

    /// Write the records [`owe`](Self::owe) kept, oldest first, each marked
    /// `late`.
    fn write_owed(&self, w: &mut Writer) -> Result<(), AuditError> {
        while let Some((owed_run, owed)) = w.owed.first().cloned() {
            let mut owed = Pending::new(owed_run.as_ref(), &owed.field("late", true))?;
            self.write_record(w, &mut owed)?;
            w.owed.remove(0);
        }
        Ok(())
    }

    /// Append one record and return once it is on disk, as far as the sync
    /// policy promises: fsynced under `always`, by a shared fsync under
    /// `group`, written under `none`.
    pub fn append_durable(&self, run: Option<&RunInfo>, event: Event) -> Result<u64, AuditError> {
        let seq = self.append(run, event)?;
        if self.config.sync == SyncPolicy::Group {
            self.wait_durable(seq)?;
        }
        Ok(seq)
    }

    /// Keep `event` to be written first by the next append: the record of
    /// an effect that happened while the log could not be written.
    pub fn owe(&self, run: Option<&RunInfo>, event: Event) {
        if let Ok(mut w) = self.lock() {
            w.owed.push((run.cloned(), event));
        }
    }

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

    /// The durability setting.
    pub fn sync_policy(&self) -> SyncPolicy {
        self.config.sync
    }

    /// Whether `checkpoint_every` records were added since the last
    /// checkpoint, or `checkpoint_interval` passed since it with records
    /// added.
    fn checkpoint_due(&self, w: &Writer) -> bool {
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
    pub fn set_sealer(&self, sealer: Option<mpsc::Sender<()>>) {
        *self.sealer.lock().unwrap_or_else(|p| p.into_inner()) = sealer;
    }

    fn sealer(&self) -> Option<mpsc::Sender<()>> {
        self.sealer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The writer.
    pub(super) fn lock(&self) -> Result<MutexGuard<'_, Writer>, AuditError> {
        self.writer
            .lock()
            .map_err(|_| AuditError("the audit writer was poisoned by a panic".into()))
    }

    /// Write `record` at the end of the log: its `prev`, `seq` and `time`
    /// filled in, the line hashed into the chain and the tree once it is
    /// written.
    fn write_record(&self, w: &mut Writer, record: &mut Pending) -> Result<u64, AuditError> {
        let seq = w.at.next_seq;
        let prev = quoted_hex(&w.at.prev);
        let mut digits = itoa::Buffer::new();
        let seq_text = digits.format(seq).as_bytes();
        let time = w.clock.now();
        w.buf.clear();
        record.holes.fill(&mut w.buf, &[&prev, seq_text, time]);
        let line_len = w.buf.len();
        w.buf.push(b'\n');
        let written =
            self.faults
                .write_all(&w.file, &w.buf)
                .and_then(|()| match self.config.sync {
                    SyncPolicy::Always => self.faults.sync(&w.file),
                    SyncPolicy::Group | SyncPolicy::None => Ok(()),
                });
        if let Err(e) = written {
            // Undo a partial write so the chain stays whole; if even that
            // fails, nothing more may be appended after a torn record.
            if let Err(undo) = w.file.set_len(w.at.len) {
                w.broken = Some(format!(
                    "a write to {} failed ({e}) and could not be undone ({undo}); restart the host",
                    self.paths.log.display()
                ));
            }
            return Err(AuditError(format!(
                "cannot write to {}: {e}",
                self.paths.log.display()
            )));
        }
        w.at.track(seq, &mut record.effect);
        let rest = &w.buf[record.holes.prefix().len()..line_len];
        record.chain.update(rest);
        record.leaf.update(rest);
        let (prev, leaf) = (
            record.chain.finalize_reset().into(),
            record.leaf.finalize_reset().into(),
        );
        w.at.prev = prev;
        w.at.frontier.push(leaf);
        w.at.next_seq = seq + 1;
        w.at.len += w.buf.len() as u64;
        Ok(seq)
    }

    /// Group commit: wait until a sync covers record `seq`, doing it if no
    /// one else has. One writer syncs at a time; every record written
    /// before its sync started is covered by it.
    fn wait_durable(&self, seq: u64) -> Result<(), AuditError> {
        if self.synced.load(Ordering::Acquire) > seq {
            return Ok(());
        }
        let _one = self
            .syncing
            .lock()
            .map_err(|_| AuditError("the audit writer was poisoned by a panic".into()))?;
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
                let why = format!(
                    "fsync of {} failed ({e}): records already written may be lost; restart the host",
                    self.paths.log.display()
                );
                self.lock()?.broken = Some(why.clone());
                Err(AuditError(why))
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
    fn rotate(&self, w: &mut Writer) -> Result<(), AuditError> {
        if w.at.next_seq == w.at.active_first {
            return Ok(());
        }
        let fail = |e: std::io::Error| {
            AuditError(format!("cannot rotate {}: {e}", self.paths.log.display()))
        };
        self.write_checkpoint(w)?;
        let sealed = self.paths.segment(w.at.active_first);
        std::fs::rename(&self.paths.log, &sealed).map_err(fail)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&self.paths.log)
            .map_err(|e| {
                let why = format!(
                    "cannot create a new segment {}: {e}",
                    self.paths.log.display()
                );
                w.broken = Some(why.clone());
                AuditError(why)
            })?;
        w.file = Arc::new(file);
        w.at.active_first = w.at.next_seq;
        w.at.len = 0;
        let saved = state::save(&self.paths, &w.at.saved()).map_err(fail)?;
        *self.saved_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
        Ok(())
    }
}

/// How long [`lock`] keeps trying before it decides another host holds the
/// lock.
const LOCK_PATIENCE: Duration = Duration::from_millis(250);

/// Only one host writes a log at a time.
///
/// The lock is an `flock(2)`, which belongs to the open file, so a process
/// forked by any thread of this one holds it too until it execs and its
/// copy of the descriptor closes. A host dropped and opened again while
/// another thread spawns a command could find its own lock still held for
/// that moment, so a held lock is tried again for [`LOCK_PATIENCE`] before
/// it is taken to be another host's, which holds it for its lifetime.
fn lock(paths: &Paths) -> Result<File, AuditError> {
    let path = paths.lock();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| AuditError(format!("cannot open {}: {e}", path.display())))?;
    let deadline = Instant::now() + LOCK_PATIENCE;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(32));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AuditError(format!(
                    "another airlock host is writing {} (it holds {})",
                    paths.log.display(),
                    path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(AuditError(format!("cannot lock {}: {e}", path.display())));
            }
        }
    }
}

/// `"` + the lower-case hex of `hash` + `"`.
fn quoted_hex(hash: &Hash) -> [u8; 66] {
    let mut out = [b'"'; 66];
    crate::provenance::hex_into(hash, &mut out[1..65]);
    out
}

/// The records' `time`, as a JSON string, formatted once per millisecond.
#[derive(Debug, Default)]
struct Clock {
    millis: u128,
    text: Vec<u8>,
}

impl Clock {
    fn now(&mut self) -> &[u8] {
        let t = SystemTime::now();
        let millis = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        if millis != self.millis || self.text.is_empty() {
            self.millis = millis;
            self.text = format!("\"{}\"", humantime::format_rfc3339_millis(t)).into_bytes();
        }
        &self.text
    }
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
