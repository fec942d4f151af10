//! Detached signatures: `.minisig` files.

use super::{
    Algorithm, BASE64, KeyId, MinisignError, SIGNATURE_LEN, TRUSTED, UNTRUSTED, array,
    check_trusted_comment, decode, malformed,
};
use base64::Engine as _;

/// A detached signature: the contents of a `.minisig` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// What the signature covers.
    pub algorithm: Algorithm,
    /// The key that made it.
    pub key_id: KeyId,
    pub(super) signature: [u8; 64],
    /// The first line's comment; not signed, so never trusted.
    pub untrusted_comment: String,
    /// The signed comment (minisign puts a timestamp and the file name here).
    pub trusted_comment: String,
    pub(super) global: [u8; 64],
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

    /// What the global signature covers: the signature and the trusted
    /// comment.
    pub(super) fn global_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + self.trusted_comment.len());
        m.extend_from_slice(&self.signature);
        m.extend_from_slice(self.trusted_comment.as_bytes());
        m
    }
}
