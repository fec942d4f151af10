//! C2SP `signed-note` with Ed25519 keys: the envelope checkpoints travel in.
//!
//! A note is UTF-8 text ending in a newline, a blank line, and one or more
//! signature lines `— <key name> <base64(key id ‖ signature)>`. The key id is
//! the first four bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`; the
//! signature is Ed25519 over the text. Keys are written as Go's
//! `golang.org/x/mod/sumdb/note` writes them, so other tools read them:
//!
//! - verifier key: `<name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>`
//! - signer key: `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey as Ed25519Signing, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The signature algorithm byte of Ed25519 keys.
const ALG_ED25519: u8 = 0x01;

/// The dash that starts a signature line (U+2014 and a space).
const SIG_PREFIX: &str = "\u{2014} ";

/// A malformed key or note, or a signature that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoteError(pub String);

fn err(msg: impl Into<String>) -> NoteError {
    NoteError(msg.into())
}

/// Whether `name` may name a key: not empty, no space or `+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A key that signs checkpoints. Its `Debug` shows the name only.
pub struct SigningKey {
    name: String,
    key: Ed25519Signing,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.name)
    }
}

impl SigningKey {
    /// A new random key named `name`.
    pub fn generate(name: &str) -> Result<SigningKey, NoteError> {
        if !valid_name(name) {
            return Err(err(format!(
                "`{}` cannot name a key: it must be non-empty, without spaces or `+`",
                name.escape_debug()
            )));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *seed).map_err(|e| err(format!("no randomness for a key: {e}")))?;
        Ok(SigningKey {
            name: name.to_owned(),
            key: Ed25519Signing::from_bytes(&seed),
        })
    }

