//! Checkpoints: the log's size and Merkle root at a moment, signed, in the
//! C2SP `tlog-checkpoint` format.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! time <RFC 3339, UTC>
//!
//! — <key name> <base64(key id ‖ Ed25519 signature)>
//! ```
//!
//! The origin is the signing key's name. `time` is an extension line (the
//! format allows any non-empty lines after the root); `airlock audit
//! verify --max-gap` reads it. A checkpoints file holds the signed notes
//! one after another, each followed by a blank line.

use super::merkle::Hash;
use super::note::{Note, NoteError, SigningKey, VerifierKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// What a checkpoint says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity: the signing key's name.
    pub origin: String,
    /// Number of records.
    pub size: u64,
    /// The Merkle root over them.
    pub root: Hash,
    /// When it was made (RFC 3339), if it says.
    pub time: Option<String>,
}

impl Checkpoint {
    /// The checkpoint's text (the body that is signed).
    pub fn body(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        if let Some(time) = &self.time {
            text.push_str(&format!("time {time}\n"));
        }
        text
    }

    /// The signed note of this checkpoint.
    pub fn sign(&self, key: &SigningKey) -> String {
        key.sign(&self.body())
    }

    /// Parse a checkpoint body.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |what: &str| NoteError(format!("not a checkpoint: {what}"));
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .filter(|l| !(l.starts_with('+') || l.len() > 1 && l.starts_with('0')))
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| bad("the second line is not a tree size"))?;
        let root = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|r| Hash::try_from(r).ok())
            .ok_or_else(|| bad("the third line is not a base64 SHA-256 root"))?;
        let mut time = None;
        for line in lines {
            if line.is_empty() {
                return Err(bad("empty extension line"));
            }
            if let Some(t) = line.strip_prefix("time ") {
                time = Some(t.to_owned());
            }
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }

    /// Parse and check a signed checkpoint note with `key`.
    pub fn open(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
        let note = Note::parse(note)?;
        let text = key.open(&note)?;
        let cp = Checkpoint::parse_body(text)?;
        if cp.origin != key.name() {
            return Err(NoteError(format!(
                "the checkpoint's origin `{}` is not the key's name `{}`",
                cp.origin.escape_debug(),
                key.name()
            )));
        }
        Ok(cp)
    }

    /// The time as a [`std::time::SystemTime`], if present and well-formed.
    pub fn system_time(&self) -> Option<std::time::SystemTime> {
        humantime::parse_rfc3339(self.time.as_deref()?).ok()
    }
}

/// One note of a checkpoints file, as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line where the note starts.
    pub line: usize,
    /// The note's bytes.
    pub note: String,
}

/// The notes of a checkpoints file, and a cut-off last note if a write was
/// interrupted (its byte offset).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entries {
    /// Complete notes, in file order.
    pub notes: Vec<Entry>,
    /// Offset of an incomplete note at the end, if any.
    pub torn_at: Option<usize>,
}

/// Split a checkpoints file into its notes: each is text lines, a blank
/// line, signature lines, and a blank line (or the end of the file).
pub fn split_file(text: &str) -> Entries {
    let mut entries = Entries::default();
    let mut start = 0usize; // byte offset of the current note
    let mut start_line = 1usize;
    let mut seen_blank = false;
    let mut seen_sig = false;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let complete = line.ends_with('\n');
        let body = line.trim_end_matches('\n');
        if !complete {
            break;
        }
        offset += line.len();
        if body.is_empty() {
            if seen_sig {
                entries.notes.push(Entry {
                    line: start_line,
                    note: text[start..offset - 1].to_owned(),
                });
                start = offset;
                start_line = i + 2;
                seen_blank = false;
                seen_sig = false;
            } else if offset - start == 1 {
                // Blank lines between notes.
                start = offset;
                start_line = i + 2;
            } else {
                seen_blank = true;
            }
        } else if seen_blank {
            seen_sig = true;
        }
    }
    if seen_sig && offset == text.len() {
        // The last note without its trailing blank line.
        entries.notes.push(Entry {
            line: start_line,
            note: text[start..offset].to_owned(),
        });
    } else if start < text.len() {
        entries.torn_at = Some(start);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(size: u64) -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size,
            root: [size as u8; 32],
            time: Some("2025-01-02T03:04:05.678Z".into()),
        }
    }

    #[test]
    fn body_is_the_c2sp_layout() {
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 12,
            root: [0; 32],
            time: None,
        };
        assert_eq!(
            cp.body(),
            "example.com/log\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
        );
        assert_eq!(Checkpoint::parse_body(&cp.body()).unwrap(), cp);
        assert_eq!(
            Checkpoint::parse_body(&sample(3).body()).unwrap(),
            sample(3)
        );
        for bad in [
            "",
            "o\n",
            "o\n012\nAAAA\n",
            "o\n1\nnot base64\n",
            "o\n1\nAAAA\n",
            "o\n-1\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signed_checkpoints_open_only_with_their_key() {
        let key = SigningKey::generate("example.com/log").unwrap();
        let note = sample(7).sign(&key);
        assert_eq!(Checkpoint::open(&note, &key.verifier()).unwrap(), sample(7));
        let other = SigningKey::generate("example.com/log").unwrap();
        assert!(Checkpoint::open(&note, &other.verifier()).is_err());
        let renamed = SigningKey::generate("other").unwrap();
        let e = Checkpoint::open(&sample(7).sign(&renamed), &renamed.verifier()).unwrap_err();
        assert!(e.0.contains("origin"), "{e}");
    }

    #[test]
    fn a_file_splits_into_notes_and_names_a_torn_tail() {
        let key = SigningKey::generate("example.com/log").unwrap();
        let (a, b) = (sample(1).sign(&key), sample(2).sign(&key));
        let file = format!("{a}\n{b}\n");
        let e = split_file(&file);
        assert_eq!(
            e.notes.iter().map(|n| &n.note).collect::<Vec<_>>(),
            [&a, &b]
        );
        assert_eq!((e.notes[0].line, e.notes[1].line, e.torn_at), (1, 8, None));
        // Without the last separator.
        assert_eq!(split_file(&format!("{a}\n{b}")).notes.len(), 2);
        // Cut anywhere inside the second note.
        for cut in (1..b.len()).filter(|&c| b.is_char_boundary(c)) {
            let torn = format!("{a}\n{}", &b[..cut]);
            let e = split_file(&torn);
            assert_eq!(e.notes.len(), 1, "cut at {cut}");
            assert_eq!(e.torn_at, Some(a.len() + 1), "cut at {cut}");
        }
        assert_eq!(split_file(""), Entries::default());
    }
}
