//! Where a writer resumes: the tree frontier and chain head at a known
//! offset, saved now and then (below), and the tail of the log read forward
//! from there on open.
//!
//! The state file is a cache of what the log itself says, so it is saved
//! only when it would spare an open real work: at a rotation, and at a
//! checkpoint once the active segment has grown [`LAG`] bytes past it. An
//! open reads at most that much forward, and a checkpoint in between — that
//! of every one-run `airlock run` — skips a file write, an fsync and a
//! rename. On open it is
//! checked against the log (the record it names must be where it says, with
//! the hash it says), the records after it are read and checked (sequence,
//! chain), and the result is checked against the last checkpoint; any
//! disagreement refuses to open the log rather than extend a history that
//! was changed. Without a state file (a new log, or one from an older
//! airlock) the whole log is read once.

use super::merkle::{Frontier, Hash, leaf_hash};
use super::paths::Paths;
use super::record::Phase;
use crate::AuditError;
use crate::EventKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use smallvec::SmallVec;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How far the active segment grows past the saved state before a
/// checkpoint saves it again (a rotation always does): tens of records.
pub const LAG: u64 = 16 * 1024;

/// Where the state file on disk resumes: the first record of its active
/// segment, and its offset there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedAt {
    /// First record of the active segment it names.
    pub active_first: u64,
    /// Its offset in that segment.
    pub offset: u64,
}

impl From<&Saved> for SavedAt {
    fn from(s: &Saved) -> SavedAt {
        SavedAt {
            active_first: s.active_first,
            offset: s.offset,
        }
    }
}

impl SavedAt {
    /// Whether the state is worth saving again at `now`: a new active
    /// segment, or [`LAG`] bytes more of this one.
    pub fn stale_at(this: Option<SavedAt>, now: &Saved) -> bool {
        this.is_none_or(|at| {
            at.active_first != now.active_first || now.offset.saturating_sub(at.offset) >= LAG
        })
    }
}

/// An intent whose result has not been recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenIntent {
    /// Its event kind.
    pub event: String,
    /// Its run, if any.
    pub run: Option<String>,
}

/// The saved resume point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// Format version.
    pub v: u32,
    /// Records in the log.
    pub size: u64,
    /// First record of the active segment.
    pub active_first: u64,
    /// Bytes of the active segment holding records `active_first..size`.
    pub offset: u64,
    /// Hex hash of record `size - 1` (zeros when empty).
    pub last: String,
    /// Hex frontier hashes, largest subtree first.
    pub frontier: Vec<String>,
    /// Open intents by seq.
    pub open: BTreeMap<u64, OpenIntent>,
    /// Runs started but not ended: their `run.start`'s seq, and run id.
    #[serde(default)]
    pub runs: BTreeMap<u64, String>,
}

/// What the writer needs to go on: the chain head, the tree, open intents.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// Next sequence number.
    pub next_seq: u64,
    /// SHA-256 of the last record.
    pub prev: Hash,
    /// The Merkle frontier.
    pub frontier: Frontier,
    /// Intents without a result.
    pub open: BTreeMap<u64, OpenIntent>,
    /// Runs without an end: their `run.start`'s seq, and run id.
    pub runs: BTreeMap<u64, String>,
    /// First record of the active segment.
    pub active_first: u64,
    /// Length of the active segment up to its last complete record.
    pub len: u64,
}

impl Resume {
    /// The state to save for this position.
    pub fn saved(&self) -> Saved {
        Saved {
            v: 1,
            size: self.next_seq,
            active_first: self.active_first,
            offset: self.len,
            last: hex::encode(self.prev),
            frontier: self.frontier.nodes().iter().map(hex::encode).collect(),
            open: self.open.clone(),
            runs: self.runs.clone(),
        }
    }

    fn from_saved(s: &Saved) -> Option<Resume> {
        let unhex = |h: &str| -> Option<Hash> { hex::decode(h).ok()?.try_into().ok() };
        let nodes = s
            .frontier
            .iter()
            .map(|h| unhex(h))
            .collect::<Option<Vec<_>>>()?;
        Some(Resume {
            next_seq: s.size,
            prev: unhex(&s.last)?,
            frontier: Frontier::from_parts(s.size, nodes)?,
            open: s.open.clone(),
            runs: s.runs.clone(),
            active_first: s.active_first,
            len: s.offset,
        })
    }

