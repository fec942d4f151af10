//! The [minisign] formats, so that publishers can sign with Debian's
//! `minisign` and operators can verify with airlock, and the other way
//! round.
//!
//! - A **public key** is `base64("Ed" ‖ key id (8) ‖ Ed25519 key (32))`,
//!   alone (as in a policy) or under an `untrusted comment:` line (a `.pub`
//!   file).
//! - A **secret key** file is `base64("Ed" ‖ kdf ‖ "B2" ‖ salt (32) ‖
//!   opslimit (8) ‖ memlimit (8) ‖ key id (8) ‖ seed ‖ public key (64) ‖
//!   checksum (32))`. Only unencrypted keys (`kdf` = two zero bytes, as
//!   `minisign -G -W` and `airlock keygen` write them) are read; the checksum
//!   is BLAKE2b-256 of `"Ed" ‖ key id ‖ secret key`, or zeros as minisign
//!   writes it for an unencrypted key.
//! - A **signature** (`.minisig`) is four lines: an untrusted comment,
//!   `base64(algorithm ‖ key id ‖ signature (64))`, `trusted comment: …`,
//!   and the *global signature* over `signature ‖ trusted comment`, which
//!   makes the trusted comment tamper-evident. Algorithm `ED` signs the
//!   BLAKE2b-512 of the file (what minisign writes since 0.10); the legacy
//!   `Ed` signs the file itself. Both verify; airlock writes `ED`.
//!
//! This module is pure: text and bytes in, keys and verdicts out.
//!
//! [minisign]: https://jedisct1.github.io/minisign/

mod key;
mod signature;

pub use key::{PublicKey, SecretKey};
pub use signature::Signature;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::fmt;
use std::str::FromStr;

const UNTRUSTED: &str = "untrusted comment: ";
const TRUSTED: &str = "trusted comment: ";
/// minisign's limit on a trusted comment.
const TRUSTED_COMMENT_MAX: usize = 8192;
const PUBLIC_KEY_LEN: usize = 2 + 8 + 32;
const SIGNATURE_LEN: usize = 2 + 8 + 64;
const SECRET_KEY_LEN: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

/// Why a key or signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MinisignError {
    /// The text is not in the minisign format.
    #[error("{0}")]
    Malformed(String),
    /// The secret key is protected with a password.
    #[error(
        "the secret key is encrypted with a password, which airlock does not read: sign with \
         `minisign -S`, or make an unencrypted key with `airlock keygen` or `minisign -G -W`"
    )]
    Encrypted,
    /// The signature was made with another key than the one checked.
    #[error("it was made with key {signature}, not with key {key}")]
    WrongKey {
        /// The key id the signature names.
        signature: KeyId,
        /// The key id of the key it was checked with.
        key: KeyId,
    },
    /// The signature does not match the file.
    #[error("the signature does not match: the file or its signature was changed after signing")]
    BadSignature,
    /// The trusted comment does not match the global signature.
    #[error("the trusted comment was changed after signing")]
    BadTrustedComment,
}

fn malformed(message: impl Into<String>) -> MinisignError {
    MinisignError::Malformed(message.into())
}

/// A key id: 8 random bytes, shown as minisign shows it (16 upper-case hex
/// digits of the little-endian number).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for KeyId {
    type Err = String;

    fn from_str(s: &str) -> Result<KeyId, String> {
        let ok = s.len() == 16
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        u64::from_str_radix(s, 16)
            .ok()
            .filter(|_| ok)
            .map(|n| KeyId(n.to_le_bytes()))
            .ok_or_else(|| format!("`{s}` is not a key id: expected 16 upper-case hex digits"))
    }
}

/// Which message an Ed25519 signature covers.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `ED`: the BLAKE2b-512 of the file.
    Prehashed,
    /// `Ed`: the file itself (minisign before 0.10).
    Legacy,
}

fn check_trusted_comment(comment: &str) -> Result<(), MinisignError> {
    if comment.contains(['\r', '\n']) || comment.len() > TRUSTED_COMMENT_MAX {
        return Err(malformed(format!(
            "a trusted comment is one line of at most {TRUSTED_COMMENT_MAX} bytes"
        )));
    }
    Ok(())
}

