//! Where the server listens, and who may talk to it there: a Unix socket
//! whose file permission is its authentication, or TCP with bearer tokens
//! and/or TLS.

use crate::ServeError;
use airlock::rules::opfile;
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq as _;

/// One address to listen on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A Unix socket at this path, mode 0600 (0660 with a socket group).
    Unix(PathBuf),
    /// A TCP address; needs tokens or client certificates, and TLS unless it
    /// is a loopback address.
    Tcp(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;

    /// `unix:PATH` or `tcp:HOST:PORT` (an IP address, `[::1]:PORT` for v6).
    fn from_str(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a path, as in unix:/run/airlock.sock".into());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = text.strip_prefix("tcp:") {
            return addr.parse().map(Listen::Tcp).map_err(|_| {
                format!(
                    "`{addr}` is not an IP address and port, as in tcp:127.0.0.1:8470 or \
                     tcp:[::1]:8470"
                )
            });
        }
        Err(format!(
            "`{text}` is not an address to listen on: use unix:PATH or tcp:HOST:PORT"
        ))
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(path) => write!(f, "unix:{}", path.display()),
            Listen::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

/// The bearer tokens a TCP caller may present, each with the name that
/// the audit log records for its runs. Only their SHA-256 digests are kept.
#[derive(Clone, Default)]
pub struct Tokens {
    by_digest: Vec<([u8; 32], String)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.by_digest.iter().map(|(_, n)| n.as_str()).collect();
        f.debug_struct("Tokens").field("names", &names).finish()
    }
}

/// The shortest token accepted: 128 bits as hex.
const MIN_TOKEN: usize = 32;

impl Tokens {
    /// Read a token file: one `NAME TOKEN` per line, `#` comments and blank
    /// lines ignored. The file must be readable by its owner only, and each
    /// token at least 32 characters.
    pub fn load(path: &Path) -> Result<Tokens, ServeError> {
        let bad = |why: String| ServeError::Tokens(format!("{}: {why}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        if !meta.is_file() {
            return Err(bad("is not a regular file".into()));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(bad(format!(
                "is readable by others (mode {:o}): tokens are secrets; chmod 600 it",
                meta.permissions().mode() & 0o777
            )));
        }
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(bad(
                "belongs to another user; the server's user must own it".into(),
            ));
        }
        let bytes = opfile::read_operator_file(path, opfile::KEY_MAX, "token file")
            .map_err(|e| bad(format!("cannot be read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 text".into()))?;
        Tokens::parse(&text).map_err(|(line, why)| bad(format!("line {line}: {why}")))
    }

    /// Tokens from the text of a token file; an error names the line.
    pub fn parse(text: &str) -> Result<Tokens, (usize, String)> {
        let mut tokens = Tokens::default();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(name), Some(token), None) = (words.next(), words.next(), words.next()) else {
                return Err((i + 1, "expected `NAME TOKEN`".into()));
            };
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
            {
                return Err((i + 1, "a name is letters, digits and - _ . @ only".into()));
            }
            if token.len() < MIN_TOKEN {
                return Err((
                    i + 1,
                    format!("the token for {name} is shorter than {MIN_TOKEN} characters"),
                ));
            }
            let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if tokens.by_digest.iter().any(|(d, _)| *d == digest) {
                return Err((i + 1, format!("the token for {name} is given twice")));
            }
            tokens.by_digest.push((digest, name.to_owned()));
        }
        if tokens.by_digest.is_empty() {
            return Err((0, "has no token".into()));
        }
        Ok(tokens)
    }

    /// The name of the token `presented`, if it is one. Every known token is
    /// compared, each in constant time.
    pub fn check(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for (known, name) in &self.by_digest {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse_or_say_what_is_wrong() {
        assert_eq!(
            "unix:/tmp/a.sock".parse::<Listen>(),
            Ok(Listen::Unix("/tmp/a.sock".into()))
        );
        assert_eq!(
            "tcp:127.0.0.1:8470".parse::<Listen>(),
            Ok(Listen::Tcp(
                "127.0.0.1:8470".parse().unwrap_or_else(|_| unreachable!())
            ))
        );
        assert!("tcp:[::1]:1".parse::<Listen>().is_ok());
        for bad in ["unix:", "tcp:localhost:80", "tcp:1.2.3.4", "http://x", ""] {
            assert!(bad.parse::<Listen>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_named_long_and_unique() {
        let t = "a".repeat(32);
        let tokens = Tokens::parse(&format!("# ci\n\nci {t}\nops {}\n", "b".repeat(40)))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(tokens.check(&t), Some("ci"));
        assert_eq!(tokens.check(&"b".repeat(40)), Some("ops"));
        assert_eq!(tokens.check(&"a".repeat(31)), None);
        assert_eq!(tokens.check(""), None);
        let bad = [
            format!("ci {}", "a".repeat(31)),
            format!("ci {t} extra"),
            "ci".to_owned(),
            format!("c/i {t}"),
            format!("a {t}\nb {t}"),
            "# only a comment".to_owned(),
        ];
        for text in bad {
            assert!(Tokens::parse(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_token_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("tokens");
        std::fs::write(&path, format!("ci {}\n", "a".repeat(32))).unwrap_or_else(|e| panic!("{e}"));
        for (mode, ok) in [(0o600, true), (0o400, true), (0o640, false), (0o604, false)] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"));
            let loaded = Tokens::load(&path);
            assert_eq!(loaded.is_ok(), ok, "mode {mode:o}: {loaded:?}");
            if let Err(e) = loaded {
                assert!(e.to_string().contains("chmod 600"), "{e}");
            }
        }
        // Oversized or not a regular file: refused unread past its cap.
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(70 * 1024)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        let e = Tokens::load(&big)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("cannot be read"), "{e}");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap_or_else(|e| panic!("{e}"));
        assert!(Tokens::load(&sub).is_err());
    }
}
