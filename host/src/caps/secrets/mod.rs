//! Secrets: decide who may read which value, read it from the operator's
//! source, hand it out only when exposed, record every read by name, and
//! redact every known value from what leaves a run.

use crate::runtime::bindings::airlock::action::secrets::{Error as WitError, Host};
use airlock_audit::EventKind;
use airlock_audit::{AuditError, Event, Recorder};
use airlock_rules::grant::SecretGrant;
use airlock_rules::policy::SecretSource;
use sha2::Digest as _;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use wasmtime::component::HasData;
use zeroize::Zeroizing;

pub mod forms;

pub use forms::Forms;

/// A secret's value. It prints as `[redacted]`, is wiped from memory when
/// dropped, and is only reachable through [`SecretValue::expose`].
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wrap a value.
    pub fn new(value: String) -> SecretValue {
        SecretValue(Zeroizing::new(value))
    }

    /// The plaintext. Every call site is a place a value leaves the vault.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Read a value from the operator's source. Errors name the source, never
/// a value, and say what would give it one: they follow "reads it from".
/// An empty value is an error too: filled into `Bearer {{secret:T}}` it
/// would send `Bearer ` as if it were a credential.
pub fn read_source(source: &SecretSource) -> Result<SecretValue, String> {
    let (value, from) = match source {
        SecretSource::Env(var) => (read_env(var)?, format!("environment variable {var}")),
        SecretSource::File(path) => (read_file(path)?, format!("file {}", path.display())),
    };
    if value.expose().is_empty() {
        return Err(format!(
            "{from}, which is empty; give it the secret's value (an empty value is never used)"
        ));
    }
    Ok(value)
}

fn read_env(var: &str) -> Result<SecretValue, String> {
    match std::env::var(var) {
        Ok(value) => Ok(SecretValue::new(value)),
        Err(std::env::VarError::NotPresent) => Err(format!(
            "environment variable {var}, which is not set; set it in airlock's environment"
        )),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!(
            "environment variable {var}, which is not UTF-8; set it to the secret's value"
        )),
    }
}

fn read_file(path: &std::path::Path) -> Result<SecretValue, String> {
    airlock_rules::opfile::read_operator_text(
        path,
        airlock_rules::opfile::SECRET_MAX,
        "secret file",
    )
    .map(|mut text| {
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        SecretValue::new(text)
    })
    // An error of the system by its kind; airlock's own (not a
    // regular file, over the cap) in its words.
    .map_err(|e| match e.raw_os_error() {
        Some(_) => format!(
            "file {}, which cannot be read: {}",
            path.display(),
            e.kind()
        ),
        None => format!("file {}, which cannot be read: {e}", path.display()),
    })
}

/// The secrets of one run: the grants, the values read when it started,
/// and the forms each value takes in text.
#[derive(Debug)]
pub struct Secrets {
    grants: Arc<BTreeMap<String, SecretGrant>>,
    values: BTreeMap<String, Result<SecretValue, String>>,
    forms: BTreeMap<String, Arc<Forms>>,
}

/// One declared secret of a run, as [`Secrets::entries`] gives it.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its grant.
    pub grant: &'a SecretGrant,
    /// Its value, when one was read.
    pub value: Option<&'a SecretValue>,
    /// Why its source gave no value, when the policy names one.
    pub unavailable: Option<&'a str>,
    /// The forms of its value, when it is long enough to look for.
    pub forms: Option<&'a Arc<Forms>>,
}

impl Secrets {
    /// Read the value of every provided secret in `grants`.
    pub fn resolve(grants: Arc<BTreeMap<String, SecretGrant>>) -> Secrets {
        let values: BTreeMap<String, Result<SecretValue, String>> = grants
            .iter()
            .filter_map(|(name, g)| {
                let value = read_source(g.source.as_ref()?)
                    .map_err(|why| format!("the policy's [secrets.{name}] reads it from {why}"));
                Some((name.clone(), value))
            })
            .collect();
        let forms = values
            .iter()
            .filter_map(|(name, v)| {
                let value = v.as_ref().ok()?;
                Some((
                    name.clone(),
                    Arc::new(Forms::new(name, value.expose().as_bytes())?),
                ))
            })
            .collect();
        Secrets {
            grants,
            values,
            forms,
        }
    }

