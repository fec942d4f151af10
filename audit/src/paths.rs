//! The files of one audit log, all named after it.
//!
//! For a log at `dir/airlock-audit.jsonl`:
//!
//! | file | what |
//! |---|---|
//! | `airlock-audit.jsonl` | the active segment, appended to |
//! | `airlock-audit.000000001000.jsonl` | a sealed segment, first record seq 1000 |
//! | `airlock-audit.checkpoints` | signed checkpoints (unless the policy names another file) |
//! | `airlock-audit.key`, `.pub` | the generated signing key and its verifier key (when the policy names none) |
//! | `airlock-audit.state` | the writer's resume point: tree frontier, offset, open intents — a cache, never trusted by `verify` |
//! | `airlock-audit.lock` | held while a host writes the log |
//! | `airlock-audit.jsonl.torn-<offset>` | a record cut short by a crash, moved aside |

use std::path::{Path, PathBuf};

/// Where each file of a log lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The active segment.
    pub log: PathBuf,
}

impl Paths {
    /// The files of the log at `log`.
    pub fn new(log: &Path) -> Paths {
        Paths {
            log: log.to_path_buf(),
        }
    }

    fn sibling(&self, ext: &str) -> PathBuf {
        self.log.with_extension(ext)
    }

    /// The sealed segment whose first record is `first`.
    pub fn segment(&self, first: u64) -> PathBuf {
        let ext = self.log.extension().and_then(|e| e.to_str()).unwrap_or("");
        self.log
            .with_extension(format!("{first:012}.{ext}").trim_end_matches('.'))
    }

    /// The sealed segments that exist, in order.
    pub fn segments(&self) -> std::io::Result<Vec<PathBuf>> {
        let dir = match self.log.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let stem = self.log.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(found.into_iter().map(|(_, p)| p).collect());
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(rest) = name.strip_prefix(stem).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let digits = rest.split('.').next().unwrap_or("");
            if digits.len() == 12
                && digits.bytes().all(|b| b.is_ascii_digit())
                && let Ok(first) = digits.parse::<u64>()
                && path == self.segment(first)
            {
                found.push((first, path));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    /// The writer's resume point.
    pub fn state(&self) -> PathBuf {
        self.sibling("state")
    }

    /// The lock held by the writing host.
    pub fn lock(&self) -> PathBuf {
        self.sibling("lock")
    }

    /// The default checkpoints file.
    pub fn checkpoints(&self) -> PathBuf {
        self.sibling("checkpoints")
    }

    /// The generated signing key.
    pub fn key(&self) -> PathBuf {
        self.sibling("key")
    }

    /// The verifier key of a signing key file.
    pub fn public_of(key: &Path) -> PathBuf {
        key.with_extension("pub")
    }

    /// Where a torn tail found at `offset` is moved.
    pub fn torn(&self, offset: u64) -> PathBuf {
        PathBuf::from(format!("{}.torn-{offset}", self.log.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let p = Paths::new(Path::new("/var/log/airlock-audit.jsonl"));
        assert_eq!(
            p.segment(1000),
            Path::new("/var/log/airlock-audit.000000001000.jsonl")
        );
        assert_eq!(
            p.checkpoints(),
            Path::new("/var/log/airlock-audit.checkpoints")
        );
        assert_eq!(p.state(), Path::new("/var/log/airlock-audit.state"));
        assert_eq!(
            Paths::public_of(&p.key()),
            Path::new("/var/log/airlock-audit.pub")
        );
        let bare = Paths::new(Path::new("audit"));
        assert_eq!(bare.segment(7), Path::new("audit.000000000007"));
    }

    #[test]
    fn segments_are_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = Paths::new(&dir.path().join("a.jsonl"));
        for f in [2000, 0, 1000] {
            std::fs::write(p.segment(f), "").unwrap();
        }
        std::fs::write(dir.path().join("a.checkpoints"), "").unwrap();
        std::fs::write(dir.path().join("a.12.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("ab.000000000005.jsonl"), "").unwrap();
        assert_eq!(
            p.segments().unwrap(),
            [p.segment(0), p.segment(1000), p.segment(2000)]
        );
    }
}
