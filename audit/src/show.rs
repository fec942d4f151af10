//! Showing records to a person: filters, and text that is safe on a
//! terminal whatever a guest (or an attacker who edited the log) put in it.
//!
//! Every string shown passes [`sanitize`]: control characters (C0, DEL,
//! C1 — which includes the 8-bit CSI), and the Unicode characters that
//! reorder or hide text (bidirectional overrides and isolates, zero-width
//! marks, the byte-order mark) are written as `\u{…}` escapes, and long
//! values are cut. A line that is not a record is shown as its length, never
//! as its bytes.

use crate::EventKind;
use serde_json::{Map, Value};

/// The longest value shown, in characters.
pub const SHOWN_LIMIT: usize = 200;

/// Which records to show.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this run (a prefix of its id is enough).
    pub run: Option<String>,
    /// Only this action (`name` or `name@version`).
    pub action: Option<String>,
    /// Only this event kind (a trailing `.` or `*` matches a family:
    /// `file.`).
    pub event: Option<String>,
    /// Only this decision: `allow` or `deny`.
    pub decision: Option<String>,
    /// Only records whose `context` (a `run.start` or `run.refused` from a
    /// caller that names its runs, like a Temporal worker) has this key
    /// with this value.
    pub context: Option<(String, String)>,
}

impl Filter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        let field = |k: &str| record.get(k).and_then(Value::as_str).unwrap_or("");
        self.run
            .as_ref()
            .is_none_or(|r| field("run").starts_with(r.as_str()))
            && self.action.as_ref().is_none_or(|a| {
                field("action") == a || field("action").split('@').next() == Some(a.as_str())
            })
            && self
                .event
                .as_ref()
                .is_none_or(|e| event_matches(e, field("event")))
            && self
                .decision
                .as_ref()
                .is_none_or(|d| field("decision") == d)
            && self.context.as_ref().is_none_or(|(k, v)| {
                record
                    .get("context")
                    .and_then(|c| c.get(k))
                    .and_then(Value::as_str)
                    == Some(v.as_str())
            })
    }
}

/// Whether the event filter `filter` takes the event named `name`.
fn event_matches(filter: &str, name: &str) -> bool {
    match filter.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None if filter.ends_with('.') => name.starts_with(filter),
        None => name == filter,
    }
}

impl Filter {
    /// Check that the event filter names at least one kind of event airlock
    /// records: a misspelt one would show nothing and look like an empty
    /// log.
    pub fn check(&self) -> Result<(), String> {
        let Some(filter) = &self.event else {
            return Ok(());
        };
        if EventKind::ALL
            .iter()
            .any(|k| event_matches(filter, k.as_str()))
        {
            return Ok(());
        }
        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        Err(format!(
            "--event {}: airlock records no such event; the events are {} (a trailing `.` or \
             `*` names a family, like `file.`)",
            filter.escape_debug(),
            known.join(", ")
        ))
    }
}

/// Whether `c` must not reach a terminal as itself.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// `text` with every unsafe character escaped, cut to [`SHOWN_LIMIT`]
/// characters.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_LIMIT * 2));
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_LIMIT {
            out.push_str(&format!("…[{} bytes]", text.len()));
            break;
        }
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => sanitize(s),
        other => sanitize(&other.to_string()),
    }
}

/// The fields every line starts with; the rest follow as `key=value`.
const HEADER: [&str; 10] = [
    "seq", "time", "phase", "prev", "v", "run", "action", "digest", "event", "decision",
];

/// One record as one line of text.
pub fn line(record: &Map<String, Value>) -> String {
    let get = |k: &str| record.get(k).map(shown).unwrap_or_default();
    let run = get("run");
    let mut out = format!(
        "{:>6} {} {:<8} {:<7} {:<14} {:<20} {:<8}",
        get("seq"),
        get("time"),
        run.get(..8).unwrap_or(&run),
        get("phase"),
        get("event"),
        get("action"),
        get("decision"),
    );
    for (key, value) in record {
        // A run's digest is on its run.start; a record of no run (an
        // approval, a refusal) shows its own.
        let of_no_run = key == "digest" && !record.contains_key("run");
        if HEADER.contains(&key.as_str()) && !of_no_run {
            continue;
        }
        out.push(' ');
        out.push_str(&sanitize(key));
        out.push('=');
        out.push_str(&shown(value));
    }
    out
}