    /// A redactor for every value of this run.
    pub fn redactor(&self) -> Redactor {
        Redactor::from_forms(self.forms.values().cloned())
    }

    /// Every declared secret: its name, its grant, its value when one was
    /// read, and the forms of that value. For the network capability, which
    /// fills placeholders and looks for exposed values in requests.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.grants.iter().map(|(name, grant)| Entry {
            name: name.as_str(),
            grant,
            value: self.values.get(name).and_then(|v| v.as_ref().ok()),
            unavailable: self
                .values
                .get(name)
                .and_then(|v| v.as_ref().err())
                .map(String::as_str),
            forms: self.forms.get(name),
        })
    }

    /// Decide whether the action may read `name`, without reading it.
    pub fn decide(&self, name: &str) -> Result<(), WitError> {
        match self.grants.get(name) {
            None => Err(WitError::NotDeclared),
            Some(g) if !g.expose => Err(WitError::NotExposed),
            Some(g) if !g.provided => Err(WitError::NotGranted),
            Some(_) => Ok(()),
        }
    }

    /// `secrets.get`: decide, read, record.
    pub fn get(
        &self,
        name: &str,
        recorder: &Recorder,
    ) -> Result<Result<String, WitError>, AuditError> {
        let outcome = self
            .decide(name)
            .and_then(|()| match self.values.get(name) {
                Some(Ok(value)) => Ok(value.expose().to_owned()),
                Some(Err(why)) => Err(WitError::Unavailable(why.clone())),
                None => Err(WitError::Unavailable(NOT_READ.into())),
            });
        // A declared name is the manifest's own word; any other is whatever
        // the action chose to ask for, and is kept short in the log so that
        // asking is not a way to write into it.
        let shown = match self.grants.contains_key(name) {
            true => name.to_owned(),
            false => undeclared(name),
        };
        let mut event = Event::new(EventKind::SecretRead).target(shown.as_str());
        if !self.grants.contains_key(name) {
            event = event.field("target_len", name.len()).field(
                "target_sha256",
                airlock_rules::provenance::hex(&sha2::Sha256::digest(name)),
            );
        }
        let event = match &outcome {
            Ok(_) => event.allow(),
            Err(e) => event.deny(refusal(&shown, e)),
        };
        recorder.record(event)?;
        Ok(outcome)
    }
}

impl Entry<'_> {
    /// Why this secret has no value to fill in, with what would give it
    /// one, in the words `secrets.get` refuses it with; `None` when it has
    /// one. The policy naming no source is told apart from a source that
    /// gave nothing.
    pub fn missing(&self) -> Option<String> {
        if self.value.is_some() {
            return None;
        }
        let why = match self.unavailable {
            _ if !self.grant.provided => WitError::NotGranted,
            Some(why) => WitError::Unavailable(why.to_owned()),
            None => WitError::Unavailable(NOT_READ.into()),
        };
        Some(refusal(self.name, &why))
    }
}

/// Why a provided secret has no value when none was read at all.
const NOT_READ: &str = "no value was read";

/// How many bytes of an undeclared name a record keeps.
const UNDECLARED_SHOWN: usize = 32;

