//! Public and secret keys.

use super::{
    Algorithm, BASE64, KeyId, MinisignError, PUBLIC_KEY_LEN, SECRET_KEY_LEN, Signature, UNTRUSTED,
    array, check_trusted_comment, decode, malformed,
};
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Blake2b512, Digest as _};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use std::fmt;
use zeroize::Zeroizing;

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
