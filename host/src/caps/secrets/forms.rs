//! The forms a secret's value takes in text — plain, hex in any case,
//! percent-encoded, base64 and base64url at every alignment — so one place
//! decides whether a text carries a secret: redaction of what leaves a run
//! ([`Redactor`](super::Redactor)), the network's search of requests to
//! hosts outside a secret's audience, and its scrubbing of responses.
//!
//! Recognising encodings is best effort: a value that was split, encrypted
//! or encoded some other way is not found, which is why placeholders are
//! the way to send a secret. This module is pure: it works on bytes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Where `needle` first occurs in `haystack`.
pub(crate) fn position(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Values shorter than this are not looked for: a two-letter value is in
/// every text.
pub const MIN_LEN: usize = 4;

/// The forms of one secret's value that scans look for.
pub struct Forms {
    name: String,
    /// (form name, bytes), all wiped when dropped.
    forms: Vec<(&'static str, Zeroizing<Vec<u8>>)>,
    plain: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Forms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Forms({}, {} forms)", self.name, self.forms.len())
    }
}

impl Forms {
    /// The forms of secret `name`'s `value`; `None` when the value is too
    /// short to look for.
    pub fn new(name: &str, value: &[u8]) -> Option<Forms> {
        if value.len() < MIN_LEN {
            return None;
        }
        let mut forms: Vec<(&'static str, Zeroizing<Vec<u8>>)> = Vec::new();
        let mut add = |label: &'static str, form: Vec<u8>| {
            let form = Zeroizing::new(form);
            if form.len() >= MIN_LEN && !forms.iter().any(|(_, f)| *f == form) {
                forms.push((label, form));
            }
        };
        add("plain", value.to_vec());
        add("hex", hex::encode(value).into_bytes());
        add("hex", hex::encode_upper(value).into_bytes());
        add("URL-encoded", percent_encode(value).into_bytes());
        // Base64 of a value inside a longer text depends on where it starts
        // within a 3-byte group: keep the characters that depend only on
        // the value, for each of the three alignments.
        for skip in 0..3usize {
            let mut shifted = vec![0u8; skip];
            shifted.extend_from_slice(value);
            let first = (8 * skip).div_ceil(6);
            let last = 8 * (skip + value.len()) / 6;
            for (label, engine) in [
                ("base64", &STANDARD_NO_PAD),
                ("base64url", &URL_SAFE_NO_PAD),
            ] {
                let encoded = engine.encode(&shifted).into_bytes();
                add(label, encoded[first..last.min(encoded.len())].to_vec());
            }
        }
        Some(Forms {
            name: name.to_owned(),
            forms,
            plain: Zeroizing::new(value.to_vec()),
        })
    }

    /// The secret's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The first form of the value found in `haystack`, by name. Text that
    /// is percent-encoded (or form-encoded) is also decoded and searched,
    /// so any mix of encoded and plain characters is found.
    pub fn find_in(&self, haystack: &[u8]) -> Option<&'static str> {
        if let Some((label, _)) = self
            .forms
            .iter()
            .find(|(_, f)| position(haystack, f).is_some())
        {
            return Some(label);
        }
        let lower = Zeroizing::new(haystack.to_ascii_lowercase());
        let hex = Zeroizing::new(hex::encode(&*self.plain).into_bytes());
        if position(&lower, &hex).is_some() {
            return Some("hex");
        }
        if haystack.contains(&b'%') || haystack.contains(&b'+') {
            for plus_is_space in [false, true] {
                let decoded = percent_decode(haystack, plus_is_space);
                if position(&decoded, &self.plain).is_some() {
                    return Some("URL-encoded");
                }
            }
        }
        None
    }

    /// Whether a host name carries the value (plain or hex, in any case) —
    /// a name is sent to DNS servers before any request is made.
    pub fn find_in_host(&self, host: &str) -> Option<&'static str> {
        let host = host.to_ascii_lowercase();
        let plain = Zeroizing::new(self.plain.to_ascii_lowercase());
        let hex = Zeroizing::new(hex::encode(&*self.plain).into_bytes());
        if position(host.as_bytes(), &plain).is_some() {
            Some("plain")
        } else if position(host.as_bytes(), &hex).is_some() {
            Some("hex")
        } else {
            None
        }
    }

    /// `haystack` with every form of the value replaced by
    /// `[redacted:NAME]`, or `None` when there was none.
    pub fn scrub(&self, haystack: &[u8]) -> Option<Vec<u8>> {
        let replacement = format!("[redacted:{}]", self.name).into_bytes();
        let mut out: Option<Vec<u8>> = None;
        let mut forms: Vec<&Zeroizing<Vec<u8>>> = self.forms.iter().map(|(_, f)| f).collect();
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        for form in forms {
            let text = out.as_deref().unwrap_or(haystack);
            if position(text, form).is_none() {
                continue;
            }
            let mut replaced = Vec::with_capacity(text.len());
            let mut at = 0;
            while let Some(i) = position(&text[at..], form) {
                replaced.extend_from_slice(&text[at..at + i]);
                replaced.extend_from_slice(&replacement);
                at += i + form.len();
            }
            replaced.extend_from_slice(&text[at..]);
            out = Some(replaced);
        }
        out
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` decoded, and `+` read as a space when `plus_is_space` (as form
/// bodies and queries write it); anything malformed is kept as it is.
fn percent_decode(bytes: &[u8], plus_is_space: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    /// Its base64 has both `+` and `/`, so base64url differs.
    const VALUE: &[u8] = b"s3cr3t/tok>>>en+value???";

    #[test]
    fn exposed_values_are_found_in_any_encoding() {
        let forms = Forms::new("TOKEN", VALUE).unwrap();
        let text = String::from_utf8(VALUE.to_vec()).unwrap();
        assert_ne!(STANDARD.encode(VALUE), URL_SAFE.encode(VALUE));
        let in_longer = |prefix: &str| {
            let mut v = prefix.as_bytes().to_vec();
            v.extend_from_slice(VALUE);
            v.extend_from_slice(b"!");
            STANDARD.encode(v).into_bytes()
        };
        let mixed_case_hex: String = hex::encode(VALUE)
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (VALUE.to_vec(), "plain"),
            (
                format!("x={}", STANDARD.encode(VALUE)).into_bytes(),
                "base64",
            ),
            (URL_SAFE.encode(VALUE).into_bytes(), "base64url"),
            // Inside a longer base64 text (HTTP Basic), at every alignment.
            (in_longer("user:"), "base64"),
            (in_longer("u:"), "base64"),
            (in_longer("us:"), "base64"),
            (hex::encode(VALUE).into_bytes(), "hex"),
            (hex::encode_upper(VALUE).into_bytes(), "hex"),
            (mixed_case_hex.into_bytes(), "hex"),
            (percent_encode(VALUE).into_bytes(), "URL-encoded"),
            (
                percent_encode(VALUE).to_lowercase().into_bytes(),
                "URL-encoded",
            ),
            // Only some characters encoded.
            (
                format!("q={}", text.replace('/', "%2f").replace('?', "%3F")).into_bytes(),
                "URL-encoded",
            ),
        ];
        for (text, label) in cases {
            assert_eq!(
                forms.find_in(&text),
                Some(label),
                "{}",
                String::from_utf8_lossy(&text)
            );
        }
        for clean in [&b"nothing to see"[..], b"s3cr3t/tok>>>en", b"czNjcjN0"] {
            assert_eq!(
                forms.find_in(clean),
                None,
                "{}",
                String::from_utf8_lossy(clean)
            );
        }
        assert!(Forms::new("SHORT", b"abc").is_none());
    }

    #[test]
    fn host_names_are_searched_in_any_case() {
        let forms = Forms::new("LABEL", b"Label42Secret").unwrap();
        assert_eq!(forms.find_in_host("label42secret.evil.test"), Some("plain"));
        let hex = format!("{}.evil.test", hex::encode(b"Label42Secret"));
        assert_eq!(forms.find_in_host(&hex), Some("hex"));
        assert_eq!(forms.find_in_host("api.evil.test"), None);
    }

    #[test]
    fn scrubbing_replaces_every_form() {
        let forms = Forms::new("TOKEN", VALUE).unwrap();
        let text = format!(
            "echo: {} and {} and {}",
            String::from_utf8_lossy(VALUE),
            STANDARD.encode(VALUE),
            percent_encode(VALUE)
        );
        let scrubbed = String::from_utf8(forms.scrub(text.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            scrubbed.matches("[redacted:TOKEN]").count(),
            3,
            "{scrubbed}"
        );
        assert_eq!(forms.find_in(scrubbed.as_bytes()), None, "{scrubbed}");
        assert!(forms.scrub(b"clean").is_none());
    }
}
