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

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroizing;

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

/// A publisher's public key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.id, self.to_base64())
    }
}

impl PublicKey {
    /// The key from its base64 form, like `RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3`.
    pub fn from_base64(text: &str) -> Result<PublicKey, MinisignError> {
        let bytes = decode::<PUBLIC_KEY_LEN>(text.trim(), "public key")?;
        if &bytes[..2] != b"Ed" {
            return Err(malformed("not an Ed25519 minisign public key"));
        }
        let key = VerifyingKey::from_bytes(&array(&bytes[10..]))
            .map_err(|_| malformed("the public key is not a valid Ed25519 key"))?;
        Ok(PublicKey {
            id: KeyId(array(&bytes[2..10])),
            key,
        })
    }

    /// The key from a `.pub` file's text (an untrusted comment line, then
    /// the key), or from the base64 form alone.
    pub fn from_text(text: &str) -> Result<PublicKey, MinisignError> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        match lines.next() {
            Some(first) if first.starts_with(UNTRUSTED) => {
                PublicKey::from_base64(lines.next().unwrap_or(""))
            }
            Some(first) => PublicKey::from_base64(first),
            None => Err(malformed("the public key file is empty")),
        }
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The base64 form, as policies and `minisign -P` take it.
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(PUBLIC_KEY_LEN);
        bytes.extend_from_slice(b"Ed");
        bytes.extend_from_slice(&self.id.0);
        bytes.extend_from_slice(self.key.as_bytes());
        BASE64.encode(bytes)
    }

    /// The text of a `.pub` file.
    pub fn to_text(&self) -> String {
        format!(
            "{UNTRUSTED}minisign public key {}\n{}\n",
            self.id,
            self.to_base64()
        )
    }

    /// Check that `signature` was made with this key over `message`, and
    /// that its trusted comment is the one that was signed.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), MinisignError> {
        if signature.key_id != self.id {
            return Err(MinisignError::WrongKey {
                signature: signature.key_id,
                key: self.id,
            });
        }
        let sig = ed25519_dalek::Signature::from_bytes(&signature.signature);
        let checked = match signature.algorithm {
            Algorithm::Prehashed => self.key.verify_strict(&Blake2b512::digest(message), &sig),
            Algorithm::Legacy => self.key.verify_strict(message, &sig),
        };
        checked.map_err(|_| MinisignError::BadSignature)?;
        let global = ed25519_dalek::Signature::from_bytes(&signature.global);
        self.key
            .verify_strict(&signature.global_message(), &global)
            .map_err(|_| MinisignError::BadTrustedComment)
    }
}

/// A secret signing key. Its `Debug` shows only the key id, and it is
/// wiped from memory when dropped.
pub struct SecretKey {
    id: KeyId,
    key: SigningKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, redacted)", self.id)
    }
}

impl SecretKey {
    /// A new random key pair, from the operating system's random source.
    pub fn generate() -> Result<SecretKey, getrandom::Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut id = [0u8; 8];
        getrandom::fill(seed.as_mut())?;
        getrandom::fill(&mut id)?;
        Ok(SecretKey {
            id: KeyId(id),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key from a secret key file's text.
    pub fn from_text(text: &str) -> Result<SecretKey, MinisignError> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        if !lines.next().is_some_and(|l| l.starts_with(UNTRUSTED)) {
            return Err(malformed(
                "line 1: a minisign secret key file starts with `untrusted comment: `",
            ));
        }
        let bytes = Zeroizing::new(decode::<SECRET_KEY_LEN>(
            lines.next().unwrap_or("").trim(),
            "secret key",
        )?);
        if &bytes[..2] != b"Ed" || &bytes[4..6] != b"B2" {
            return Err(malformed("line 2: not an Ed25519 minisign secret key"));
        }
        match &bytes[2..4] {
            [0, 0] => {}
            b"Sc" => return Err(MinisignError::Encrypted),
            _ => {
                return Err(malformed(
                    "line 2: unknown key derivation in the secret key",
                ));
            }
        }
        let id = KeyId(array(&bytes[54..62]));
        let keypair = Zeroizing::new(array::<64>(&bytes[62..126]));
        let checksum = &bytes[126..];
        if checksum.iter().any(|&b| b != 0) && checksum != checksum_of(id, &keypair).as_slice() {
            return Err(malformed(
                "line 2: the secret key's checksum does not match",
            ));
        }
        let key = SigningKey::from_keypair_bytes(&keypair)
            .map_err(|_| malformed("line 2: the secret key does not match its public half"))?;
        Ok(SecretKey { id, key })
    }

    /// The text of an unencrypted secret key file, readable by `minisign -S`.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_KEY_LEN));
        bytes.extend_from_slice(b"Ed\0\0B2");
        bytes.extend_from_slice(&[0; 48]); // salt, opslimit, memlimit: no KDF
        bytes.extend_from_slice(&self.id.0);
        let keypair = Zeroizing::new(self.key.to_keypair_bytes());
        bytes.extend_from_slice(keypair.as_ref());
        bytes.extend_from_slice(&checksum_of(self.id, &keypair));
        Zeroizing::new(format!(
            "{UNTRUSTED}minisign secret key {} (unencrypted)\n{}\n",
            self.id,
            BASE64.encode(bytes.as_slice())
        ))
    }

