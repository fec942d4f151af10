//! The canonical bytes of a record: RFC 8785 (JSON Canonicalization
//! Scheme) for the subset of JSON airlock writes.
//!
//! The subset: objects, arrays, strings, `true`, `false`, `null`, and
//! integers with magnitude at most 2^53 − 1 (the integers an IEEE double
//! holds exactly, so JCS's ECMAScript number formatting prints them as plain
//! decimal digits). Fractions, exponents and larger integers are outside the
//! subset: [`Event::field`](super::Event::field) stores such a number as a
//! string, and [`verify`](super::verify) rejects a record holding one.
//!
//! Within the subset this is exactly JCS:
//! - no whitespace between tokens;
//! - object members sorted by their keys' UTF-16 code units (airlock's keys
//!   are ASCII, where that equals byte order, but the sort is the RFC's);
//! - strings escape `"` and `\` with a backslash, U+0008, U+0009, U+000A,
//!   U+000C and U+000D as `\b \t \n \f \r`, every other character below
//!   U+0020 as `\u00xx` with lowercase hex, and write everything else
//!   (U+007F, non-ASCII, `/`) as itself in UTF-8;
//! - integers in decimal, `-` for negatives, no leading zeros, no `+`.
//!
//! A newline inside a string is always the two bytes `\n`, so no value can
//! break a record's line.

use serde_json::{Map, Value};
use smallvec::SmallVec;

/// The largest integer magnitude in the canonical subset: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A value outside the canonical subset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is outside airlock's canonical JSON subset (integers up to 2^53 - 1 only)")]
pub struct OutsideSubset(pub String);

/// Whether `n` is in the canonical subset.
pub fn in_subset(n: &serde_json::Number) -> bool {
    n.as_u64().is_some_and(|u| u <= MAX_SAFE_INTEGER)
        || n.as_i64()
            .is_some_and(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER)
}

/// The canonical bytes of an object.
pub fn object(fields: &Map<String, Value>) -> Result<Vec<u8>, OutsideSubset> {
    let mut out = Vec::with_capacity(256);
    write_object(&mut out, fields)?;
    Ok(out)
}

/// The canonical bytes of any value.
pub fn value(v: &Value) -> Result<Vec<u8>, OutsideSubset> {
    let mut out = Vec::with_capacity(64);
    write_value(&mut out, v)?;
    Ok(out)
}

fn write_value(out: &mut Vec<u8>, v: &Value) -> Result<(), OutsideSubset> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) if in_subset(n) => {
            // An integer of at most 16 digits and a sign: formatted in place.
            let _ = std::io::Write::write_fmt(out, format_args!("{n}"));
        }
        Value::Number(n) => return Err(OutsideSubset(n.to_string())),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => write_object(out, fields)?,
    }
    Ok(())
}

fn write_object(out: &mut Vec<u8>, fields: &Map<String, Value>) -> Result<(), OutsideSubset> {
    let fields = fields.iter().map(|(k, v)| (k.as_str(), v));
    write_members(out, fields, &[], &[], &mut Vec::new())
}

/// A member given beside an object's fields, so that a value every record
/// shares need not be put into each record's map: a string, or the
/// canonical bytes of a value (canonicalised once and spliced into many
/// records), written as they are.
#[derive(Clone, Copy, Debug)]
pub enum Extra<'a> {
    /// A string value.
    Str(&'a str),
    /// The canonical bytes of a value.
    Raw(&'a [u8]),
}

/// The canonical bytes of an object of `fields` (in the order of their
/// keys' bytes, as a map gives them; any other order costs a sort) and more
/// members, `extra`: each replaces a field of the same key.
#[cfg(test)]
pub fn object_with<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    extra: &[(&'a str, Extra<'a>)],
) -> Result<Vec<u8>, OutsideSubset> {
    let mut out = Vec::with_capacity(256 + extra_len(extra));
    write_members(&mut out, fields, extra, &[], &mut Vec::new())?;
    Ok(out)
}