    /// Take in one complete record line (without its newline), checking
    /// that it continues the chain.
    pub fn take(&mut self, line: &[u8]) -> Result<(), String> {
        let v: Map<String, Value> = serde_json::from_slice(line)
            .map_err(|e| format!("record {} does not parse: {e}", self.next_seq))?;
        if v.get("seq").and_then(Value::as_u64) != Some(self.next_seq) {
            return Err(format!("expected seq {} next", self.next_seq));
        }
        if v.get("prev").and_then(Value::as_str) != Some(hex::encode(self.prev).as_str()) {
            return Err(format!(
                "record {} does not chain to the one before",
                self.next_seq
            ));
        }
        self.track(self.next_seq, &mut Effect::of_line(&v));
        self.prev = Sha256::digest(line).into();
        self.frontier.push(leaf_hash(line));
        self.next_seq += 1;
        Ok(())
    }

    /// Record `seq`'s effect on the open intents and runs.
    pub fn track(&mut self, seq: u64, effect: &mut Effect) {
        if let Some(open) = effect.opens.take() {
            self.open.insert(seq, open);
        }
        for i in &effect.closes {
            self.open.remove(i);
        }
        match effect.run.take() {
            Some(RunStep::Start(run)) => {
                self.runs.insert(seq, run);
            }
            Some(RunStep::End(run)) => self.runs.retain(|_, r| *r != run),
            None => {}
        }
        for i in &effect.ends {
            self.runs.remove(i);
        }
    }
}

/// What one record does to the open intents: worked out from its fields
/// before the writer is taken, so that under it only the map changes.
#[derive(Debug, Default)]
pub struct Effect {
    opens: Option<OpenIntent>,
    closes: SmallVec<[u64; 1]>,
    /// A run's start or end.
    run: Option<RunStep>,
    /// Runs (by their start's seq) a recovery record closes.
    ends: SmallVec<[u64; 1]>,
}

#[derive(Debug)]
enum RunStep {
    Start(String),
    End(String),
}

impl Effect {
    /// The effect of a record of `phase` with `fields`, written for `run`
    /// (else for the run its own fields name, if any).
    pub fn of<'a>(
        phase: Option<Phase>,
        field: impl Fn(&str) -> Option<&'a Value>,
        run: Option<&str>,
    ) -> Effect {
        let text = |k: &str| field(k).and_then(Value::as_str);
        let mut effect = Effect::default();
        match phase {
            Some(Phase::Intent) => {
                effect.opens = Some(OpenIntent {
                    event: text("event").unwrap_or_default().to_owned(),
                    run: run.or_else(|| text("run")).map(str::to_owned),
                });
            }
            Some(Phase::Result | Phase::Aborted) => {
                effect
                    .closes
                    .extend(field("intent").and_then(Value::as_u64));
            }
            Some(Phase::Single) | None => {}
        }
        if let Some(closed) = field("intents").and_then(Value::as_array) {
            effect
                .closes
                .extend(closed.iter().filter_map(Value::as_u64));
        }
        let run = || run.or_else(|| text("run")).map(str::to_owned);
        effect.run = match text("event").and_then(EventKind::parse) {
            Some(EventKind::RunStart) => run().map(RunStep::Start),
            Some(EventKind::RunEnd) => run().map(RunStep::End),
            _ => None,
        };
        if let Some(ended) = field("runs").and_then(Value::as_array) {
            effect.ends.extend(ended.iter().filter_map(Value::as_u64));
        }
        effect
    }

    /// The effect of a record read back from the log.
    fn of_line(v: &Map<String, Value>) -> Effect {
        let phase = v
            .get("phase")
            .and_then(Value::as_str)
            .and_then(Phase::parse);
        Effect::of(phase, |k| v.get(k), None)
    }
}