    /// The key id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Sign `message` (prehashed, `ED`), with a one-line `trusted_comment`.
    pub fn sign(&self, message: &[u8], trusted_comment: &str) -> Result<Signature, MinisignError> {
        check_trusted_comment(trusted_comment)?;
        let signature = self.key.sign(&Blake2b512::digest(message)).to_bytes();
        let mut sig = Signature {
            algorithm: Algorithm::Prehashed,
            key_id: self.id,
            signature,
            untrusted_comment: format!("signature from airlock secret key {}", self.id),
            trusted_comment: trusted_comment.to_owned(),
            global: [0; 64],
        };
        sig.global = self.key.sign(&sig.global_message()).to_bytes();
        Ok(sig)
    }
}

fn checksum_of(id: KeyId, keypair: &[u8; 64]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(b"Ed");
    h.update(id.0);
    h.update(keypair);
    h.finalize().into()
}

/// A detached signature: the contents of a `.minisig` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// What the signature covers.
    pub algorithm: Algorithm,
    /// The key that made it.
    pub key_id: KeyId,
    signature: [u8; 64],
    /// The first line's comment; not signed, so never trusted.
    pub untrusted_comment: String,
    /// The signed comment (minisign puts a timestamp and the file name here).
    pub trusted_comment: String,
    global: [u8; 64],
}

impl Signature {
    /// Read a `.minisig` file's text.
    pub fn parse(text: &str) -> Result<Signature, MinisignError> {
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        if lines.len() < 4 {
            return Err(malformed(format!(
                "line {} is missing: a minisign signature has four lines",
                lines.len() + 1
            )));
        }
        let line = |n: usize| lines[n - 1];
        let untrusted = line(1).strip_prefix(UNTRUSTED).ok_or_else(|| {
            malformed("line 1: a minisign signature starts with `untrusted comment: `")
        })?;
        let bytes = decode::<SIGNATURE_LEN>(line(2).trim(), "signature")
            .map_err(|e| malformed(format!("line 2: {e}")))?;
        let algorithm = match &bytes[..2] {
            b"ED" => Algorithm::Prehashed,
            b"Ed" => Algorithm::Legacy,
            _ => return Err(malformed("line 2: not an Ed25519 minisign signature")),
        };
        let trusted = line(3).strip_prefix(TRUSTED).ok_or_else(|| {
            malformed("line 3: the third line of a minisign signature is `trusted comment: …`")
        })?;
        check_trusted_comment(trusted).map_err(|e| malformed(format!("line 3: {e}")))?;
        let global = decode::<64>(line(4).trim(), "global signature")
            .map_err(|e| malformed(format!("line 4: {e}")))?;
        if lines.len() > 4 && lines[4..].iter().any(|l| !l.trim().is_empty()) {
            return Err(malformed("line 5: a minisign signature has four lines"));
        }
        Ok(Signature {
            algorithm,
            key_id: KeyId(array(&bytes[2..10])),
            signature: array(&bytes[10..]),
            untrusted_comment: untrusted.to_owned(),
            trusted_comment: trusted.to_owned(),
            global: array(&global),
        })
    }

    /// The `.minisig` file's text.
    pub fn to_text(&self) -> String {
        let mut bytes = Vec::with_capacity(SIGNATURE_LEN);
        bytes.extend_from_slice(match self.algorithm {
            Algorithm::Prehashed => b"ED",
            Algorithm::Legacy => b"Ed",
        });
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.signature);
        format!(
            "{UNTRUSTED}{}\n{}\n{TRUSTED}{}\n{}\n",
            self.untrusted_comment.replace(['\r', '\n'], " "),
            BASE64.encode(bytes),
            self.trusted_comment,
            BASE64.encode(self.global)
        )
    }

    fn global_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + self.trusted_comment.len());
        m.extend_from_slice(&self.signature);
        m.extend_from_slice(self.trusted_comment.as_bytes());
        m
    }
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
