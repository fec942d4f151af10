//! Configuration that is not secret: the keys `action.toml` declares under
//! `[config]`, with the values the operator's policy sets for this action
//! (or the manifest's defaults).
//!
//! ```toml
//! [config.greeting]
//! type = "string"
//! default = "Hello"
//! description = "How to greet"
//! ```
//!
//! ```no_run
//! let greeting = airlock_sdk::config::string("greeting").map_err(|e| e.to_string())?;
//! # Ok::<(), String>(())
//! ```
//!
//! Every value of a run is recorded in its audit log, so nothing secret
//! belongs here: declare a secret instead.

use std::fmt;

/// Why [`get`] or a typed reader gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `action.toml` declares no key of this name.
    NotDeclared(String),
    /// The key has no value: the policy sets none and it has no default.
    Missing(String),
    /// The value is not of the type asked for.
    Invalid {
        /// The key.
        name: String,
        /// The type asked for.
        wanted: &'static str,
    },
    /// There is no airlock host: the code runs natively (a `cargo test`),
    /// not in a component.
    NoHost(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotDeclared(name) => write!(
                f,
                "config `{name}` is not declared: add [config.{name}] to action.toml"
            ),
            Error::Missing(name) => write!(
                f,
                "config `{name}` has no value: the operator's policy sets none under \
                 [actions.NAME.config] and action.toml gives no default"
            ),
            Error::Invalid { name, wanted } => {
                write!(
                    f,
                    "config `{name}` is not {wanted}: check its type in action.toml"
                )
            }
            Error::NoHost(name) => write!(f, "config `{name}`: {}", crate::NO_HOST),
        }
    }
}

impl std::error::Error for Error {}

/// The value of the declared key `name` in its text form, or `None` when
/// it has none.
pub fn get(name: &str) -> Result<Option<String>, Error> {
    host::get(name)
}

/// The value of a `type = "string"` key that must have one.
pub fn string(name: &str) -> Result<String, Error> {
    get(name)?.ok_or_else(|| Error::Missing(name.to_owned()))
}

/// The value of a `type = "integer"` key that must have one.
pub fn integer(name: &str) -> Result<i64, Error> {
    string(name)?.parse().map_err(|_| Error::Invalid {
        name: name.to_owned(),
        wanted: "an integer",
    })
}

/// The value of a `type = "boolean"` key that must have one.
pub fn boolean(name: &str) -> Result<bool, Error> {
    match string(name)?.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::Invalid {
            name: name.to_owned(),
            wanted: "a boolean",
        }),
    }
}

#[cfg(target_arch = "wasm32")]
mod host {
    use super::Error;
    use crate::bindings::airlock::action::config as wit;

    pub fn get(name: &str) -> Result<Option<String>, Error> {
        wit::get(name).map_err(|e| match e {
            wit::Error::NotDeclared => Error::NotDeclared(name.to_owned()),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod host {
    use super::Error;

    pub fn get(name: &str) -> Result<Option<String>, Error> {
        Err(Error::NoHost(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_every_reader_is_an_error_not_an_abort() {
        for result in [
            get("channel").map(|_| ()),
            string("channel").map(|_| ()),
            integer("retries").map(|_| ()),
            boolean("dry_run").map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::NoHost(_)), "{err:?}");
            assert!(
                err.to_string().contains("only inside an airlock run"),
                "{err}"
            );
        }
    }
}