/// A line that is not a record.
pub fn not_a_record(line_no: u64, bytes: usize) -> String {
    format!("[line {line_no}: not a record, {bytes} bytes not shown]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_filter_must_name_an_event_airlock_records() {
        for good in ["file.open", "file.", "net.*", "log", "audit.torn"] {
            let f = Filter {
                event: Some(good.into()),
                ..Filter::default()
            };
            assert_eq!(f.check(), Ok(()), "{good}");
        }
        for bad in ["file.opn", "files.", "net.requests", "run"] {
            let f = Filter {
                event: Some(bad.into()),
                ..Filter::default()
            };
            let e = f.check().unwrap_err();
            assert!(
                e.contains("no such event") && e.contains("file.open"),
                "{bad}: {e}"
            );
        }
    }
    use serde_json::json;

    #[test]
    fn hostile_text_is_escaped() {
        let cases = [
            ("plain", "plain"),
            (
                "\u{1b}[2J\u{1b}]0;owned\u{7}",
                "\\u{1b}[2J\\u{1b}]0;owned\\u{7}",
            ),
            ("csi\u{9b}31m", "csi\\u{9b}31m"),
            ("del\u{7f}", "del\\u{7f}"),
            ("line\nbreak\r", "line\\u{a}break\\u{d}"),
            ("abc\u{202e}fdp.exe", "abc\\u{202e}fdp.exe"),
            ("zero\u{200b}width\u{2066}", "zero\\u{200b}width\\u{2066}"),
            ("naïve ünïcode ✓", "naïve ünïcode ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "{input:?}");
        }
        let long = "x".repeat(5000);
        assert_eq!(
            sanitize(&long).chars().count(),
            SHOWN_LIMIT + "…[5000 bytes]".len() - 2
        );
    }

    #[test]
    fn a_line_never_carries_a_raw_control_character() {
        let record = json!({
            "seq": 3, "event": "log", "phase": "single", "run": "0123456789abcdef",
            "message": "\u{1b}[31mred\nnext", "evil\u{1b}key": "v"
        });
        let text = line(record.as_object().unwrap());
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
        assert!(text.contains("message=\\u{1b}[31mred\\u{a}next"), "{text}");
        assert!(text.contains("01234567 "), "{text}");
    }

    #[test]
    fn filters() {
        let r = json!({"run": "abcdef", "action": "probe@1.0.0", "event": "file.open", "decision": "deny"});
        let r = r.as_object().unwrap();
        let f = |run: Option<&str>,
                 action: Option<&str>,
                 event: Option<&str>,
                 decision: Option<&str>| Filter {
            run: run.map(Into::into),
            action: action.map(Into::into),
            event: event.map(Into::into),
            decision: decision.map(Into::into),
            context: None,
        };
        assert!(f(None, None, None, None).matches(r));
        assert!(f(Some("abc"), Some("probe"), Some("file."), Some("deny")).matches(r));
        assert!(f(None, Some("probe@1.0.0"), Some("file.open"), None).matches(r));
        assert!(f(None, None, Some("file*"), None).matches(r));
        assert!(!f(Some("x"), None, None, None).matches(r));
        assert!(!f(None, Some("prob"), None, None).matches(r));
        assert!(!f(None, None, Some("file"), None).matches(r));
        assert!(!f(None, None, None, Some("allow")).matches(r));

        let start = json!({"event": "run.start", "context": {"temporal.workflow_id": "order-7", "temporal.attempt": "2"}});
        let start = start.as_object().unwrap();
        let by = |k: &str, v: &str| Filter {
            context: Some((k.into(), v.into())),
            ..Filter::default()
        };
        assert!(by("temporal.workflow_id", "order-7").matches(start));
        assert!(by("temporal.attempt", "2").matches(start));
        assert!(!by("temporal.workflow_id", "order-77").matches(start));
        assert!(!by("temporal.workflow_id", "order-").matches(start));
        assert!(!by("temporal.run", "order-7").matches(start));
        assert!(!by("temporal.workflow_id", "order-7").matches(r));
    }
}
