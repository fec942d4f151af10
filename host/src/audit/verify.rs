//! Checking a log: every record canonical, `seq` contiguous from 0, every
//! `prev` the hash of the record before, and the head file matched.

use super::log::{GENESIS, Head};
use super::record::canonical;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// What a verified log contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Number of records.
    pub records: u64,
    /// Hex SHA-256 of the last record.
    pub last_hash: String,
    /// Whether a head file was found and matched; without one, records
    /// removed from the end cannot be detected.
    pub head_checked: bool,
}

/// Why a log failed verification.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The file could not be read.
    Unreadable,
    /// A line is not a JSON object with the record fields.
    Malformed,
    /// A line is JSON but not in canonical form: it was re-written.
    NotCanonical,
    /// `seq` is not the next number: a record was removed, added or moved.
    SeqGap,
    /// `prev` is not the hash of the previous record: a record was edited.
    ChainBreak,
    /// The last line has no newline: a write was cut short.
    IncompleteTail,
    /// The head file names more records than the log has.
    Truncated,
    /// The record at the head's position has another hash.
    HeadMismatch,
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
            Reason::Truncated => "TRUNCATED",
            Reason::HeadMismatch => "HEAD_MISMATCH",
        }
    }
}

/// The first thing wrong with a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the first bad record (0 for the file as a whole).
    pub line: u64,
    /// The sequence number the record should have had.
    pub seq: u64,
    /// What is wrong.
    pub reason: Reason,
    /// In words.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} (seq {}): {}",
            self.reason.code(),
            self.line,
            self.seq,
            self.detail
        )
    }
}

impl std::error::Error for Failure {}