/// An undeclared name as records show it: a valid secret name up to
/// [`UNDECLARED_SHOWN`] bytes as it is, anything else cut there with its
/// control characters blanked, and marked `…` when cut (the record keeps
/// the whole name's length and SHA-256 beside it).
pub(crate) fn undeclared(name: &str) -> String {
    let end = name.floor_char_boundary(UNDECLARED_SHOWN);
    let shown = airlock_rules::doc::one_line(&name[..end]);
    if end < name.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// A refusal in words, with what would grant it.
fn refusal(name: &str, e: &WitError) -> String {
    match e {
        WitError::NotDeclared => format!(
            "secret `{name}` is not declared: the manifest would need {{ name = \"{name}\" }} in [capabilities] secrets"
        ),
        WitError::NotExposed => format!(
            "secret `{name}` is declared without expose = true: it may only be sent as {{{{secret:{name}}}}}"
        ),
        WitError::NotGranted => {
            format!(
                "secret `{name}` has no source: add [secrets.{name}] with env = \"VAR\" or file = \"path\" to the policy"
            )
        }
        WitError::Unavailable(why) => format!("secret `{name}` is unavailable: {why}"),
    }
}

/// Replaces every known secret value — in every form [`Forms`] knows
/// (its module says exactly which) — with `[redacted:NAME]`. Every record
/// of a run passes through it ([`Recorder::scrubbing`]), and so do the
/// run's output, error and log lines. Best effort: a value that was split, re-encoded or
/// encrypted is not recognised, which is why values are kept out of
/// actions (placeholders) in the first place. Values shorter than
/// [`forms::MIN_LEN`] are not redacted: replacing every "a" or "42" would
/// destroy the text without protecting anything.
#[derive(Clone, Default)]
pub struct Redactor {
    forms: Arc<Vec<Arc<Forms>>>,
}

impl Redactor {
    /// A redactor for `(name, value)` pairs.
    #[cfg(test)]
    pub fn new<'a>(values: impl IntoIterator<Item = (&'a str, &'a SecretValue)>) -> Redactor {
        Redactor::from_forms(
            values
                .into_iter()
                .filter_map(|(name, value)| Forms::new(name, value.expose().as_bytes()))
                .map(Arc::new),
        )
    }

    /// A redactor for the forms of some values.
    pub fn from_forms(forms: impl IntoIterator<Item = Arc<Forms>>) -> Redactor {
        Redactor {
            forms: Arc::new(forms.into_iter().collect()),
        }
    }

    /// `text` with every known value replaced.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for forms in self.forms.iter() {
            if let Some(scrubbed) = forms.scrub(out.as_bytes()) {
                // Only ASCII replaces whole UTF-8 sequences, so this holds.
                out = Cow::Owned(String::from_utf8_lossy(&scrubbed).into_owned());
            }
        }
        out
    }
}

impl airlock_audit::Scrub for Redactor {
    fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.redact(text)
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.forms.len())
    }
}

/// The `secrets` interface's view of a run.
pub struct SecretsView<'a> {
    /// The run's secrets.
    pub secrets: &'a Secrets,
    /// Where reads are recorded.
    pub recorder: &'a Recorder,
}

/// [`HasData`] marker for linking the `secrets` interface.
pub struct SecretsCap;

impl HasData for SecretsCap {
    type Data<'a> = SecretsView<'a>;
}