    /// Parse `PRIVATE+KEY+<name>+<id>+<base64>`.
    pub fn parse(text: &str) -> Result<SigningKey, NoteError> {
        let bad = || err("not a signer key (expected PRIVATE+KEY+<name>+<id>+<key>)");
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '+');
        let (name, id, data) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(d)) => (n, i, d),
            _ => return Err(bad()),
        };
        let raw = Zeroizing::new(B64.decode(data).map_err(|_| bad())?);
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => seed.try_into().map_err(|_| bad())?,
            _ => return Err(err("unsupported signer key algorithm (only Ed25519)")),
        };
        let key = Ed25519Signing::from_bytes(&seed);
        let want = hex::encode(key_id(name, key.verifying_key().as_bytes()));
        if !valid_name(name) || id != want {
            return Err(err("the signer key's name or id does not match its key"));
        }
        Ok(SigningKey {
            name: name.to_owned(),
            key,
        })
    }

    /// The key's name, which is also the checkpoints' origin.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoded signer key. Keep it secret.
    pub fn encode(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new(vec![ALG_ED25519]);
        raw.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, self.key.verifying_key().as_bytes())),
            B64.encode(&*raw)
        ))
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        let public = self.key.verifying_key();
        VerifierKey {
            name: self.name.clone(),
            id: key_id(&self.name, public.as_bytes()),
            key: public,
        }
    }

    /// A 32-byte key for `context`, derived from this key's secret (keyed
    /// BLAKE2b): whoever cannot read this key cannot compute it.
    pub fn derive(&self, context: &str) -> Zeroizing<[u8; 32]> {
        use blake2::digest::{Mac as _, consts::U32};
        let mut mac = <blake2::Blake2bMac<U32> as blake2::digest::KeyInit>::new_from_slice(
            self.key.as_bytes(),
        )
        .expect("a 32-byte key is a valid BLAKE2b key");
        mac.update(context.as_bytes());
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// The signed note of `text`, which must end in a newline.
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'));
        let sig = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, self.key.verifying_key().as_bytes()).to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A key that checks checkpoint signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parse `<name>+<id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let bad = || err("not a verifier key (expected <name>+<id>+<key>)");
        let mut parts = text.trim().splitn(3, '+');
        let (name, id, data) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(d)) => (n, i, d),
            _ => return Err(bad()),
        };
        let raw = B64.decode(data).map_err(|_| bad())?;
        let public: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, k)) => k.try_into().map_err(|_| bad())?,
            _ => return Err(err("unsupported verifier key algorithm (only Ed25519)")),
        };
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        let want = key_id(name, &public);
        if !valid_name(name) || id != hex::encode(want) {
            return Err(err("the verifier key's name or id does not match its key"));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id: want,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The encoded verifier key.
    pub fn encode(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }

    /// Check `note` and return its text: a signature by this key must be
    /// among its signatures and verify. Signatures by other keys are
    /// ignored, as the signed-note spec says.
    pub fn open<'n>(&self, note: &'n Note) -> Result<&'n str, NoteError> {
        let mut found = false;
        for sig in &note.signatures {
            if sig.name != self.name || sig.id != self.id {
                continue;
            }
            found = true;
            let signature = ed25519_dalek::Signature::from_bytes(&sig.signature);
            if self
                .key
                .verify_strict(note.text.as_bytes(), &signature)
                .is_ok()
            {
                return Ok(&note.text);
            }
        }
        Err(err(if found {
            format!("the signature by {} does not verify", self.name)
        } else {
            format!("not signed by {} ({})", self.name, hex::encode(self.id))
        }))
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub id: [u8; 4],
    /// The Ed25519 signature.
    pub signature: [u8; 64],
}

/// A parsed, not yet verified, signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Its signatures (of any key).
    pub signatures: Vec<Signature>,
}

impl Note {
    /// Parse a whole note: text, blank line, signature lines.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| err("a note needs a blank line before its signatures"))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(err("a note's text has control characters"));
        }
        if !sigs.ends_with('\n') {
            return Err(err("a note ends with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| err("a signature line starts with \"\u{2014} \""))?;
            let (name, blob) = rest
                .split_once(' ')
                .ok_or_else(|| err("a signature line is \"\u{2014} <name> <signature>\""))?;
            let raw = B64
                .decode(blob)
                .map_err(|_| err("a signature is not base64"))?;
            if raw.len() != 4 + 64 || !valid_name(name) {
                // Other algorithms' signatures are allowed and ignored.
                continue;
            }
            signatures.push(Signature {
                name: name.to_owned(),
                id: [raw[0], raw[1], raw[2], raw[3]],
                signature: raw[4..].try_into().map_err(|_| err("bad signature"))?,
            });
        }
        if signatures.is_empty() {
            return Err(err("a note has no Ed25519 signature"));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note: the documented example key and note.
    const PETER_SIGNER: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VERIFIER: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const SIGNED: &str = "If you think cryptography is the answer to your problem,\n\
                          then you don't know what your problem is.\n\
                          \n\
                          \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_sumdb_note_known_answer() {
        let signer = SigningKey::parse(PETER_SIGNER).unwrap();
        assert_eq!(signer.verifier().encode(), PETER_VERIFIER);
        assert_eq!(&*signer.encode(), PETER_SIGNER);
        // Ed25519 is deterministic: the same key signs the same bytes.
        assert_eq!(signer.sign(TEXT), SIGNED);
        let verifier = VerifierKey::parse(PETER_VERIFIER).unwrap();
        assert_eq!(verifier.open(&Note::parse(SIGNED).unwrap()).unwrap(), TEXT);
    }

    #[test]
    fn tampered_notes_and_wrong_keys_are_refused() {
        let verifier = VerifierKey::parse(PETER_VERIFIER).unwrap();
        let edited = SIGNED.replacen("cryptography", "cryptographY", 1);
        assert!(verifier.open(&Note::parse(&edited).unwrap()).is_err());
        let other = SigningKey::generate("PeterNeumann").unwrap();
        let forged = Note::parse(&other.sign(TEXT)).unwrap();
        let e = verifier.open(&forged).unwrap_err();
        assert!(e.0.contains("not signed by PeterNeumann"), "{e}");
        for bad in [
            "",
            "no blank line\n",
            "text\n\nnot a signature\n",
            "text\n\n\u{2014} k AAAA",
        ] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn manglings_of_a_key_are_refused() {
        assert!(VerifierKey::parse(PETER_VERIFIER).is_ok());
        let bytes = PETER_VERIFIER.as_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.to_vec();
            b[i] = b[i].wrapping_add(1);
            if let Ok(s) = String::from_utf8(b) {
                assert!(VerifierKey::parse(&s).is_err(), "{s}");
            }
        }
        assert!(SigningKey::parse(PETER_VERIFIER).is_err());
        assert!(SigningKey::generate("has space").is_err());
        assert!(SigningKey::generate("has+plus").is_err());
    }

    #[test]
    fn generated_keys_round_trip() {
        let k = SigningKey::generate("ci.example/airlock").unwrap();
        let again = SigningKey::parse(&k.encode()).unwrap();
        assert_eq!(again.verifier(), k.verifier());
        let v = VerifierKey::parse(&k.verifier().encode()).unwrap();
        let note = Note::parse(&k.sign("hello\n")).unwrap();
        assert_eq!(v.open(&note).unwrap(), "hello\n");
        assert_eq!(format!("{k:?}"), "SigningKey(ci.example/airlock)");
    }
}
