//! Secrets the action declared and the operator provides.
//!
//! Only a secret declared with `expose = true` can be read here. The
//! preferred way to use a secret is not to read it at all: put the
//! placeholder `{{secret:NAME}}` into an HTTP request and let the host fill
//! it in, only for the hosts in the secret's `send_to` audience.

use crate::bindings::airlock::action::secrets as wit;
use std::fmt;

/// Why [`get`] did not return a value. It never contains the value.
#[derive(Debug, Clone)]
pub struct Error {
    name: String,
    kind: wit::Error,
}

impl Error {
    /// The secret's name, as asked for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host's reason, as the WIT variant.
    pub fn kind(&self) -> &wit::Error {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.kind {
            wit::Error::NotDeclared => write!(
                f,
                "secret `{name}` is not declared: add it to [capabilities] secrets in action.toml"
            ),
            wit::Error::NotExposed => write!(
                f,
                "secret `{name}` is not exposed: send it as {{{{secret:{name}}}}} or declare it with expose = true"
            ),
            wit::Error::NotGranted => {
                write!(f, "secret `{name}` has no source in the operator's policy")
            }
            wit::Error::Unavailable(why) => write!(f, "secret `{name}` is unavailable: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// The plaintext of the secret `name`.
///
/// Works only for a secret declared in `action.toml` with `expose = true`
/// and provided by the operator; every call is an audit record on the host
/// (the name, never the value).
///
/// Run natively (an author's `cargo test`), it returns an
/// [`Unavailable`](wit::Error::Unavailable) error saying there is no host.
pub fn get(name: &str) -> Result<String, Error> {
    #[cfg(target_arch = "wasm32")]
    let got = wit::get(name);
    #[cfg(not(target_arch = "wasm32"))]
    let got = Err(wit::Error::Unavailable(crate::NO_HOST.into()));
    got.map_err(|kind| Error {
        name: name.to_owned(),
        kind,
    })
}

/// A declared secret, used without being read.
///
/// ```
/// use airlock_sdk::Secret;
///
/// let url = format!("https://hooks.slack.com/services/{}", Secret::placeholder("SLACK_WEBHOOK_PATH"));
/// assert_eq!(url, "https://hooks.slack.com/services/{{secret:SLACK_WEBHOOK_PATH}}");
/// ```
#[derive(Debug)]
pub struct Secret;

impl Secret {
    /// The placeholder `{{secret:NAME}}`, to put in a request's URL path or
    /// query, a header value or the body. The host puts the value in its
    /// place when the request goes to a host in the secret's `send_to`, and
    /// refuses the request for any other host; the action never sees the
    /// value. `name` is the name declared in `action.toml`.
    pub fn placeholder(name: &str) -> Placeholder {
        Placeholder(format!("{{{{secret:{name}}}}}"))
    }
}

/// A secret placeholder: `{{secret:NAME}}`. It displays as itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder(String);

impl Placeholder {
    /// The placeholder's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Placeholder> for String {
    fn from(p: Placeholder) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn natively_get_is_an_error_not_an_abort() {
        let err = super::get("TOKEN").unwrap_err();
        assert_eq!(err.name(), "TOKEN");
        assert!(
            err.to_string()
                .starts_with("secret `TOKEN` is unavailable: airlock-sdk calls work only inside"),
            "{err}"
        );
    }
}
