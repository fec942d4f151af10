//! Secrets in requests, without the action holding them.
//!
//! An action writes `{{secret:NAME}}` into a request's URL (path or query),
//! a header value or the body; the host finds the placeholders
//! ([`find`]) and, only for a destination in the secret's `send_to`,
//! puts the value in their place ([`substitute`]). A secret declared with
//! `expose = true` is one the action may hold, so the host also looks for
//! its value — plain, base64, base64url, hex or percent-encoded — in
//! requests to destinations outside its audience, and takes the values of
//! the others out of responses; both with the secrets capability's
//! [`Forms`](crate::caps::secrets::Forms), the one place that decides
//! whether text carries a secret. Looking for encodings is best effort: a
//! value that was split, encrypted or encoded some other way is not
//! recognised, which is why placeholders are the way to send a secret.
//!
//! This module is pure: it works on bytes.

use crate::caps::secrets::forms::position;
use zeroize::Zeroizing;

/// How a placeholder opens; the name and `}}` follow.
pub const OPEN: &str = "{{secret:";
/// How a placeholder closes.
pub const CLOSE: &str = "}}";

/// One placeholder in a text: `bytes[start..end]` is `{{secret:NAME}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Where the placeholder starts.
    pub start: usize,
    /// Where it ends (exclusive).
    pub end: usize,
    /// The secret it names.
    pub name: String,
}

/// Every placeholder in `bytes`. A `{{secret:` that is not followed by a
/// secret name (`A-Z`, `0-9`, `_`) and `}}` is an error: the request would
/// otherwise leave with something that looks like a placeholder but is
/// not filled.
pub fn find(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = position(&bytes[at..], OPEN.as_bytes()) {
        let start = at + i;
        let Some(f) = at_start(bytes, start) else {
            let shown: String = String::from_utf8_lossy(&bytes[start..])
                .chars()
                .take(OPEN.len() + 20)
                .collect();
            return Err(format!(
                "`{}…` is not a placeholder: write {{{{secret:NAME}}}} with a declared secret's name (A-Z, 0-9, _)",
                shown.escape_debug()
            ));
        };
        at = f.end;
        found.push(f);
    }
    Ok(found)
}

/// The names of the secrets whose placeholders are in `places`, sorted,
/// each once, for a record: unlike [`find`], text that only looks like a
/// placeholder is passed over, so that the names are known however the
/// request is refused.
pub fn names<'a>(places: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for bytes in places {
        let mut at = 0;
        while let Some(i) = position(&bytes[at..], OPEN.as_bytes()) {
            let start = at + i;
            match at_start(bytes, start) {
                Some(f) => {
                    at = f.end;
                    names.insert(f.name);
                }
                None => at = start + OPEN.len(),
            }
        }
    }
    names.into_iter().collect()
}

/// The placeholder whose `{{secret:` is at `start`, if a secret name and
/// `}}` follow it.
fn at_start(bytes: &[u8], start: usize) -> Option<Found> {
    let name_start = start + OPEN.len();
    let name_len = bytes[name_start..]
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
        .count();
    let name_end = name_start + name_len;
    if name_len == 0 || name_len > 128 || !bytes[name_end..].starts_with(CLOSE.as_bytes()) {
        return None;
    }
    Some(Found {
        start,
        end: name_end + CLOSE.len(),
        name: String::from_utf8_lossy(&bytes[name_start..name_end]).into_owned(),
    })
}

/// `bytes` with each placeholder of `found` (from [`find`] on the same
/// bytes) replaced by the value `value` gives for its name.
pub fn substitute<'v>(
    bytes: &[u8],
    found: &[Found],
    value: impl Fn(&str) -> &'v [u8],
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut at = 0;
    for f in found {
        out.extend_from_slice(&bytes[at..f.start]);
        out.extend_from_slice(value(&f.name));
        at = f.end;
    }
    out.extend_from_slice(&bytes[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_filled() {
        let text = b"/services/{{secret:HOOK}}?a={{secret:T_2}}&b={{secret:HOOK}}";
        let found = find(text).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["HOOK", "T_2", "HOOK"]);
        let out = substitute(text, &found, |name| match name {
            "HOOK" => b"T0/B1/xyz",
            _ => b"tee",
        });
        assert_eq!(&out[..], b"/services/T0/B1/xyz?a=tee&b=T0/B1/xyz");
        assert!(
            find(b"no placeholder {{here}} {secret:X}")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        for text in [
            &b"{{secret:lower}}"[..],
            b"{{secret:}}",
            b"{{secret:NAME}",
            b"{{secret:NAME",
            b"{{secret: NAME}}",
            b"x {{secret:A}} {{secret:B-C}}",
        ] {
            let e = find(text).expect_err(&String::from_utf8_lossy(text));
            assert!(e.contains("is not a placeholder"), "{e}");
        }
    }

    #[test]
    fn names_are_known_past_malformed_text() {
        let cases: &[(&[&[u8]], &[&str])] = &[
            (&[b"{{secret:B}} {{secret:A}} {{secret:B}}"], &["A", "B"]),
            (&[b"{{secret:lower}} {{secret:GH_TOKEN}}"], &["GH_TOKEN"]),
            (
                &[b"{{secret:{{secret:X}}", b"Bearer {{secret:Y}}"],
                &["X", "Y"],
            ),
            (&[b"{{secret:", b"{{secret:NAME}", b"none"], &[]),
        ];
        for (places, expected) in cases {
            assert_eq!(names(places.iter().copied()), *expected, "{places:?}");
        }
    }
}
