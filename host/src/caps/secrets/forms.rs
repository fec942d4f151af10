//! The forms a secret's value takes in text, so one place decides whether
//! a text carries a secret: redaction of what leaves a run
//! ([`Redactor`](super::Redactor)), the network's search of requests to
//! hosts outside a secret's audience, and its scrubbing of responses.
//!
//! A value is found, and redacted, in exactly these forms:
//!
//! - **plain**, in any ASCII case (a host name is lower-cased on its way
//!   to the log, and a guest may change the case of what it sends), with
//!   any of its bytes percent-encoded (`%XX`, either case of hex digit, the
//!   decoded byte again in any ASCII case) and a space also written as `+`;
//! - **hex** of the value, in any case;
//! - **base64** and **base64url** of the value (standard alphabets, with
//!   or without padding), at each of the three alignments it can have
//!   inside a longer base64 text; base64 is case-sensitive, so only the
//!   value's own case is found there.
//!
//! Anything else is not found: a value split, reversed, encrypted,
//! compressed, hex- or base64-encoded after a change of case, or encoded
//! twice. Recognising encodings is best effort, which is why placeholders
//! are the way to send a secret. Values shorter than [`MIN_LEN`] bytes are
//! not looked for. This module is pure: it works on bytes.

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
    /// The value itself, matched in any case, percent-encoded or not.
    plain: Zeroizing<Vec<u8>>,
    /// Its hex, lower-case, matched in any case.
    hex: Zeroizing<Vec<u8>>,
    /// (form name, bytes) of the base64 forms, matched exactly.
    exact: Vec<(&'static str, Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for Forms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Forms({}, {} forms)", self.name, self.exact.len() + 2)
    }
}

/// The byte `%XX` at `text[at..]` stands for, if it is one.
fn percent_byte(text: &[u8], at: usize) -> Option<u8> {
    let digit = |b: &u8| (*b as char).to_digit(16);
    match text.get(at..at + 3)? {
        [b'%', h, l] => Some((digit(h)? << 4 | digit(l)?) as u8),
        _ => None,
    }
}

/// Where a plain (any case, partly percent-encoded) copy of `value` that
/// starts at `text[at]` ends.
fn plain_end(text: &[u8], mut at: usize, value: &[u8]) -> Option<usize> {
    for (k, &v) in value.iter().enumerate() {
        let t = *text.get(at)?;
        if let Some(decoded) = percent_byte(text, at)
            && decoded.eq_ignore_ascii_case(&v)
        {
            // A `%` in the value may also stand for itself: try that first.
            if v == b'%'
                && let Some(end) = plain_end(text, at + 1, &value[k + 1..])
            {
                return Some(end);
            }
            at += 3;
        } else if t.eq_ignore_ascii_case(&v) || (v == b' ' && t == b'+') {
            at += 1;
        } else {
            return None;
        }
    }
    Some(at)
}