fn decode<const N: usize>(text: &str, what: &str) -> Result<Vec<u8>, MinisignError> {
    let bytes = BASE64
        .decode(text)
        .map_err(|_| malformed(format!("the {what} is not base64")))?;
    if bytes.len() != N {
        return Err(malformed(format!(
            "the {what} has {} bytes, not the {N} of a minisign {what}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The first `N` bytes of `bytes`, which the caller has checked are there.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made with minisign 0.11: `minisign -G -W`, then `minisign -S -m f`
    // with `f` holding "hello\n".
    const PUBLIC: &str = "untrusted comment: minisign public key 3259D7045FF3CEF5\n\
        RWT1zvNfBNdZMvGzttUrFz27FuXEYiz5d9icJDL/TQf5xmEUjBhllmPy\n";
    const SECRET: &str = "untrusted comment: minisign encrypted secret key\n\
        RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA9c7zXwTXWTKr2oirl+ud0nbnhwiMFrB3V40fiYEwKWe5p1kwYNzWVvGzttUrFz27FuXEYiz5d9icJDL/TQf5xmEUjBhllmPyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    const SIGNATURE: &str = "untrusted comment: signature from minisign secret key\n\
        RUT1zvNfBNdZMo8EajHrFIX2Vyq7t/UOf7RKs7TGSiw6WkPByr9O9H5okB2jT5x/goFAlahAgTR17OOl/XoJ0g1NMlfMtol70w4=\n\
        trusted comment: timestamp:1795411950\tfile:f\thashed\n\
        fGpp4Y54mSOTn42Q3+xyHhxlTK9Q4H9jeZz4OZTJzU8vvHhh0eHUmGZRkh3v4xKu/zwUiaWnyiYUGcYhMvokAw==\n";

    #[test]
    fn a_minisign_signature_verifies() {
        let key = PublicKey::from_text(PUBLIC).unwrap();
        assert_eq!(key.id().to_string(), "3259D7045FF3CEF5");
        assert_eq!(key.id(), "3259D7045FF3CEF5".parse().unwrap());
        let sig = Signature::parse(SIGNATURE).unwrap();
        assert_eq!(sig.algorithm, Algorithm::Prehashed);
        assert_eq!(sig.trusted_comment, "timestamp:1795411950\tfile:f\thashed");
        assert_eq!(key.verify(b"hello\n", &sig), Ok(()));
        assert_eq!(
            key.verify(b"hellO\n", &sig),
            Err(MinisignError::BadSignature)
        );
        assert_eq!(Signature::parse(&sig.to_text()).unwrap(), sig);
        // The secret key minisign wrote (unencrypted, zero checksum) is the
        // same key pair.
        let secret = SecretKey::from_text(SECRET).unwrap();
        assert_eq!(secret.public_key(), key);
    }

    #[test]
    fn a_changed_trusted_comment_is_caught() {
        let key = PublicKey::from_text(PUBLIC).unwrap();
        let forged = SIGNATURE.replace("file:f", "file:g");
        let sig = Signature::parse(&forged).unwrap();
        assert_eq!(
            key.verify(b"hello\n", &sig),
            Err(MinisignError::BadTrustedComment)
        );
    }

    #[test]
    fn sign_then_verify_round_trips_through_text() {
        let secret = SecretKey::generate().unwrap();
        let again = SecretKey::from_text(&secret.to_text()).unwrap();
        assert_eq!(again.public_key(), secret.public_key());
        let public = PublicKey::from_text(&secret.public_key().to_text()).unwrap();
        let sig = again.sign(b"component bytes", "file:x.wasm").unwrap();
        let sig = Signature::parse(&sig.to_text()).unwrap();
        assert_eq!(public.verify(b"component bytes", &sig), Ok(()));
        let other = SecretKey::generate().unwrap().public_key();
        assert!(matches!(
            other.verify(b"component bytes", &sig),
            Err(MinisignError::WrongKey { .. })
        ));
        assert!(secret.sign(b"x", "two\nlines").is_err());
        assert!(!format!("{secret:?}").contains(&secret.to_text()[40..60]));
    }

    #[test]
    fn malformed_inputs_say_what_and_where() {
        let cases: &[(&str, &str)] = &[
            ("", "line 1 is missing"),
            ("untrusted comment: x\n", "line 2 is missing"),
            (
                "untrusted comment: x\nnot base64!\ntrusted comment: y\nAAAA\n",
                "line 2: the signature is not base64",
            ),
            (
                "untrusted comment: x\nRWQ=\ntrusted comment: y\nAAAA\n",
                "line 2: the signature has 2 bytes",
            ),
            (
                &SIGNATURE.replace("\ntrusted comment: ", "\ncomment: "),
                "line 3",
            ),
            (
                &SIGNATURE.replace("fGpp4Y54", "fGpp4Y5"),
                "line 4: the global signature is not base64",
            ),
            (&format!("{SIGNATURE}extra\n"), "line 5"),
        ];
        for (text, expected) in cases {
            let e = Signature::parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?} => {e}");
        }
        assert!(PublicKey::from_base64("RWQ").is_err());
        assert!("3259d7045ff3cef5".parse::<KeyId>().is_err());
        let encrypted = "untrusted comment: minisign encrypted secret key\nRWRTY0IypSYEAagnAuHJErCeg3M+3nK4CIYp08M8zC8UErt2SrIAAAACAAAAAAAAAEAAAAAAlQP0iyeXvkQxF1gjgAk2cEnNuiMkyoXMhn2zTUIOYORRNq1z3JB2HyV4OrjDSNgYb7rfug48AilsR9kuqGAdnwYCZ0u0Ofr4Z+89xt2haa2dIXvwA7giKAazeeXR2oXx9KW5f1skLDc=\n";
        assert_eq!(
            SecretKey::from_text(encrypted).unwrap_err(),
            MinisignError::Encrypted
        );
    }
}
