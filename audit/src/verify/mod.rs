//! Checking a log, offline, without trusting the host that wrote it.
//!
//! [`verify`] reads the segments in order and the checkpoints file, and
//! checks, stopping at the first failure:
//!
//! 1. every checkpoint is a signed note that verifies with the verifier key
//!    (`BAD_SIGNATURE`) — a checkpoint is authenticated before anything is
//!    compared with it — and checkpoints never shrink (`ROLLBACK`) or give
//!    two roots for one size (`INCONSISTENT`);
//! 2. every line parses (`MALFORMED`) and is canonical (`NOT_CANONICAL`),
//!    `seq` is contiguous from 0 (`SEQ_GAP`), `prev` chains (`CHAIN_BREAK`),
//!    and a sealed segment ends in a whole record (`INCOMPLETE_TAIL`);
//! 3. at every checkpoint's size the Merkle root recomputed from the records
//!    is the signed root (`LEAF_MISMATCH`) — which also proves consecutive
//!    checkpoints consistent, both being roots of prefixes of the same
//!    records;
//! 4. no checkpoint names more records than the log has (`TRUNCATED`);
//! 5. a witness checkpoint kept elsewhere is signed (`BAD_SIGNATURE`), not
//!    beyond the log and its checkpoints (`ROLLBACK`), and has the log's
//!    root at its size (`INCONSISTENT`);
//! 6. with a maximum gap, every record is covered by a checkpoint made
//!    within that time of it, or is younger than that (`STALE`);
//! 7. every intent is closed by a result or aborted record of its run
//!    before that run ends or the log is recovered (`ORPHAN_INTENT`), and
//!    every closing record names an open intent of its run
//!    (`UNMATCHED_RESULT`);
//! 8. a log with records is covered by at least one checkpoint whose
//!    signature was checked (`UNAUTHENTICATED`): without one, whoever can
//!    write the log could have rewritten and re-chained all of it. Only
//!    [`Options::unauthenticated`] accepts such a log, and the report says
//!    so.
//!
//! The records a host writes about its own failures — a torn tail moved
//! aside (`audit.torn`), intents whose fate is unknown (`audit.recover`),
//! a record written late because the log could not take it at the time
//! (`late`) — are not failures of the log, but the report lists them
//! ([`Report::incidents`]).
//!
//! A last record cut short (a crash mid-write) is not a failure: the log is
//! accepted up to the last complete record and the report names the tail.
//! Intents still open at the end are reported too: the host may be running.

mod intents;
mod records;
#[cfg(test)]
mod tests;

pub use records::{Reader, Record, Tail};

use super::checkpoint::{Checkpoint, split_file};
use super::merkle::{Frontier, Hash};
use super::note::{Note, VerifierKey};
use crate::EventKind;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The log's segments, oldest first, the active one last.
    pub logs: Vec<PathBuf>,
    /// The checkpoints file.
    pub checkpoints: Option<PathBuf>,
    /// The key checkpoints are signed with. Without it, signatures are not
    /// checked (the report says so).
    pub key: Option<VerifierKey>,
    /// A signed checkpoint kept elsewhere.
    pub witness: Option<String>,
    /// The longest a record may wait for a checkpoint.
    pub max_gap: Option<Duration>,
    /// "Now", for the records after the last checkpoint.
    pub now: Option<SystemTime>,
    /// Accept a log that no signed checkpoint covers: only its chain is
    /// checked, which anyone who can write it can recompute.
    pub unauthenticated: bool,
}

/// A record a host wrote about a failure of its own log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The record's sequence number.
    pub seq: u64,
    /// Its event.
    pub event: String,
    /// What it says, in words.
    pub detail: String,
}

/// What a verified log contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Number of complete records.
    pub records: u64,
    /// Root over them.
    pub root: Hash,
    /// Checkpoints checked against the records.
    pub checkpoints: usize,
    /// The last checkpoint.
    pub latest: Option<Checkpoint>,
    /// Whether checkpoint signatures were checked.
    pub signed: bool,
    /// Whether a witness was checked.
    pub witnessed: bool,
    /// A record cut short at the end.
    pub tail: Option<Tail>,
    /// A note cut short at the end of the checkpoints file (its offset).
    pub torn_checkpoint: Option<usize>,
    /// Intents not (yet) closed at the end of the log.
    pub open_intents: Vec<u64>,
    /// Runs started but not ended at the end of the log (their
    /// `run.start`'s seq): still running, or their host stopped before it
    /// could record their end and no host has opened the log since.
    pub open_runs: Vec<u64>,
    /// The host's records of its own log's failures.
    pub incidents: Vec<Incident>,
    /// Whether no signed checkpoint covers the records (accepted only with
    /// [`Options::unauthenticated`]).
    pub unauthenticated: bool,
}

