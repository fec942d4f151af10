//! Appending: a record is encoded before the writer is taken, and under
//! it only its place in the log (`prev`, `seq`, `time`) is filled in, the
//! line written and hashed into the chain and the tree. A record whose
//! effect happened but whose write failed is owed, and written first once
//! the log takes writes again.

use super::{AuditLog, Writer};
use crate::AuditError;
use crate::RunInfo;
use crate::jcs::{self, Extra};
use crate::merkle::Hash;
use crate::record::Event;
use crate::state::{self};
use airlock_rules::policy::SyncPolicy;
use airlock_rules::provenance::Digest;
use sha2::{Digest as _, Sha256};
use smallvec::SmallVec;
use std::time::SystemTime;
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
    pub(super) fn new(run: Option<&RunInfo>, event: &Event) -> Result<Pending, AuditError> {
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
            .map_err(|_| AuditError::Internal("a record is outside the canonical subset".into()))?;
        let (chain, leaf) = crate::record::line_hashers(holes.prefix());
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

impl AuditLog {
    /// Append one record and return its sequence number; `run` is `None`
    /// for records about the host itself. Durable on return under
    /// `sync = "always"`; see [`append_durable`](Self::append_durable).
    pub fn append(&self, run: Option<&RunInfo>, event: Event) -> Result<u64, AuditError> {
        self.append_event(run, &event.seal(None))
    }

    /// [`append`](Self::append), leaving `event` with the caller (to
    /// [`owe`](Self::owe) if the append fails); its time is counted in
    /// [`timings`](Self::timings).
    pub(crate) fn append_event(
        &self,
        run: Option<&RunInfo>,
        event: &Event,
    ) -> Result<u64, AuditError> {
        let started = std::time::Instant::now();
        let appended = self.append_untimed(run, event);
        self.timings.appended(started.elapsed());
        appended
    }

    /// The append itself.
    fn append_untimed(&self, run: Option<&RunInfo>, event: &Event) -> Result<u64, AuditError> {
        // Encoded before the writer is taken: under it, only the record's
        // place in the log is left to write. It is freed after the writer
        // is let go.
        let mut record = Pending::new(run, event)?;
        let mut w = self.lock()?;
        if let Some(why) = &w.broken {
            return Err(why.clone());
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
    pub(super) fn write_owed(&self, w: &mut Writer) -> Result<(), AuditError> {
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
            let started = std::time::Instant::now();
            let durable = self.wait_durable(seq);
            self.timings.made_durable(started.elapsed());
            durable?;
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
                w.broken = Some(AuditError::Storage {
                    message: format!(
                        "a write to {} failed ({e}) and could not be undone ({undo}); restart the host",
                        self.paths.log.display()
                    ),
                    kind: e.kind(),
                });
            }
            return Err(AuditError::storage("cannot write to", &self.paths.log, &e));
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
}

/// `"` + the lower-case hex of `hash` + `"`.
fn quoted_hex(hash: &Hash) -> [u8; 66] {
    let mut out = [b'"'; 66];
    airlock_rules::provenance::hex_into(hash, &mut out[1..65]);
    out
}

/// The records' `time`, as a JSON string, formatted once per millisecond.
#[derive(Debug, Default)]
pub(super) struct Clock {
    millis: u128,
    text: Vec<u8>,
}

impl Clock {
    pub(super) fn now(&mut self) -> &[u8] {
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