/// Save `state` atomically (a temporary file, then a rename) and durably.
pub fn save(paths: &Paths, state: &Saved) -> std::io::Result<SavedAt> {
    let path = paths.state();
    let tmp = path.with_extension("state.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(serde_json::to_string(state).unwrap_or_default().as_bytes())?;
    f.sync_data()?;
    std::fs::rename(&tmp, &path)?;
    Ok(SavedAt::from(state))
}

fn unavailable(what: &str, path: &Path, e: std::io::Error) -> AuditError {
    AuditError::storage(what, path, &e)
}

/// A record cut short at the end of the log (a crash mid-write), moved
/// aside when the log was opened again.
#[derive(Clone, Debug)]
pub struct TornTail {
    /// Where it started in the active segment.
    pub offset: u64,
    /// How long it was.
    pub bytes: usize,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// The file it was moved to.
    pub saved: PathBuf,
}

/// Find where the log's chain ends: from the saved state and the active
/// segment's tail, or from every segment when there is no state. A torn last
/// line is moved aside (and returned, for the log to record). `file` is the
/// active segment, opened for reading and appending. With it, where the
/// state file on disk resumes (`None` without one).
pub fn resume(
    paths: &Paths,
    file: &mut File,
) -> Result<(Resume, Option<SavedAt>, Option<TornTail>), AuditError> {
    let changed = |detail: String| {
        AuditError::Tampered(format!(
            "the audit log {} does not match what airlock last wrote ({detail}); it was changed or \
             damaged: run `airlock audit verify`, and only after investigating move {} aside to \
             rebuild it from the log",
            paths.log.display(),
            paths.state().display()
        ))
    };
    let file_len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| unavailable("cannot read", &paths.log, e))?;
    let saved = match std::fs::read_to_string(paths.state()) {
        Ok(text) => Some(
            serde_json::from_str::<Saved>(&text)
                .ok()
                .and_then(|s| Resume::from_saved(&s).map(|r| (s, r)))
                .ok_or_else(|| changed(format!("{} does not parse", paths.state().display())))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(unavailable("cannot read", &paths.state(), e)),
    };
    let saved_at = saved.as_ref().map(|(s, _)| SavedAt::from(s));
    let mut resume = match saved {
        None => {
            // Read every sealed segment, then the active one from its start.
            let mut r = Resume::default();
            for seg in paths
                .segments()
                .map_err(|e| unavailable("cannot list", &paths.log, e))?
            {
                let bytes = std::fs::read(&seg).map_err(|e| unavailable("cannot read", &seg, e))?;
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    return Err(changed(format!(
                        "{} ends in a partial record",
                        seg.display()
                    )));
                }
                for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    r.take(line).map_err(changed)?;
                }
            }
            r.active_first = r.next_seq;
            r
        }
        Some((_, r)) if r.len > 0 && file_len == 0 && paths.segment(r.active_first).exists() => {
            // A rotation was cut short after the segment was sealed: the
            // active segment is new and empty.
            Resume {
                active_first: r.next_seq,
                len: 0,
                ..r
            }
        }
        Some((s, r)) => {
            if r.len > file_len {
                return Err(changed(format!(
                    "it holds {file_len} bytes, but {} were written",
                    r.len
                )));
            }
            if s.size > s.active_first {
                let last = line_ending_at(file, r.len)
                    .map_err(|e| unavailable("cannot read", &paths.log, e))?;
                if hex::encode(Sha256::digest(&last)) != s.last {
                    return Err(changed(format!(
                        "record {} is not the one written",
                        s.size - 1
                    )));
                }
            }
            r
        }
    };
    // Read forward from the resume point.
    file.seek(SeekFrom::Start(resume.len))
        .map_err(|e| unavailable("cannot read", &paths.log, e))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)
        .map_err(|e| unavailable("cannot read", &paths.log, e))?;
    let complete = rest.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in rest[..complete]
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
    {
        resume.take(line).map_err(changed)?;
    }
    resume.len += complete as u64;
    let mut torn = None;
    if complete < rest.len() {
        let aside = paths.torn(resume.len);
        std::fs::write(&aside, &rest[complete..])
            .map_err(|e| unavailable("cannot save the torn tail of", &paths.log, e))?;
        file.set_len(resume.len)
            .map_err(|e| unavailable("cannot truncate the torn tail of", &paths.log, e))?;
        tracing::warn!(log = %paths.log.display(), saved = %aside.display(), "audit log ended in a torn record; moved it aside");
        torn = Some(TornTail {
            offset: resume.len,
            bytes: rest.len() - complete,
            sha256: hex::encode(Sha256::digest(&rest[complete..])),
            saved: aside,
        });
    }
    Ok((resume, saved_at, torn))
}

/// The line that ends (with its newline) at byte `end` of `file`.
fn line_ending_at(file: &mut File, end: u64) -> std::io::Result<Vec<u8>> {
    // Records are mostly under a KiB; read back 4 KiB, then more each time.
    let mut step: u64 = 4 * 1024;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = end;
    loop {
        let from = start.saturating_sub(step);
        step = (step * 4).min(1024 * 1024);
        let mut chunk = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        if let Some(i) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(body[i + 1..].to_vec());
        }
        if start == 0 {
            return Ok(body.to_vec());
        }
    }
}