impl Host for SecretsView<'_> {
    fn get(&mut self, name: String) -> wasmtime::Result<Result<String, WitError>> {
        self.secrets
            .get(&name, self.recorder)
            .map_err(wasmtime::Error::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[test]
    fn values_never_print() {
        let v = SecretValue::new("hunter2-very-secret".into());
        assert_eq!(
            format!("{v} {v:?} {:?}", Some(&v)),
            "[redacted] [redacted] Some([redacted])"
        );
    }

    #[test]
    fn redaction_covers_common_encodings() {
        let v = SecretValue::new("s3cr3t/token+value".into());
        let r = Redactor::new([("TOKEN", &v)]);
        let plain = v.expose();
        let cases = [
            plain.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(plain),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain),
            hex::encode(plain),
            hex::encode_upper(plain),
            "s3cr3t%2Ftoken%2Bvalue".to_owned(),
        ];
        for form in cases {
            let text = format!("before {form} after");
            assert_eq!(r.redact(&text), "before [redacted:TOKEN] after", "{form}");
        }
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        let short = SecretValue::new("abc".into());
        assert_eq!(Redactor::new([("S", &short)]).redact("abc"), "abc");
    }

    #[test]
    fn decisions_follow_the_grant() {
        let grant = |expose: bool, provided: bool| SecretGrant {
            expose,
            send_to: vec![],
            source: provided.then(|| SecretSource::Env("AIRLOCK_TEST_UNSET_VARIABLE".into())),
            provided,
        };
        let grants = Arc::new(BTreeMap::from([
            ("EXPOSED".to_owned(), grant(true, true)),
            ("HIDDEN".to_owned(), grant(false, true)),
            ("UNPROVIDED".to_owned(), grant(true, false)),
        ]));
        let s = Secrets::resolve(grants);
        assert!(s.decide("EXPOSED").is_ok());
        assert!(matches!(s.decide("HIDDEN"), Err(WitError::NotExposed)));
        assert!(matches!(s.decide("UNPROVIDED"), Err(WitError::NotGranted)));
        assert!(matches!(s.decide("OTHER"), Err(WitError::NotDeclared)));
        assert!(
            matches!(&s.values["EXPOSED"], Err(why) if why.contains("AIRLOCK_TEST_UNSET_VARIABLE"))
        );
    }

    #[test]
    fn a_source_without_a_value_says_which_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            SecretSource::File(path)
        };
        let cases = [
            (
                SecretSource::Env("AIRLOCK_TEST_UNSET_VARIABLE".into()),
                "environment variable AIRLOCK_TEST_UNSET_VARIABLE, which is not set; set it in \
                 airlock's environment",
            ),
            (
                file("empty", ""),
                "which is empty; give it the secret's value",
            ),
            (file("newline", "\n"), "which is empty"),
            (file("crlf", "\r\n"), "which is empty"),
            (
                SecretSource::File(dir.path().join("missing")),
                "which cannot be read: entity not found",
            ),
        ];
        for (source, expected) in cases {
            let e = read_source(&source).unwrap_err();
            assert!(e.contains(expected), "{source:?}: {e}");
        }
        assert_eq!(read_source(&file("space", " \n")).unwrap().expose(), " ");
    }

    #[test]
    fn a_missing_value_is_told_apart_from_a_missing_policy_entry() {
        let grant = |source: Option<SecretSource>| SecretGrant {
            expose: false,
            send_to: vec![],
            provided: source.is_some(),
            source,
        };
        let grants = Arc::new(BTreeMap::from([
            (
                "UNSET".to_owned(),
                grant(Some(SecretSource::Env(
                    "AIRLOCK_TEST_UNSET_VARIABLE".into(),
                ))),
            ),
            ("UNSOURCED".to_owned(), grant(None)),
        ]));
        let secrets = Secrets::resolve(grants);
        let missing: BTreeMap<&str, String> = secrets
            .entries()
            .map(|e| (e.name, e.missing().unwrap()))
            .collect();
        assert_eq!(
            missing["UNSET"],
            "secret `UNSET` is unavailable: the policy's [secrets.UNSET] reads it from environment \
             variable AIRLOCK_TEST_UNSET_VARIABLE, which is not set; set it in airlock's environment"
        );
        assert!(
            missing["UNSOURCED"].contains("has no source: add [secrets.UNSOURCED]"),
            "{}",
            missing["UNSOURCED"]
        );
    }

    #[test]
    fn file_sources_drop_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "value-in-file\n").unwrap();
        let v = read_source(&SecretSource::File(path)).unwrap();
        assert_eq!(v.expose(), "value-in-file");
        let err = read_source(&SecretSource::File(dir.path().join("missing"))).unwrap_err();
        assert!(
            err.contains("missing") && err.contains("not found"),
            "{err}"
        );
    }
}
