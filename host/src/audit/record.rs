//! One audit record: an event, its decision, and the fields that describe it.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Strings the guest controls are cut to this many bytes in a record; the
/// original length and SHA-256 are kept beside the cut text.
pub const GUEST_TEXT_LIMIT: usize = 4096;

/// Whether the host allowed what was asked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed and done.
    Allow,
    /// Refused.
    Deny,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// An event to record. Field names are `'static` so that nothing a guest
/// sends can become a key; guest text goes through [`Event::guest_text`].
#[derive(Clone, Debug)]
pub struct Event {
    pub(crate) fields: Map<String, Value>,
}

impl Event {
    /// An event of `kind`, like `file.open` or `run.end`.
    pub fn new(kind: &'static str) -> Event {
        let mut fields = Map::new();
        fields.insert("event".into(), Value::from(kind));
        Event { fields }
    }

    /// The event's kind.
    pub fn kind(&self) -> &str {
        self.fields
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Record the host's decision.
    pub fn decision(self, decision: Decision) -> Event {
        self.field("decision", decision.as_str())
    }

    /// Allowed.
    pub fn allow(self) -> Event {
        self.decision(Decision::Allow)
    }

    /// Refused, and why.
    pub fn deny(self, reason: impl Into<String>) -> Event {
        self.decision(Decision::Deny).field("reason", reason.into())
    }

    /// What the event is about: a path, a secret's name, an origin.
    pub fn target(self, target: impl Into<String>) -> Event {
        self.field("target", target.into())
    }

    /// A host-chosen field.
    pub fn field(mut self, key: &'static str, value: impl Into<Value>) -> Event {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// A string the guest controls: cut to [`GUEST_TEXT_LIMIT`] bytes on a
    /// character boundary, with `<key>_len` and `<key>_sha256` of the
    /// original when cut. The caller redacts secrets first.
    pub fn guest_text(mut self, key: &'static str, text: &str) -> Event {
        if text.len() <= GUEST_TEXT_LIMIT {
            self.fields.insert(key.into(), text.into());
            return self;
        }
        let mut end = GUEST_TEXT_LIMIT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.fields.insert(key.into(), text[..end].into());
        self.fields.insert(format!("{key}_len"), text.len().into());
        self.fields.insert(
            format!("{key}_sha256"),
            hex::encode(Sha256::digest(text.as_bytes())).into(),
        );
        self
    }

    /// The decision, if one was recorded.
    pub fn decision_of(&self) -> Option<Decision> {
        match self.fields.get("decision").and_then(Value::as_str) {
            Some("allow") => Some(Decision::Allow),
            Some("deny") => Some(Decision::Deny),
            _ => None,
        }
    }
}

/// The canonical bytes of a record: compact JSON with keys in byte order.
///
/// `serde_json::Map` (without the `preserve_order` feature) is a `BTreeMap`,
/// so keys come out sorted; all numbers are integers, and strings use JSON's
/// short escapes and `\u00XX` for other control characters — RFC 8785 for
/// the values airlock writes.
pub(crate) fn canonical(fields: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(fields).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_escapes_controls() {
        let e = Event::new("log")
            .field("zeta", 1)
            .guest_text("message", "line one\n\u{1b}[31mred\"quoted\"")
            .allow();
        let bytes = canonical(&e.fields);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"decision":"allow","event":"log","message":"line one\n\u001b[31mred\"quoted\"","zeta":1}"#
        );
    }

    #[test]
    fn long_guest_text_is_cut_with_length_and_hash() {
        let long = "é".repeat(GUEST_TEXT_LIMIT); // two bytes each
        let e = Event::new("log").guest_text("message", &long);
        let kept = e.fields["message"].as_str().unwrap();
        assert!(kept.len() <= GUEST_TEXT_LIMIT && long.starts_with(kept));
        assert_eq!(e.fields["message_len"], long.len());
        assert_eq!(
            e.fields["message_sha256"],
            hex::encode(Sha256::digest(long.as_bytes()))
        );
        let short = Event::new("log").guest_text("message", "short");
        assert!(!short.fields.contains_key("message_len"));
    }
}
