//! The SHA-256 digest that names one exact component.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// The SHA-256 of a component's bytes, written `sha256:<64 hex digits>` —
/// the same hex `sha256sum` prints.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The length of a digest's text: `sha256:` and 64 hex digits.
    pub const TEXT_LEN: usize = PREFIX.len() + 64;

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex without the `sha256:` prefix, as `sha256sum` prints it.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// The digest as `Display` writes it, in `buf` rather than a new
    /// `String`: every audit record of a run carries it.
    pub fn text<'b>(&self, buf: &'b mut [u8; Digest::TEXT_LEN]) -> &'b str {
        let (prefix, digits) = buf.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        hex_into(&self.0, digits);
        // Only ASCII was written.
        std::str::from_utf8(buf).unwrap_or_default()
    }
}

const PREFIX: &str = "sha256:";

/// Lower-case hex of `bytes` (what `hex::encode` returns, without its
/// per-character iterator: this is on every audit record's path).
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0; bytes.len() * 2];
    hex_into(bytes, &mut out);
    // Only ASCII digits were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Write the lower-case hex of `bytes` into `out`, which holds exactly
/// twice as many bytes.
pub fn hex_into(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (&b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
}

impl From<[u8; 32]> for Digest {
    fn from(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(&mut [0; Digest::TEXT_LEN]))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix(PREFIX).ok_or_else(|| {
            format!("`{s}` is not a digest: write sha256:<64 hex digits>, as `airlock inspect` prints it")
        })?;
        let mut bytes = [0u8; 32];
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "`{s}` is not a digest: expected 64 lower-case hex digits after sha256:"
            ));
        }
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| {
            format!("`{s}` is not a digest: expected 64 lower-case hex digits after sha256:")
        })?;
        Ok(Digest(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Digest;

    #[test]
    fn hex_is_hex_encode() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(super::hex(&bytes), hex::encode(&bytes));
        assert_eq!(super::hex(&[]), "");
    }

    #[test]
    fn known_answer_and_round_trip() {
        // sha256 of the empty string.
        let empty = Digest::of(b"");
        assert_eq!(
            empty.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(empty.to_string().parse::<Digest>(), Ok(empty));
        let mut buf = [0; Digest::TEXT_LEN];
        assert_eq!(empty.text(&mut buf), empty.to_string());
    }

    #[test]
    fn malformed_digests_are_refused() {
        for bad in [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:z3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
    }
}