/// Why a log failed verification.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A file could not be read.
    Unreadable,
    /// A line is not a JSON object.
    Malformed,
    /// A line is JSON but not in canonical form: it was re-written.
    NotCanonical,
    /// `seq` is not the next number: a record was removed, added or moved.
    SeqGap,
    /// `prev` is not the hash of the previous record: a record was edited.
    ChainBreak,
    /// A sealed segment ends in a partial record.
    IncompleteTail,
    /// The records do not hash to a checkpoint's root.
    LeafMismatch,
    /// A checkpoint is not signed by the key.
    BadSignature,
    /// Two checkpoints, or the log and a witness, disagree about history.
    Inconsistent,
    /// A checkpoint names records the log does not have.
    Truncated,
    /// The log and its checkpoints were set back to an earlier state.
    Rollback,
    /// A record waited longer than the maximum gap for a checkpoint.
    Stale,
    /// An intent was never closed.
    OrphanIntent,
    /// A result or aborted record names no open intent of its run.
    UnmatchedResult,
    /// No signed checkpoint covers the records.
    Unauthenticated,
}

impl Reason {
    /// The stable code printed by `airlock audit verify`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Unreadable => "UNREADABLE",
            Reason::Malformed => "MALFORMED",
            Reason::NotCanonical => "NOT_CANONICAL",
            Reason::SeqGap => "SEQ_GAP",
            Reason::ChainBreak => "CHAIN_BREAK",
            Reason::IncompleteTail => "INCOMPLETE_TAIL",
            Reason::LeafMismatch => "LEAF_MISMATCH",
            Reason::BadSignature => "BAD_SIGNATURE",
            Reason::Inconsistent => "INCONSISTENT",
            Reason::Truncated => "TRUNCATED",
            Reason::Rollback => "ROLLBACK",
            Reason::Stale => "STALE",
            Reason::OrphanIntent => "ORPHAN_INTENT",
            Reason::UnmatchedResult => "UNMATCHED_RESULT",
            Reason::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

/// The first thing wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The first failing record's sequence number (for a checkpoint, the
    /// first record it fails to account for).
    pub seq: u64,
    /// The file at fault.
    pub file: Option<PathBuf>,
    /// 1-based line (or checkpoint's first line) in it; 0 for the file.
    pub line: u64,
    /// What is wrong.
    pub reason: Reason,
    /// In words.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at seq {}", self.reason.code(), self.seq)?;
        if let Some(file) = &self.file {
            write!(f, " ({} line {})", file.display(), self.line)?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl std::error::Error for Failure {}

/// One checkpoint of the file, authenticated (or parsed, without a key).
struct Known {
    cp: Checkpoint,
    line: u64,
}

/// Verify the log at `path` the simple way: its sealed segments and
/// itself, with the checkpoints file and the generated verifier key found
/// beside it (when they exist). An auditor passes their own copy of the key
/// through [`verify`] instead.
pub fn verify_file(path: &std::path::Path) -> Result<Report, Failure> {
    let paths = super::paths::Paths::new(path);
    let mut logs = paths.segments().map_err(|e| Failure {
        seq: 0,
        file: Some(path.to_path_buf()),
        line: 0,
        reason: Reason::Unreadable,
        detail: format!("cannot list the segments of {}: {e}", path.display()),
    })?;
    logs.push(path.to_path_buf());
    let public = super::paths::Paths::public_of(&paths.key());
    let key = std::fs::read_to_string(&public)
        .ok()
        .and_then(|k| VerifierKey::parse(&k).ok());
    verify(&Options {
        logs,
        checkpoints: paths.checkpoints().exists().then(|| paths.checkpoints()),
        key,
        ..Options::default()
    })
}

/// Verify the log and checkpoints `options` name.
pub fn verify(options: &Options) -> Result<Report, Failure> {
    let (checkpoints, torn_checkpoint) = load_checkpoints(options)?;
    let mut reader = Reader::new(&options.logs);
    check(&mut reader, checkpoints, torn_checkpoint, options)
}

/// Verify records from `reader` against already loaded checkpoints.
fn check(
    reader: &mut Reader,
    checkpoints: Vec<Known>,
    torn_checkpoint: Option<usize>,
    options: &Options,
) -> Result<Report, Failure> {
    let witness = match &options.witness {
        None => None,
        Some(note) => Some(
            open_note(note, options.key.as_ref()).map_err(|detail| Failure {
                seq: 0,
                file: None,
                line: 0,
                reason: Reason::BadSignature,
                detail: format!("the witness checkpoint: {detail}"),
            })?,
        ),
    };
    let cp_file = options.checkpoints.clone();
    let cp_fail = |k: &Known, seq: u64, reason: Reason, detail: String| Failure {
        seq,
        file: cp_file.clone(),
        line: k.line,
        reason,
        detail,
    };
    let mut sorted: Vec<&Known> = checkpoints.iter().collect();
    sorted.sort_by_key(|k| k.cp.size);
    let mut next_cp = 0usize;
    let mut covered = 0u64; // records covered by a checked checkpoint
    let mut frontier = Frontier::new();
    let mut witness_root: Option<Hash> =
        (witness.as_ref().map(|w| w.size) == Some(0)).then_some(super::merkle::EMPTY_ROOT);
    let mut intents = intents::Intents::default();
    let mut stale = options.max_gap.map(|gap| intents::Gaps::new(gap, &sorted));
    // Checkpoints of size 0 say nothing about records.
    while next_cp < sorted.len() && sorted[next_cp].cp.size == 0 {
        next_cp += 1;
    }
    let mut incidents = Vec::new();
    let mut runs = std::collections::BTreeMap::<u64, String>::new();
    while let Some(record) = reader.next_record()? {
        frontier.push(record.leaf);
        incidents.extend(incident(&record));
        track_run(&mut runs, &record);
        let size = frontier.size();
        intents
            .take(&record)
            .map_err(|(reason, detail)| reader_fail(reader, &record, reason, detail))?;
        if let Some(gaps) = &mut stale {
            gaps.take(&record)
                .map_err(|detail| reader_fail(reader, &record, Reason::Stale, detail))?;
        }
        if witness.as_ref().map(|w| w.size) == Some(size) {
            witness_root = Some(frontier.root());
        }
        while next_cp < sorted.len() && sorted[next_cp].cp.size == size {
            let k = sorted[next_cp];
            if k.cp.root != frontier.root() {
                return Err(cp_fail(
                    k,
                    covered,
                    Reason::LeafMismatch,
                    format!(
                        "records {covered}..{} do not hash to the root of the checkpoint of size {size}: \
                         a record was changed or the chain re-computed",
                        size - 1
                    ),
                ));
            }
            covered = size;
            next_cp += 1;
        }
    }
    let records = frontier.size();
    if let Some(k) = sorted.last()
        && k.cp.size > records
    {
        return Err(cp_fail(
            k,
            records,
            Reason::Truncated,
            format!(
                "the checkpoint names {} records, the log has {records}: records were removed from its end",
                k.cp.size
            ),
        ));
    }
    if let Some(w) = &witness {
        let latest = sorted.last().map_or(0, |k| k.cp.size);
        let fail = |reason, detail: String| Failure {
            seq: records.min(w.size),
            file: None,
            line: 0,
            reason,
            detail,
        };
        // (A witness beyond the log but not beyond its checkpoints was
        // already a truncation, above.)
        if w.size > records {
            return Err(fail(
                Reason::Rollback,
                format!(
                    "the witness saw {} records; the log has {records} and its checkpoints name at most \
                     {latest}: the log and its checkpoints were set back",
                    w.size
                ),
            ));
        }
        if witness_root != Some(w.root) {
            return Err(fail(
                Reason::Inconsistent,
                format!(
                    "the log's root at size {} is not the witness's: its history was rewritten",
                    w.size
                ),
            ));
        }
    }
    if let Some(gaps) = &stale {
        gaps.finish(options.now.unwrap_or_else(SystemTime::now))?;
    }
    let open_intents = intents.finish()?;
    let signed = options.key.is_some() && !checkpoints.is_empty();
    let unauthenticated = records > 0 && (!signed || covered == 0);
    if unauthenticated && !options.unauthenticated {
        return Err(Failure {
            seq: 0,
            file: options.checkpoints.clone(),
            line: 0,
            reason: Reason::Unauthenticated,
            detail: match (options.key.is_some(), covered) {
                (false, _) => "no verifier key was given, so no checkpoint is authenticated: \
                    whoever can write the log could have rewritten and re-chained it \
                    (pass --key, or --unauthenticated to check the chain alone)"
                    .into(),
                (true, _) => format!(
                    "no signed checkpoint covers any of the {records} records: whoever can write \
                     the log could have rewritten and re-chained it (checkpoints: {}; pass \
                     --checkpoints, or --unauthenticated to check the chain alone)",
                    checkpoints.len()
                ),
            },
        });
    }
    Ok(Report {
        records,
        root: frontier.root(),
        checkpoints: checkpoints.len(),
        latest: checkpoints
            .iter()
            .max_by_key(|k| k.cp.size)
            .map(|k| k.cp.clone()),
        signed,
        witnessed: witness.is_some(),
        tail: reader.tail.clone(),
        torn_checkpoint,
        open_intents,
        open_runs: runs.into_keys().collect(),
        incidents,
        unauthenticated,
    })
}

/// Follow which runs are open: a `run.start` opens one, its `run.end`
/// closes it, and an `audit.recover` closes those it names.
fn track_run(runs: &mut std::collections::BTreeMap<u64, String>, record: &Record) {
    let text = |k: &str| record.fields.get(k).and_then(serde_json::Value::as_str);
    match text("event").and_then(EventKind::parse) {
        Some(EventKind::RunStart) => {
            runs.insert(record.seq, text("run").unwrap_or_default().to_owned());
        }
        Some(EventKind::RunEnd) => {
            let run = text("run").unwrap_or_default();
            runs.retain(|_, r| r != run);
        }
        Some(EventKind::AuditRecover) => {
            for seq in record
                .fields
                .get("runs")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_u64)
            {
                runs.remove(&seq);
            }
        }
        _ => {}
    }
}

/// What `record` tells of its own log's failures, if anything.
fn incident(record: &Record) -> Option<Incident> {
    let text = |key: &str| {
        record
            .fields
            .get(key)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    let event = text("event").unwrap_or_default();
    let detail = match EventKind::parse(&event) {
        Some(EventKind::AuditTorn) => format!(
            "a record cut short ({} bytes at offset {}) was moved aside to {}",
            text("bytes")?,
            text("offset")?,
            text("saved")?
        ),
        Some(EventKind::AuditRecover) => format!(
            "the host stopped with intents {} open (whether each took effect is unknown) and \
             runs {} (by their run.start's seq) without an end",
            text("intents")?,
            text("runs").unwrap_or_else(|| "[]".into())
        ),
        _ if record.fields.get("late") == Some(&serde_json::Value::Bool(true)) => format!(
            "written late: the log could not take it when it happened{}",
            text("error").map(|e| format!(" ({e})")).unwrap_or_default()
        ),
        _ => return None,
    };
    Some(Incident {
        seq: record.seq,
        event,
        detail,
    })
}

fn reader_fail(reader: &Reader, record: &Record, reason: Reason, detail: String) -> Failure {
    let mut f = reader.fail(reason, detail);
    f.seq = record.seq;
    f
}

/// Parse a signed checkpoint, checking its signature when there is a key.
fn open_note(note: &str, key: Option<&VerifierKey>) -> Result<Checkpoint, String> {
    match key {
        Some(key) => Checkpoint::open(note, key).map_err(|e| e.to_string()),
        None => {
            let n = Note::parse(note).map_err(|e| e.to_string())?;
            Checkpoint::parse_body(&n.text).map_err(|e| e.to_string())
        }
    }
}

/// Read the checkpoints file: each note signed, sizes never shrinking, one
/// root per size.
fn load_checkpoints(options: &Options) -> Result<(Vec<Known>, Option<usize>), Failure> {
    let Some(path) = &options.checkpoints else {
        return Ok((Vec::new(), None));
    };
    let text = std::fs::read_to_string(path).map_err(|e| Failure {
        seq: 0,
        file: Some(path.clone()),
        line: 0,
        reason: Reason::Unreadable,
        detail: format!("cannot read {}: {e}", path.display()),
    })?;
    let entries = split_file(&text);
    let mut known: Vec<Known> = Vec::new();
    for entry in entries.notes {
        let fail = |seq, reason, detail: String| Failure {
            seq,
            file: Some(path.clone()),
            line: entry.line as u64,
            reason,
            detail,
        };
        let cp = open_note(&entry.note, options.key.as_ref())
            .map_err(|e| fail(0, Reason::BadSignature, format!("checkpoint: {e}")))?;
        if let Some(prev) = known.last() {
            if cp.size < prev.cp.size {
                return Err(fail(
                    cp.size,
                    Reason::Rollback,
                    format!(
                        "a checkpoint of size {} follows one of size {}: the log was set back and written again",
                        cp.size, prev.cp.size
                    ),
                ));
            }
            if cp.size == prev.cp.size && cp.root != prev.cp.root {
                return Err(fail(
                    cp.size.saturating_sub(1),
                    Reason::Inconsistent,
                    format!("two checkpoints of size {} have different roots", cp.size),
                ));
            }
        }
        known.push(Known {
            cp,
            line: entry.line as u64,
        });
    }
    Ok((known, entries.torn_at))
}