impl Forms {
    /// The forms of secret `name`'s `value`; `None` when the value is too
    /// short to look for.
    pub fn new(name: &str, value: &[u8]) -> Option<Forms> {
        if value.len() < MIN_LEN {
            return None;
        }
        let mut exact: Vec<(&'static str, Zeroizing<Vec<u8>>)> = Vec::new();
        // Base64 of a value inside a longer text depends on where it starts
        // within a 3-byte group: keep the characters that depend only on
        // the value, for each of the three alignments.
        for skip in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; skip]);
            shifted.extend_from_slice(value);
            let first = (8 * skip).div_ceil(6);
            let last = 8 * (skip + value.len()) / 6;
            for (label, engine) in [
                ("base64", &STANDARD_NO_PAD),
                ("base64url", &URL_SAFE_NO_PAD),
            ] {
                let encoded = Zeroizing::new(engine.encode(&*shifted).into_bytes());
                let form = Zeroizing::new(encoded[first..last.min(encoded.len())].to_vec());
                if form.len() >= MIN_LEN && !exact.iter().any(|(_, f)| *f == form) {
                    exact.push((label, form));
                }
            }
        }
        Some(Forms {
            name: name.to_owned(),
            plain: Zeroizing::new(value.to_vec()),
            hex: Zeroizing::new(hex::encode(value).into_bytes()),
            exact,
        })
    }

    /// The longest form of the value that starts at `text[at]`: its end and
    /// its name.
    fn match_at(&self, text: &[u8], at: usize) -> Option<(usize, &'static str)> {
        let mut best: Option<(usize, &'static str)> = None;
        let mut offer = |end: usize, label: &'static str| {
            if best.is_none_or(|(b, _)| end > b) {
                best = Some((end, label));
            }
        };
        if let Some(end) = plain_end(text, at, &self.plain) {
            let label = if end - at == self.plain.len() {
                "plain"
            } else {
                "URL-encoded"
            };
            offer(end, label);
        }
        if text
            .get(at..at + self.hex.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(&self.hex))
        {
            offer(at + self.hex.len(), "hex");
        }
        for (label, form) in &self.exact {
            if text[at..].starts_with(form) {
                offer(at + form.len(), label);
            }
        }
        best
    }

    /// The first form of the value found in `haystack`, by name.
    pub fn find_in(&self, haystack: &[u8]) -> Option<&'static str> {
        (0..haystack.len()).find_map(|at| self.match_at(haystack, at).map(|(_, label)| label))
    }

    /// `haystack` with every form of the value replaced by
    /// `[redacted:NAME]`, or `None` when there was none.
    pub fn scrub(&self, haystack: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut at = 0;
        while at < haystack.len() {
            match self.match_at(haystack, at) {
                Some((end, _)) => {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(haystack.len()));
                    out.extend_from_slice(&haystack[copied..at]);
                    out.extend_from_slice(b"[redacted:");
                    out.extend_from_slice(self.name.as_bytes());
                    out.push(b']');
                    at = end;
                    copied = end;
                }
                None => at += 1,
            }
        }
        let mut out = out?;
        out.extend_from_slice(&haystack[copied..]);
        Some(out)
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
#[cfg(test)]
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
        for host in [
            "label42secret.evil.test",
            "LABEL42SECRET.evil.test",
            "x.lAbEl42sEcReT",
        ] {
            assert_eq!(forms.find_in(host.as_bytes()), Some("plain"), "{host}");
        }
        let hex = format!("{}.evil.test", hex::encode(b"Label42Secret"));
        assert_eq!(forms.find_in(hex.as_bytes()), Some("hex"));
        assert_eq!(forms.find_in(hex.to_uppercase().as_bytes()), Some("hex"));
        assert_eq!(forms.find_in(b"api.evil.test"), None);
        assert_eq!(forms.find_in(b"label42secre.evil.test"), None);
    }

    /// Every byte `%XX`-encoded, in either case of hex digit.
    fn percent_every_byte(value: &[u8], upper: bool) -> String {
        value
            .iter()
            .map(|b| {
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    }

    #[test]
    fn case_and_percent_variants_are_found_and_scrubbed() {
        let value = b"Tok3n-Value_99 x%41";
        let forms = Forms::new("T", value).unwrap();
        let text = String::from_utf8(value.to_vec()).unwrap();
        let variants = [
            text.clone(),
            text.to_uppercase(),
            text.to_lowercase(),
            percent_every_byte(value, true),
            percent_every_byte(value, false),
            percent_every_byte(text.to_lowercase().as_bytes(), true),
            // Every other byte encoded.
            value
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if i % 2 == 0 {
                        format!("%{b:02X}")
                    } else {
                        (b as char).to_string()
                    }
                })
                .collect(),
            // A space as `+`, the value's own `%41` as itself or encoded.
            text.replace(' ', "+"),
            text.replace('%', "%25"),
            percent_encode(value),
        ];
        for variant in variants {
            let haystack = format!("before {variant} after");
            assert!(
                forms.find_in(haystack.as_bytes()).is_some(),
                "not found: {variant}"
            );
            let scrubbed = forms.scrub(haystack.as_bytes()).unwrap();
            assert_eq!(
                String::from_utf8(scrubbed).unwrap(),
                "before [redacted:T] after",
                "{variant}"
            );
        }
    }

    #[test]
    fn scrubbing_leaves_no_form_behind() {
        let forms = Forms::new("TOKEN", VALUE).unwrap();
        // Overlapping and adjacent copies, in different forms.
        let text = [
            VALUE.to_vec(),
            VALUE.to_vec(),
            hex::encode(VALUE).into_bytes(),
            STANDARD.encode(VALUE).into_bytes(),
            VALUE.to_ascii_uppercase(),
        ]
        .concat();
        let scrubbed = forms.scrub(&text).unwrap();
        assert_eq!(forms.find_in(&scrubbed), None);
        assert_eq!(
            String::from_utf8_lossy(&scrubbed)
                .matches("[redacted:TOKEN]")
                .count(),
            5,
            "{}",
            String::from_utf8_lossy(&scrubbed)
        );
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