fn extra_len(extra: &[(&str, Extra<'_>)]) -> usize {
    extra
        .iter()
        .map(|(_, e)| match e {
            Extra::Str(s) => s.len(),
            Extra::Raw(b) => b.len(),
        })
        .sum()
}

/// An object with holes: its canonical bytes, but for the members whose
/// keys are `holes`, which are left out of `fields` and written later by
/// [`Holes::fill`] — so that the few members known only at the last moment
/// (under a lock, say) are all that is left to write then.
#[derive(Debug)]
pub struct Holes {
    bytes: Vec<u8>,
    /// Where each hole is, in the order of `holes`.
    at: Vec<(usize, &'static str)>,
}

/// The canonical bytes of `fields` with `extra` (see [`object_with`]), and
/// a hole for each key of `holes` (in canonical order; a field of the same
/// key is left out, and none of them is a key of `extra`).
pub fn object_with_holes<'a>(
    fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    extra: &[(&'a str, Extra<'a>)],
    holes: &[&'static str],
) -> Result<Holes, OutsideSubset> {
    let mut bytes = Vec::with_capacity(384 + extra_len(extra));
    let mut at = Vec::with_capacity(holes.len());
    write_members(&mut bytes, fields, extra, holes, &mut at)?;
    Ok(Holes { bytes, at })
}

impl Holes {
    /// The bytes before the first hole: what every filling starts with.
    pub fn prefix(&self) -> &[u8] {
        &self.bytes[..self.at.first().map_or(self.bytes.len(), |a| a.0)]
    }

    /// Append the whole object to `out`, each hole filled with its key and
    /// `values[i]`, the canonical bytes of its value.
    pub fn fill(&self, out: &mut Vec<u8>, values: &[&[u8]]) {
        debug_assert_eq!(values.len(), self.at.len());
        let mut from = 0;
        for (&at, value) in self.at.iter().zip(values) {
            out.extend_from_slice(&self.bytes[from..at.0]);
            write_string(out, at.1);
            out.push(b':');
            out.extend_from_slice(value);
            from = at.0;
        }
        out.extend_from_slice(&self.bytes[from..]);
    }
}

fn write_members<'a>(
    out: &mut Vec<u8>,
    fields: impl IntoIterator<Item = (&'a str, &'a Value)>,
    extra: &[(&'a str, Extra<'a>)],
    holes: &[&'static str],
    at: &mut Vec<(usize, &'static str)>,
) -> Result<(), OutsideSubset> {
    // A record has a dozen members or so: put in order on the stack, by
    // merging the fields (in key order) with the extra members and the
    // holes (sorted among themselves first), not by searching one in
    // another.
    let mut given: SmallVec<[(&str, Member); 12]> = extra
        .iter()
        .map(|&(k, e)| (k, Member::Extra(e)))
        .chain(holes.iter().map(|&k| (k, Member::Hole(k))))
        .collect();
    if !given.is_sorted_by(|a, b| a.0 < b.0) {
        given.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    let mut given = given.into_iter().peekable();
    let mut members: SmallVec<[(&str, Member); 24]> = SmallVec::new();
    for (key, value) in fields {
        members.extend(std::iter::from_fn(|| given.next_if(|g| g.0 <= key)));
        // A member given beside the fields replaces the field of its key.
        if members.last().is_none_or(|m| m.0 != key) {
            members.push((key, Member::Value(value)));
        }
    }
    members.extend(given);
    // Keys in the order of their bytes are in the order of their UTF-16
    // code units too, unless one has a character at or above U+E000 (UTF-8
    // lead byte 0xEE or more). The fields come in the keys' byte order
    // and the merge keeps it, so the sort is usually skipped; it is
    // checked, not assumed. Sorted, a field is dropped for a given member
    // of the same key.
    let in_order = members.windows(2).all(|w| w[0].0 < w[1].0)
        && members.iter().all(|(k, _)| k.bytes().all(|b| b < 0xee));
    if !in_order {
        let is_field = |m: &Member| matches!(m, Member::Value(_));
        members.sort_by(|a, b| {
            (a.0.encode_utf16().cmp(b.0.encode_utf16())).then(is_field(&a.1).cmp(&is_field(&b.1)))
        });
        members.dedup_by(|later, first| later.0 == first.0);
    }
    out.push(b'{');
    for (i, (key, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match v {
            // The separators around a hole are written now; only the
            // member itself is left.
            Member::Hole(key) => at.push((out.len(), key)),
            Member::Value(v) => {
                write_string(out, key);
                out.push(b':');
                write_value(out, v)?;
            }
            Member::Extra(Extra::Raw(bytes)) => {
                write_string(out, key);
                out.push(b':');
                out.extend_from_slice(bytes);
            }
            Member::Extra(Extra::Str(text)) => {
                write_string(out, key);
                out.push(b':');
                write_string(out, text);
            }
        }
    }
    out.push(b'}');
    Ok(())
}

enum Member<'a> {
    Value(&'a Value),
    Extra(Extra<'a>),
    Hole(&'static str),
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut done = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        // Copy what needs no escape in one go, then escape this byte.
        out.extend_from_slice(&bytes[done..i]);
        done = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    // Everything else (UTF-8 lead and continuation bytes included) is
    // copied as it is.
    out.extend_from_slice(&bytes[done..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(value(v).unwrap()).unwrap()
    }

    /// RFC 8785 §3.2.2.2: the string example, and the literals.
    #[test]
    fn rfc8785_string_and_literal_examples() {
        let parsed: Value = serde_json::from_str(
            r#"{"literals": [null, true, false], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"}"#,
        )
        .unwrap();
        assert_eq!(
            canon(&parsed),
            "{\"literals\":[null,true,false],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    #[test]
    fn holes_filled_are_the_object_with_those_members() {
        let cases = [
            json!({}),
            json!({"a": 1}),
            json!({"z": [1, "x"], "event": "run.end"}),
            json!({"a": 1, "q": 2, "r": {"s": true}, "u": null}),
            json!({"\u{fb33}": 1, "\u{1f600}": 2, "seqx": 3, "pre": 4}),
        ];
        // Members given beside the fields: a string that needs escapes, and
        // canonical bytes; `phase` replaces a field of that key.
        let extra = [
            ("phase", Extra::Str("in\"tent\n\u{1f600}")),
            ("v", Extra::Raw(b"1")),
            ("grant", Extra::Raw(br#"{"b":[1,"x"]}"#)),
        ];
        for fields in cases {
            for extra in [&extra[..0], &extra[..]] {
                let mut fields = fields.as_object().unwrap().clone();
                fields.insert("phase".into(), "replaced".into());
                let members = fields.iter().map(|(k, v)| (k.as_str(), v));
                let holes = object_with_holes(members, extra, &["prev", "seq", "time"]).unwrap();
                let mut filled = Vec::new();
                holes.fill(&mut filled, &[b"\"ab\"", b"7", b"\"t\""]);
                let mut whole = fields.clone();
                whole.insert("prev".into(), "ab".into());
                whole.insert("seq".into(), 7.into());
                whole.insert("time".into(), "t".into());
                for (key, e) in extra {
                    let v = match e {
                        Extra::Str(s) => Value::from(*s),
                        Extra::Raw(b) => serde_json::from_slice(b).unwrap(),
                    };
                    whole.insert((*key).into(), v);
                }
                let filled = String::from_utf8(filled).unwrap();
                assert_eq!(filled, String::from_utf8(object(&whole).unwrap()).unwrap());
            }
        }
    }

    /// RFC 8785 §3.2.3: members sorted by UTF-16 code units, which puts
    /// U+1F600 (a surrogate pair, 0xD83D…) before U+FB33 even though its
    /// UTF-8 bytes sort after.
    #[test]
    fn rfc8785_sorting_example() {
        let parsed: Value = serde_json::from_str(
            r#"{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
                "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}"#,
        )
        .unwrap();
        assert_eq!(
            canon(&parsed),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    #[test]
    fn integers_in_the_subset_and_out_of_it() {
        let cases: &[(Value, Option<&str>)] = &[
            (json!(0), Some("0")),
            (json!(-1), Some("-1")),
            (json!(MAX_SAFE_INTEGER), Some("9007199254740991")),
            (json!(-(MAX_SAFE_INTEGER as i64)), Some("-9007199254740991")),
            (json!(MAX_SAFE_INTEGER + 1), None),
            (json!(u64::MAX), None),
            (json!(1.5), None),
            (json!(1e30), None),
        ];
        for (v, want) in cases {
            assert_eq!(
                value(v)
                    .ok()
                    .map(|b| String::from_utf8(b).unwrap())
                    .as_deref(),
                *want,
                "{v}"
            );
        }
    }

    #[test]
    fn every_control_character_is_escaped_and_nothing_else() {
        for c in (0u32..0x80).chain([0x85, 0x9b, 0x2028, 0x202e, 0x1f600]) {
            let ch = char::from_u32(c).unwrap();
            let got = canon(&json!(ch.to_string()));
            let want = match ch {
                '"' => "\"\\\"\"".to_owned(),
                '\\' => "\"\\\\\"".to_owned(),
                '\u{8}' => "\"\\b\"".to_owned(),
                '\t' => "\"\\t\"".to_owned(),
                '\n' => "\"\\n\"".to_owned(),
                '\u{c}' => "\"\\f\"".to_owned(),
                '\r' => "\"\\r\"".to_owned(),
                c if (c as u32) < 0x20 => format!("\"\\u{:04x}\"", c as u32),
                c => format!("\"{c}\""),
            };
            assert_eq!(got, want, "U+{c:04X}");
            assert!(!got.contains('\n'));
        }
    }

    /// For the values airlock writes, serde_json's compact output (a sorted
    /// `BTreeMap`, lowercase `\u00xx`) is the same bytes: the two agree on a
    /// spread of generated records.
    #[test]
    fn agrees_with_serde_json_on_ascii_keys() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..500 {
            let mut m = Map::new();
            for _ in 0..(next() % 8) {
                let key = format!("k{}", next() % 50);
                let text: String = (0..(next() % 12))
                    .map(|_| char::from_u32((next() % 0x3000) as u32).unwrap_or('?'))
                    .collect();
                let v = match next() % 4 {
                    0 => json!(text),
                    1 => json!(next() % MAX_SAFE_INTEGER),
                    2 => json!([text, null, true]),
                    _ => json!({ "inner": text, "n": -5 }),
                };
                m.insert(key, v);
            }
            assert_eq!(object(&m).unwrap(), serde_json::to_vec(&m).unwrap());
        }
    }
}
