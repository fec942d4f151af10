//! Reading records back: every line parses, is canonical, and continues
//! the sequence and the chain — across segments.

use super::{Failure, Reason};
use crate::log::GENESIS;
use crate::merkle::{Hash, leaf_hash};
use crate::record::canonical;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// One checked record.
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// Its fields.
    pub fields: Map<String, Value>,
    /// Its Merkle leaf hash.
    pub leaf: Hash,
    /// Its line, without the newline.
    pub line: Vec<u8>,
}

/// A record cut short at the end of the last file: a crash mid-write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// The file.
    pub file: PathBuf,
    /// Bytes after the last complete record.
    pub bytes: u64,
}

/// Reads records from log files in order, checking each as it goes.
pub struct Reader {
    files: Vec<PathBuf>,
    current: Option<(usize, Box<dyn BufRead>)>,
    line_no: u64,
    next_seq: u64,
    prev: Hash,
    /// The incomplete last record, once the end is reached.
    pub tail: Option<Tail>,
    buf: Vec<u8>,
}

impl Reader {
    /// A reader over `files`, oldest segment first.
    pub fn new(files: &[PathBuf]) -> Reader {
        Reader {
            files: files.to_vec(),
            current: None,
            line_no: 0,
            next_seq: 0,
            prev: GENESIS,
            tail: None,
            buf: Vec::new(),
        }
    }

    /// A reader over bytes in memory (for tests), named `name`.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Reader {
        let mut r = Reader::new(&[PathBuf::from(name)]);
        r.current = Some((0, Box::new(std::io::Cursor::new(bytes))));
        r
    }

    /// Records read so far.
    pub fn count(&self) -> u64 {
        self.next_seq
    }

    fn file(&self) -> &Path {
        let i = self.current.as_ref().map_or(0, |c| c.0);
        self.files.get(i).map_or(Path::new(""), |p| p.as_path())
    }

    /// A failure at the current line.
    pub fn fail(&self, reason: Reason, detail: String) -> Failure {
        Failure {
            seq: self.next_seq,
            file: Some(self.file().to_path_buf()),
            line: self.line_no,
            reason,
            detail,
        }
    }

    /// The next checked record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record>, Failure> {
        loop {
            if self.current.is_none() {
                if self.files.is_empty() {
                    return Ok(None);
                }
                let index = 0;
                let path = self.files[index].clone();
                let file = std::fs::File::open(&path).map_err(|e| Failure {
                    seq: self.next_seq,
                    file: Some(path.clone()),
                    line: 0,
                    reason: Reason::Unreadable,
                    detail: format!("cannot read {}: {e}", path.display()),
                })?;
                self.current = Some((index, Box::new(BufReader::new(file))));
                self.line_no = 0;
            }
            let Some((index, reader)) = self.current.as_mut() else {
                return Ok(None);
            };
            let index = *index;
            self.buf.clear();
            let n = reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| Failure {
                    seq: self.next_seq,
                    file: self.files.get(index).cloned(),
                    line: self.line_no + 1,
                    reason: Reason::Unreadable,
                    detail: e.to_string(),
                })?;
            if n == 0 {
                // This file is done; the next one continues the chain.
                self.current = None;
                self.files.remove(0);
                continue;
            }
            self.line_no += 1;
            let Some(line) = self.buf.strip_suffix(b"\n") else {
                if self.files.len() > 1 {
                    return Err(self.fail(
                        Reason::IncompleteTail,
                        "a sealed segment ends in a partial record".into(),
                    ));
                }
                self.tail = Some(Tail {
                    file: self.file().to_path_buf(),
                    bytes: n as u64,
                });
                self.current = None;
                self.files.clear();
                return Ok(None);
            };
            let line = line.to_vec();
            return self.check(line).map(Some);
        }
    }

    fn check(&mut self, line: Vec<u8>) -> Result<Record, Failure> {
        let seq = self.next_seq;
        let fields: Map<String, Value> = serde_json::from_slice(&line)
            .map_err(|e| self.fail(Reason::Malformed, format!("not a JSON object: {e}")))?;
        if canonical(&fields).as_deref() != Some(&line[..]) {
            return Err(self.fail(
                Reason::NotCanonical,
                "the record is not in canonical form (RFC 8785): it was re-written".into(),
            ));
        }
        let got = fields.get("seq").and_then(Value::as_u64);
        if got != Some(seq) {
            return Err(self.fail(
                Reason::SeqGap,
                format!(
                    "expected seq {seq}, found {}: a record was removed, added or moved",
                    got.map_or("none".into(), |s| s.to_string())
                ),
            ));
        }
        if fields.get("prev").and_then(Value::as_str) != Some(hex::encode(self.prev).as_str()) {
            return Err(self.fail(
                Reason::ChainBreak,
                match seq {
                    0 => "the first record's prev is not all zeros".into(),
                    _ => format!(
                        "prev is not the hash of record {}: a record was changed",
                        seq - 1
                    ),
                },
            ));
        }
        self.prev = Sha256::digest(&line).into();
        self.next_seq += 1;
        Ok(Record {
            seq,
            leaf: leaf_hash(&line),
            fields,
            line,
        })
    }
}
