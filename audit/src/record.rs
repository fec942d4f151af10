//! One audit record: an event, its phase and decision, and the fields that
//! describe it.

use crate::EventKind;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::borrow::Cow;
use std::sync::Arc;

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

/// Where a record stands relative to the side effect it describes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// About to act: written, and made durable, before the effect.
    Intent,
    /// The effect was attempted; the record says how it went. Carries
    /// `intent`: the intent's `seq`.
    Result,
    /// The effect was not attempted after all. Carries `intent`.
    Aborted,
    /// One record for something that leaves nothing outside the sandbox to
    /// be written ahead of: a read, a refusal, a log line, a run's start.
    Single,
}

impl Phase {
    /// The value of the `phase` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Result => "result",
            Phase::Aborted => "aborted",
            Phase::Single => "single",
        }
    }

    /// The phase named `s`.
    pub fn parse(s: &str) -> Option<Phase> {
        [Phase::Intent, Phase::Result, Phase::Aborted, Phase::Single]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// An event to record. Field names are `'static` so that nothing a guest
/// sends can become a key; guest text goes through [`Event::guest_text`].
#[derive(Clone, Debug)]
pub struct Event {
    kind: EventKind,
    pub(crate) fields: Fields,
    /// Fields holding guest text not yet cut to [`GUEST_TEXT_LIMIT`]: they
    /// are cut when the event is sealed ([`Event::seal`]), after redaction,
    /// so that what is kept and hashed of a long text is its redacted form.
    uncut: smallvec::SmallVec<[&'static str; 4]>,
    /// One field whose value is already canonical JSON (see
    /// [`Event::canonical_field`]).
    pub(crate) raw: Option<(&'static str, Arc<Canonical>)>,
}

impl Event {
    /// An event of `kind`.
    pub fn new(kind: EventKind) -> Event {
        let mut fields = Fields::default();
        fields.insert("event", Value::from(kind.as_str()));
        Event {
            kind,
            fields,
            uncut: smallvec::SmallVec::new(),
            raw: None,
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The event's fields as a JSON object, as they will be recorded
    /// (once sealed: redacted and cut), without a field given
    /// as canonical JSON (the grant of a `run.start`) and without the
    /// record's chain fields.
    pub fn to_json(&self) -> Map<String, Value> {
        self.fields
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
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

    /// A host-chosen field. A number outside the canonical subset (a
    /// fraction, or an integer beyond 2^53 − 1) is stored as a string.
    pub fn field(mut self, key: &'static str, value: impl Into<Value>) -> Event {
        self.fields.insert(key, fit(value.into()));
        self
    }

    /// A host-chosen field whose value is given as its canonical JSON
    /// bytes (RFC 8785, [`Canonical::of`]), computed once and written
    /// into every record that carries it — like the grant in each
    /// `run.start`, canonicalised when the action is loaded.
    pub fn canonical_field(mut self, key: &'static str, json: Arc<Canonical>) -> Event {
        self.fields.remove(key);
        self.raw = Some((key, json));
        self
    }

    /// Set the record's phase.
    pub(crate) fn phase(self, phase: Phase) -> Event {
        self.field("phase", phase.as_str())
    }

    /// The record's phase (`single` unless set).
    pub fn phase_of(&self) -> Phase {
        self.fields
            .get("phase")
            .and_then(Value::as_str)
            .and_then(Phase::parse)
            .unwrap_or(Phase::Single)
    }

    /// A string the guest controls: cut to [`GUEST_TEXT_LIMIT`] bytes on a
    /// character boundary when the event is sealed, with `<key>_len` and
    /// `<key>_sha256` of the (redacted) original when cut.
    pub fn guest_text(mut self, key: &'static str, text: &str) -> Event {
        self.fields.insert(key, text.into());
        if !self.uncut.contains(&key) {
            self.uncut.push(key);
        }
        self
    }

    /// The event as it is written: every string in it (but the event's
    /// kind, phase and decision, which are the host's words) passed through
    /// `scrub`, then every guest text cut. Every record passes through here
    /// once, so no field can carry what `scrub` takes out.
    pub(crate) fn seal(mut self, scrub: Option<&dyn Scrub>) -> Event {
        if let Some(scrub) = scrub {
            for (key, value) in self.fields.0.iter_mut() {
                if !matches!(key.as_ref(), "event" | "phase" | "decision") {
                    scrub_value(value, scrub);
                }
            }
        }
        for key in std::mem::take(&mut self.uncut) {
            let Some(Value::String(text)) = self.fields.get(key) else {
                continue;
            };
            if text.len() <= GUEST_TEXT_LIMIT {
                continue;
            }
            let text = text.clone();
            let kept = &text[..text.floor_char_boundary(GUEST_TEXT_LIMIT)];
            self.fields.insert(key, kept.into());
            self.fields.insert(format!("{key}_len"), text.len().into());
            self.fields.insert(
                format!("{key}_sha256"),
                hex::encode(Sha256::digest(text.as_bytes())).into(),
            );
        }
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

/// What takes known secret values out of a record's text (the run's
/// redactor): every record of a run passes through it before it is written.
pub trait Scrub: Send + Sync {
    /// `text` with every value this knows replaced.
    fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str>;
}

fn scrub_value(value: &mut Value, scrub: &dyn Scrub) {
    match value {
        Value::String(text) => {
            if let Cow::Owned(clean) = scrub.scrub(text) {
                *text = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, scrub)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, scrub)),
        _ => {}
    }
}

/// An event's fields, in the order of their keys' bytes (the order a map
/// would give them in). A record has a dozen or so, so they are a sorted
/// list rather than a map, and their keys are `'static` — the host's own
/// names — but for the `_len` and `_sha256` beside a cut guest text: no
/// allocation per key.
#[derive(Clone, Debug)]
pub(crate) struct Fields(Vec<(Cow<'static, str>, Value)>);

impl Default for Fields {
    fn default() -> Fields {
        Fields(Vec::with_capacity(12))
    }
}

impl Fields {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key))
    }

    /// Set `key` to `value`, replacing any value it had.
    fn insert(&mut self, key: impl Into<Cow<'static, str>>, value: Value) {
        let key = key.into();
        match self.find(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    fn remove(&mut self, key: &str) {
        if let Ok(i) = self.find(key) {
            self.0.remove(i);
        }
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Every field, in the order of the keys' bytes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

/// A value's canonical JSON (RFC 8785, [`Canonical::of`]), computed
/// once and written into every record that carries it
/// ([`Event::canonical_field`]).
#[derive(Debug)]
pub struct Canonical {
    json: Box<[u8]>,
}

impl Canonical {
    /// The canonical form of `value`; `None` if it is outside the subset
    /// airlock writes (a number that is not an integer within ±2^53).
    pub fn of(value: &Value) -> Option<Canonical> {
        let json = crate::jcs::value(value).ok()?;
        Some(Canonical { json: json.into() })
    }

    /// The canonical bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.json
    }
}

/// Keep a value inside the canonical subset (see [`super::jcs`]).
fn fit(v: Value) -> Value {
    match v {
        Value::Number(n) if !super::jcs::in_subset(&n) => Value::String(n.to_string()),
        Value::Array(items) => Value::Array(items.into_iter().map(fit).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, fit(v))).collect()),
        v => v,
    }
}

/// A record line's chain hash and Merkle leaf hash, fed its first `bytes`.
pub(super) fn line_hashers(bytes: &[u8]) -> (Sha256, Sha256) {
    (
        Sha256::new_with_prefix(bytes),
        super::merkle::leaf_hasher().chain_update(bytes),
    )
}

/// The canonical bytes of a record (RFC 8785; see [`super::jcs`]). Every
/// value an [`Event`] holds is inside the subset, so this cannot fail for
/// one; a record read back from a file that is outside it has no canonical
/// form.
pub(crate) fn canonical(fields: &Map<String, Value>) -> Option<Vec<u8>> {
    super::jcs::object(fields).ok()
}

/// The canonical bytes of a record with its pre-canonicalised field, if
/// any.
#[cfg(test)]
pub(crate) fn canonical_with(
    fields: &Fields,
    raw: Option<&(&'static str, Arc<Canonical>)>,
) -> Option<Vec<u8>> {
    let extra: &[_] = match raw {
        None => &[],
        Some((key, json)) => &[(*key, super::jcs::Extra::Raw(json.bytes()))],
    };
    super::jcs::object_with(fields.iter(), extra).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_sorts_keys_and_escapes_controls() {
        let e = Event::new(EventKind::Log)
            .field("zeta", 1)
            .guest_text("message", "line one\n\u{1b}[31mred\"quoted\"")
            .allow();
        let bytes = canonical_with(&e.fields, None).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"decision":"allow","event":"log","message":"line one\n\u001b[31mred\"quoted\"","zeta":1}"#
        );
    }

    #[test]
    fn fields_are_kept_in_key_order_and_a_key_set_again_keeps_its_last_value() {
        let e = Event::new(EventKind::Log)
            .field("m", 1)
            .field("b", 2)
            .guest_text("a", "first")
            .field("z", 3)
            .field("b", 4)
            .guest_text("a", "second");
        let keys: Vec<&str> = e.fields.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "event", "m", "z"]);
        assert_eq!(e.fields.get("b").unwrap(), 4);
        assert_eq!(e.fields.get("a").unwrap(), "second");
        assert_eq!(
            String::from_utf8(canonical_with(&e.fields, None).unwrap()).unwrap(),
            r#"{"a":"second","b":4,"event":"log","m":1,"z":3}"#
        );
    }

    #[test]
    fn numbers_outside_the_subset_become_strings() {
        let e = Event::new(EventKind::Log)
            .field("big", u64::MAX)
            .field("frac", 1.5)
            .field("list", serde_json::json!([1, 1u64 << 60]));
        let text = String::from_utf8(canonical_with(&e.fields, None).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"big":"18446744073709551615","event":"log","frac":"1.5","list":[1,"1152921504606846976"]}"#
        );
        assert_eq!(e.phase_of(), Phase::Single);
        assert_eq!(e.phase(Phase::Intent).phase_of(), Phase::Intent);
    }

    #[test]
    fn a_canonical_field_is_written_as_the_value_would_be() {
        let grant = serde_json::json!({"network": ["https://a.example"], "limits": {"memory": 1}});
        let bytes = Arc::new(Canonical::of(&grant).unwrap());
        for (key, extra) in [("grant", "zz"), ("grant", "aa"), ("a", "grant")] {
            let plain = Event::new(EventKind::RunStart)
                .field(extra, 7)
                .field(key, grant.clone());
            let spliced = Event::new(EventKind::RunStart)
                .field(extra, 7)
                .field(key, "replaced")
                .canonical_field(key, bytes.clone());
            assert_eq!(
                canonical_with(&plain.fields, None).unwrap(),
                canonical_with(&spliced.fields, spliced.raw.as_ref()).unwrap()
            );
        }
    }

    #[test]
    fn long_guest_text_is_cut_with_length_and_hash() {
        let long = "é".repeat(GUEST_TEXT_LIMIT); // two bytes each
        let e = Event::new(EventKind::Log)
            .guest_text("message", &long)
            .seal(None);
        let kept = e.fields.get("message").and_then(Value::as_str).unwrap();
        assert!(kept.len() <= GUEST_TEXT_LIMIT && long.starts_with(kept));
        assert_eq!(e.fields.get("message_len").unwrap(), long.len());
        assert_eq!(
            e.fields.get("message_sha256").unwrap(),
            &hex::encode(Sha256::digest(long.as_bytes()))
        );
        let short = Event::new(EventKind::Log)
            .guest_text("message", "short")
            .seal(None);
        assert!(short.fields.get("message_len").is_none());
    }

    struct Upper;
    impl Scrub for Upper {
        fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
            match text.contains("secret") {
                true => Cow::Owned(text.replace("secret", "[redacted:S]")),
                false => Cow::Borrowed(text),
            }
        }
    }

    #[test]
    fn sealing_scrubs_every_string_before_cutting() {
        let long = format!("{}secret", "x".repeat(GUEST_TEXT_LIMIT));
        let e = Event::new(EventKind::NetRequest)
            .field("host", "secret.example")
            .field("list", serde_json::json!(["a", {"deep": "secret"}]))
            .target("secret")
            .guest_text("message", &long)
            .deny("why: secret")
            .seal(Some(&Upper));
        let text = String::from_utf8(canonical_with(&e.fields, None).unwrap()).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let redacted = long.replace("secret", "[redacted:S]");
        assert_eq!(
            e.fields.get("message_sha256").unwrap(),
            &hex::encode(Sha256::digest(redacted.as_bytes()))
        );
        assert_eq!(e.fields.get("message_len").unwrap(), redacted.len());
        assert_eq!(e.decision_of(), Some(Decision::Deny));
    }
}