/// Verify the log at `path` and, if present, its head file.
pub fn verify_file(path: &Path) -> Result<Report, Failure> {
    let unreadable = |e: std::io::Error| Failure {
        line: 0,
        seq: 0,
        reason: Reason::Unreadable,
        detail: format!("cannot read {}: {e}", path.display()),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let head_path = Head::path_for(path);
    let head = match std::fs::read_to_string(&head_path) {
        Ok(text) => Some(serde_json::from_str::<Head>(&text).map_err(|e| Failure {
            line: 0,
            seq: 0,
            reason: Reason::Malformed,
            detail: format!("{} does not parse: {e}", head_path.display()),
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(unreadable(e)),
    };
    verify(BufReader::new(file), head.as_ref())
}

/// Verify records read from `reader` against an optional head.
pub fn verify(mut reader: impl BufRead, head: Option<&Head>) -> Result<Report, Failure> {
    let mut prev = GENESIS;
    let mut seq = 0u64;
    let mut line = Vec::new();
    let mut head_checked = false;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| Failure {
            line: seq + 1,
            seq,
            reason: Reason::Unreadable,
            detail: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        let fail = |reason, detail: String| Failure {
            line: seq + 1,
            seq,
            reason,
            detail,
        };
        let Some(record) = line.strip_suffix(b"\n") else {
            return Err(fail(
                Reason::IncompleteTail,
                format!(
                    "the last {} bytes are not a complete record; the {seq} records before it are intact",
                    line.len()
                ),
            ));
        };
        let fields: Map<String, Value> = serde_json::from_slice(record)
            .map_err(|e| fail(Reason::Malformed, format!("not a JSON object: {e}")))?;
        if canonical(&fields) != record {
            return Err(fail(
                Reason::NotCanonical,
                "the record is not in canonical form".into(),
            ));
        }
        let got_seq = fields.get("seq").and_then(Value::as_u64);
        if got_seq != Some(seq) {
            return Err(fail(
                Reason::SeqGap,
                format!(
                    "expected seq {seq}, found {}",
                    got_seq.map_or("none".into(), |s| s.to_string())
                ),
            ));
        }
        let want_prev = hex::encode(prev);
        if fields.get("prev").and_then(Value::as_str) != Some(want_prev.as_str()) {
            return Err(fail(
                Reason::ChainBreak,
                format!(
                    "prev does not match the hash of record {}",
                    seq.wrapping_sub(1) as i64
                ),
            ));
        }
        prev = Sha256::digest(record).into();
        seq += 1;
        if let Some(head) = head
            && head.records == seq
        {
            if head.hash != hex::encode(prev) {
                return Err(Failure {
                    line: seq,
                    seq: seq - 1,
                    reason: Reason::HeadMismatch,
                    detail: "the head file names another hash for this record".into(),
                });
            }
            head_checked = true;
        }
    }
    if let Some(head) = head {
        if head.records > seq {
            return Err(Failure {
                line: seq + 1,
                seq,
                reason: Reason::Truncated,
                detail: format!(
                    "the head file names {} records, the log has {seq}",
                    head.records
                ),
            });
        }
        if head.records == 0 {
            head_checked = true;
        }
    }
    Ok(Report {
        records: seq,
        last_hash: hex::encode(prev),
        head_checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, Event};
    use crate::policy::SyncPolicy;

    /// A log of `n` records and its head, as bytes.
    fn sample(n: u64) -> (Vec<u8>, Head) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        for i in 0..n {
            log.append(None, Event::new("test").field("i", i)).unwrap();
        }
        (std::fs::read(&path).unwrap(), log.head().unwrap())
    }

    fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn check(bytes: &[u8], head: Option<&Head>) -> Result<Report, Failure> {
        verify(bytes, head)
    }

    #[test]
    fn an_intact_log_verifies() {
        let (bytes, head) = sample(5);
        let report = check(&bytes, Some(&head)).unwrap();
        assert_eq!(report.records, 5);
        assert!(report.head_checked);
        assert!(!check(&bytes, None).unwrap().head_checked);
        assert_eq!(check(b"", None).unwrap().records, 0);
    }

    #[test]
    fn every_tamper_is_detected_with_its_reason() {
        let (bytes, head) = sample(5);
        let l = lines(&bytes);
        let join = |ls: &[Vec<u8>]| ls.concat();

        // An edited value: canonical, but the next record's prev breaks.
        let mut edited = l.clone();
        edited[1] = String::from_utf8(edited[1].clone())
            .unwrap()
            .replace("\"i\":1", "\"i\":7")
            .into_bytes();
        let f = check(&join(&edited), Some(&head)).unwrap_err();
        assert_eq!((f.reason, f.line), (Reason::ChainBreak, 3));

        // The last record edited: only the head can tell.
        let mut last = l.clone();
        last[4] = String::from_utf8(last[4].clone())
            .unwrap()
            .replace("\"i\":4", "\"i\":9")
            .into_bytes();
        assert_eq!(
            check(&join(&last), Some(&head)).unwrap_err().reason,
            Reason::HeadMismatch
        );

        // Reordered.
        let mut swapped = l.clone();
        swapped.swap(1, 2);
        assert_eq!(
            check(&join(&swapped), Some(&head)).unwrap_err().reason,
            Reason::SeqGap
        );

        // A record removed from the middle.
        let mut removed = l.clone();
        removed.remove(2);
        assert_eq!(
            check(&join(&removed), Some(&head)).unwrap_err().reason,
            Reason::SeqGap
        );

        // Records removed from the end.
        let f = check(&join(&l[..3]), Some(&head)).unwrap_err();
        assert_eq!((f.reason, f.seq), (Reason::Truncated, 3));

        // Cut in the middle of a record.
        let cut = &bytes[..bytes.len() - 10];
        let f = check(cut, Some(&head)).unwrap_err();
        assert_eq!((f.reason, f.line), (Reason::IncompleteTail, 5));

        // Re-formatted but equivalent JSON.
        let mut spaced = l.clone();
        spaced[0] = String::from_utf8(spaced[0].clone())
            .unwrap()
            .replacen(':', ": ", 1)
            .into_bytes();
        assert_eq!(
            check(&join(&spaced), Some(&head)).unwrap_err().reason,
            Reason::NotCanonical
        );

        // Not JSON at all.
        let mut garbage = l.clone();
        garbage[3] = b"hello\n".to_vec();
        assert_eq!(
            check(&join(&garbage), Some(&head)).unwrap_err().reason,
            Reason::Malformed
        );

        // A duplicated line.
        let mut dup = l.clone();
        dup.insert(2, l[1].clone());
        assert_eq!(
            check(&join(&dup), Some(&head)).unwrap_err().reason,
            Reason::SeqGap
        );
    }
}
