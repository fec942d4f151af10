//! The append-only writer behind every record.

use super::RunInfo;
use super::record::{Event, canonical};
use crate::policy::SyncPolicy;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// The audit log could not be written: the host refuses to act unrecorded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit unavailable: {0}")]
pub struct AuditError(pub String);

/// The `prev` of the first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The last record's position, kept beside the log in `<log>.head` so that
/// records removed from the end are detected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Number of records in the log.
    pub records: u64,
    /// Hex SHA-256 of the last record (64 zeros for an empty log).
    pub hash: String,
    /// When the head was written.
    pub time: String,
}

impl Head {
    /// The head file of the log at `log`.
    pub fn path_for(log: &Path) -> PathBuf {
        let mut name = log.as_os_str().to_owned();
        name.push(".head");
        PathBuf::from(name)
    }
}

/// One host's audit log: a JSON Lines file and the state to extend its chain.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    writer: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: File,
    /// Length of the file up to the last complete record.
    len: u64,
    next_seq: u64,
    prev: [u8; 32],
    sync: SyncPolicy,
    /// Set when a failed write could not be undone; nothing is appended
    /// after a record that may be torn.
    broken: Option<String>,
    buf: Vec<u8>,
}

impl AuditLog {
    /// Open (or create) the log at `path` and find where its chain ends.
    ///
    /// A torn last line — a crash in the middle of a write — is moved to
    /// `<log>.torn-<offset>` before anything is appended, so the chain goes
    /// on from the last complete record and nothing is lost.
    pub fn open(path: &Path, sync: SyncPolicy) -> Result<AuditLog, AuditError> {
        let unavailable =
            |what: &str, e: std::io::Error| AuditError(format!("{what} {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| unavailable("cannot create the directory of", e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| unavailable("cannot open", e))?;
        let tail = read_tail(&mut file).map_err(|e| unavailable("cannot read", e))?;
        if let Some(torn) = &tail.torn {
            let aside = PathBuf::from(format!("{}.torn-{}", path.display(), tail.complete_len));
            std::fs::write(&aside, torn)
                .map_err(|e| unavailable("cannot save the torn tail of", e))?;
            file.set_len(tail.complete_len)
                .map_err(|e| unavailable("cannot truncate the torn tail of", e))?;
            tracing::warn!(log = %path.display(), saved = %aside.display(), "audit log ended in a torn record; moved it aside");
        }
        let (next_seq, prev) = match &tail.last_line {
            None => (0, GENESIS),
            Some(line) => {
                let seq = serde_json::from_slice::<Value>(line)
                    .ok()
                    .and_then(|v| v.get("seq").and_then(Value::as_u64))
                    .ok_or_else(|| {
                        AuditError(format!(
                            "the last record of {} does not parse; run `airlock audit verify {}`",
                            path.display(),
                            path.display()
                        ))
                    })?;
                (seq + 1, Sha256::digest(line).into())
            }
        };
        Ok(AuditLog {
            path: path.to_path_buf(),
            writer: Mutex::new(Writer {
                file,
                len: tail.complete_len,
                next_seq,
                prev,
                sync,
                broken: None,
                buf: Vec::with_capacity(1024),
            }),
        })
    }

    /// The log's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one record, durably if the sync policy says so, and return its
    /// sequence number. `run` is `None` for records about the host itself.
    pub fn append(&self, run: Option<&RunInfo>, event: Event) -> Result<u64, AuditError> {
        let mut fields = event.fields;
        let mut w = self.lock()?;
        if let Some(why) = &w.broken {
            return Err(AuditError(why.clone()));
        }
        let seq = w.next_seq;
        fields.insert("v".into(), 1.into());
        fields.insert("seq".into(), seq.into());
        fields.insert("time".into(), now().into());
        fields.insert("prev".into(), hex::encode(w.prev).into());
        if let Some(run) = run {
            fields.insert("run".into(), run.run.clone().into());
            fields.insert("action".into(), run.action.clone().into());
            fields.insert("digest".into(), run.digest.to_string().into());
        }
        let line = canonical(&fields);
        let hash: [u8; 32] = Sha256::digest(&line).into();

        let w = &mut *w;
        w.buf.clear();
        w.buf.extend_from_slice(&line);
        w.buf.push(b'\n');
        let written = w.file.write_all(&w.buf).and_then(|()| match w.sync {
            SyncPolicy::Always => w.file.sync_data(),
            SyncPolicy::None => Ok(()),
        });
        if let Err(e) = written {
            // Undo a partial write so the chain stays whole; if even that
            // fails, nothing more may be appended after a torn record.
            if let Err(undo) = w.file.set_len(w.len) {
                w.broken = Some(format!(
                    "a write to {} failed ({e}) and could not be undone ({undo})",
                    self.path.display()
                ));
            }
            return Err(AuditError(format!(
                "cannot write to {}: {e}",
                self.path.display()
            )));
        }
        w.len += w.buf.len() as u64;
        w.next_seq = seq + 1;
        w.prev = hash;
        Ok(seq)
    }

    /// The position of the last record.
    pub fn head(&self) -> Result<Head, AuditError> {
        let w = self.lock()?;
        Ok(Head {
            records: w.next_seq,
            hash: hex::encode(w.prev),
            time: now(),
        })
    }

    /// Write the head file (atomically: a temporary file, then a rename),
    /// under the writer's lock so it always names a record that exists.
    pub fn write_head(&self) -> Result<(), AuditError> {
        let w = self.lock()?;
        let head = Head {
            records: w.next_seq,
            hash: hex::encode(w.prev),
            time: now(),
        };
        let path = Head::path_for(&self.path);
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let text = serde_json::to_string(&head).unwrap_or_default() + "\n";
        let fail = |e: std::io::Error| AuditError(format!("cannot write {}: {e}", path.display()));
        let mut f = File::create(&tmp).map_err(fail)?;
        f.write_all(text.as_bytes()).map_err(fail)?;
        f.sync_data().map_err(fail)?;
        std::fs::rename(&tmp, &path).map_err(fail)?;
        drop(w);
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Writer>, AuditError> {
        self.writer
            .lock()
            .map_err(|_| AuditError("the audit writer was poisoned by a panic".into()))
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

struct Tail {
    /// The last complete line, without its newline.
    last_line: Option<Vec<u8>>,
    /// Bytes after the last newline: a record cut short by a crash.
    torn: Option<Vec<u8>>,
    /// Length of the file up to and including the last newline.
    complete_len: u64,
}

/// Read backwards from the end only as far as the last two newlines.
fn read_tail(file: &mut File) -> std::io::Result<Tail> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.seek(SeekFrom::End(0))?;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    loop {
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        // The last complete line lies between the last two newlines.
        if start == 0 || tail.iter().filter(|&&b| b == b'\n').count() >= 2 {
            break;
        }
    }
    let (complete, torn) = match tail.iter().rposition(|&b| b == b'\n') {
        Some(i) => (&tail[..=i], &tail[i + 1..]),
        None => (&tail[..0], &tail[..]),
    };
    let complete_len = start + complete.len() as u64;
    let body = complete.strip_suffix(b"\n").unwrap_or(complete);
    let last_line = match body.iter().rposition(|&b| b == b'\n') {
        Some(i) => Some(body[i + 1..].to_vec()),
        // No newline before it: the loop read back to the start of the file.
        None => (!body.is_empty()).then(|| body.to_vec()),
    };
    Ok(Tail {
        last_line,
        torn: (!torn.is_empty()).then(|| torn.to_vec()),
        complete_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify;

    fn run() -> RunInfo {
        RunInfo {
            run: "r1".into(),
            action: "a@1.0.0".into(),
            digest: crate::provenance::Digest::of(b"x"),
        }
    }

    #[test]
    fn appends_chain_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        assert_eq!(
            log.append(Some(&run()), Event::new("run.start").allow())
                .unwrap(),
            0
        );
        assert_eq!(log.append(None, Event::new("host.note")).unwrap(), 1);
        drop(log);
        let log = AuditLog::open(&path, SyncPolicy::Always).unwrap();
        assert_eq!(log.append(Some(&run()), Event::new("run.end")).unwrap(), 2);
        log.write_head().unwrap();
        let report = verify::verify_file(&path).unwrap();
        assert_eq!(report.records, 3);
        assert!(report.head_checked);
    }

    #[test]
    fn a_torn_tail_is_moved_aside_and_the_chain_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        log.append(None, Event::new("one")).unwrap();
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"half\":").unwrap();
        drop(f);
        let complete_len = std::fs::metadata(&path).unwrap().len() - 8;
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        assert_eq!(log.append(None, Event::new("two")).unwrap(), 1);
        let saved = std::fs::read(format!("{}.torn-{complete_len}", path.display())).unwrap();
        assert_eq!(saved, b"{\"half\":");
        assert_eq!(verify::verify_file(&path).unwrap().records, 2);
    }

    #[test]
    fn long_records_are_found_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        for _ in 0..40 {
            // Each record is larger than one read chunk when many are joined.
            log.append(None, Event::new("big").field("pad", "x".repeat(5000)))
                .unwrap();
        }
        drop(log);
        let log = AuditLog::open(&path, SyncPolicy::None).unwrap();
        assert_eq!(log.append(None, Event::new("after")).unwrap(), 40);
        assert_eq!(verify::verify_file(&path).unwrap().records, 41);
    }
}
