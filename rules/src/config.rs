//! Configuration that is not secret: the keys a manifest declares under
//! `[config]`, the values a policy sets for one action under
//! `[actions.NAME.config]`, and the values a run gets — the policy's, or
//! the manifest's defaults.
//!
//! A value is a string, an integer or a boolean. The action reads it as
//! text (`config.get`); every value of a run is recorded in its
//! `run.start`, which is why nothing secret belongs here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The most keys a manifest may declare.
pub const MAX_KEYS: usize = 64;
/// The longest string value, in bytes.
pub const MAX_STRING: usize = 4096;
/// The largest integer (and, negated, the smallest): what every JSON
/// reader, the audit log's canonical form and JavaScript hold exactly.
pub const MAX_INTEGER: i64 = (1 << 53) - 1;

/// The type of a declared key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigType {
    /// UTF-8 text, at most [`MAX_STRING`] bytes.
    String,
    /// A whole number within ±[`MAX_INTEGER`] (2^53 − 1).
    Integer,
    /// `true` or `false`.
    Boolean,
}

impl fmt::Display for ConfigType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigType::String => "a string",
            ConfigType::Integer => "an integer",
            ConfigType::Boolean => "a boolean",
        })
    }
}

/// One value, as a manifest's default or a policy's setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// Text.
    String(String),
    /// A whole number.
    Integer(i64),
    /// A flag.
    Boolean(bool),
}

impl ConfigValue {
    /// Its type.
    pub fn kind(&self) -> ConfigType {
        match self {
            ConfigValue::String(_) => ConfigType::String,
            ConfigValue::Integer(_) => ConfigType::Integer,
            ConfigValue::Boolean(_) => ConfigType::Boolean,
        }
    }

    /// Whether it is within bounds; says why not.
    pub fn check(&self) -> Result<(), String> {
        match self {
            ConfigValue::String(s) if s.len() > MAX_STRING => Err(format!(
                "a string of {} bytes is longer than the {MAX_STRING} bytes a value may have",
                s.len()
            )),
            ConfigValue::Integer(i) if i.unsigned_abs() > MAX_INTEGER as u64 => Err(format!(
                "{i} is beyond ±{MAX_INTEGER} (2^53 − 1), the integers every reader of the \
                 audit log holds exactly; write a larger number as a string"
            )),
            _ => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ConfigValue, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConfigValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, an integer or a boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConfigValue, E> {
                Ok(ConfigValue::String(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConfigValue, E> {
                Ok(ConfigValue::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConfigValue, E> {
                i64::try_from(v)
                    .map(ConfigValue::Integer)
                    .map_err(|_| E::custom(format!("{v} is larger than a 64-bit integer")))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ConfigValue, E> {
                Ok(ConfigValue::Boolean(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// The text form an action reads: a string as it is, an integer in
/// decimal, a boolean as `true` or `false`.
impl fmt::Display for ConfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::String(s) => f.write_str(s),
            ConfigValue::Integer(i) => write!(f, "{i}"),
            ConfigValue::Boolean(b) => write!(f, "{b}"),
        }
    }
}

/// One key as a manifest declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConfigDecl {
    /// The type every value must have.
    #[serde(rename = "type")]
    pub kind: ConfigType,
    /// The value when the policy sets none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<ConfigValue>,
    /// Whether the policy must set a value (only without a default).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// One line on what it means, for the operator.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Key names: `[a-z][a-z0-9_]*`, at most 64 bytes, so that every SDK can
/// use them as identifiers.
pub fn check_key(name: &str) -> Result<(), String> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a configuration key: use a-z, 0-9 and _, starting with a letter, \
             at most 64 bytes, like \"channel\"",
            name.escape_debug()
        ))
    }
}

/// Why a run's configuration cannot be decided. Each names the key and
/// says what to change.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The policy sets a key the manifest does not declare.
    #[error(
        "the policy sets config `{key}` for action `{action}`, which its manifest does not \
         declare (it declares {declared}): remove it from [actions.{action}.config]"
    )]
    Undeclared {
        /// The action.
        action: String,
        /// The key.
        key: String,
        /// The declared keys, listed for the message.
        declared: String,
    },
    /// The policy's value is not of the declared type.
    #[error(
        "the policy sets config `{key}` for action `{action}` to {got}, but its manifest \
         declares {want}: fix [actions.{action}.config] {key}"
    )]
    WrongType {
        /// The action.
        action: String,
        /// The key.
        key: String,
        /// The declared type.
        want: ConfigType,
        /// The type set.
        got: ConfigType,
    },
    /// A required key has no value.
    #[error(
        "action `{action}` requires config `{key}` ({kind}{description}), which the policy \
         does not set: add {key} = … under [actions.{action}.config]"
    )]
    Missing {
        /// The action.
        action: String,
        /// The key.
        key: String,
        /// Its type.
        kind: ConfigType,
        /// `: <description>` when the manifest gives one.
        description: String,
    },
}

/// The values of one run of `action`: each declared key's value from
/// `set` (the policy's `[actions.NAME.config]`), or its default; keys with
/// neither are absent. Refuses a key the manifest does not declare, a value
/// of another type, and a required key left unset.
pub fn resolve(
    action: &str,
    declared: &BTreeMap<String, ConfigDecl>,
    set: &BTreeMap<String, ConfigValue>,
) -> Result<BTreeMap<String, ConfigValue>, ConfigError> {
    if let Some(key) = set.keys().find(|k| !declared.contains_key(*k)) {
        let names: Vec<String> = declared.keys().map(|k| format!("`{k}`")).collect();
        return Err(ConfigError::Undeclared {
            action: action.into(),
            key: key.clone(),
            declared: match names.is_empty() {
                true => "no keys".into(),
                false => names.join(", "),
            },
        });
    }
    let mut values = BTreeMap::new();
    for (key, decl) in declared {
        let value = match (set.get(key), &decl.default) {
            (Some(v), _) if v.kind() != decl.kind => {
                return Err(ConfigError::WrongType {
                    action: action.into(),
                    key: key.clone(),
                    want: decl.kind,
                    got: v.kind(),
                });
            }
            (Some(v), _) | (None, Some(v)) => v.clone(),
            (None, None) if decl.required => {
                return Err(ConfigError::Missing {
                    action: action.into(),
                    key: key.clone(),
                    kind: decl.kind,
                    description: match decl.description.is_empty() {
                        true => String::new(),
                        false => format!(": {}", decl.description),
                    },
                });
            }
            (None, None) => continue,
        };
        values.insert(key.clone(), value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(kind: ConfigType, default: Option<ConfigValue>, required: bool) -> ConfigDecl {
        ConfigDecl {
            kind,
            default,
            required,
            description: "where to post".into(),
        }
    }

    fn declared() -> BTreeMap<String, ConfigDecl> {
        BTreeMap::from([
            (
                "channel".into(),
                decl(
                    ConfigType::String,
                    Some(ConfigValue::String("general".into())),
                    false,
                ),
            ),
            ("retries".into(), decl(ConfigType::Integer, None, true)),
            ("dry_run".into(), decl(ConfigType::Boolean, None, false)),
        ])
    }

    fn set(pairs: &[(&str, ConfigValue)]) -> BTreeMap<String, ConfigValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn policy_values_win_defaults_fill_and_unset_optional_keys_are_absent() {
        let got = resolve(
            "notify",
            &declared(),
            &set(&[("retries", ConfigValue::Integer(3))]),
        );
        assert_eq!(
            got.unwrap(),
            set(&[
                ("channel", ConfigValue::String("general".into())),
                ("retries", ConfigValue::Integer(3)),
            ])
        );
        let got = resolve(
            "notify",
            &declared(),
            &set(&[
                ("retries", ConfigValue::Integer(-1)),
                ("channel", ConfigValue::String("ops".into())),
                ("dry_run", ConfigValue::Boolean(false)),
            ]),
        )
        .unwrap();
        assert_eq!(got["channel"].to_string(), "ops");
        assert_eq!(got["retries"].to_string(), "-1");
        assert_eq!(got["dry_run"].to_string(), "false");
    }

    #[test]
    fn each_mistake_names_the_key_and_the_fix() {
        let cases = [
            (
                set(&[
                    ("retries", ConfigValue::Integer(1)),
                    ("chanel", ConfigValue::String("x".into())),
                ]),
                "the policy sets config `chanel` for action `notify`, which its manifest does \
                 not declare (it declares `channel`, `dry_run`, `retries`): remove it from \
                 [actions.notify.config]",
            ),
            (
                set(&[("retries", ConfigValue::String("3".into()))]),
                "the policy sets config `retries` for action `notify` to a string, but its \
                 manifest declares an integer: fix [actions.notify.config] retries",
            ),
            (
                set(&[
                    ("retries", ConfigValue::Integer(1)),
                    ("dry_run", ConfigValue::Integer(1)),
                ]),
                "the policy sets config `dry_run` for action `notify` to an integer, but its \
                 manifest declares a boolean: fix [actions.notify.config] dry_run",
            ),
            (
                set(&[]),
                "action `notify` requires config `retries` (an integer: where to post), which \
                 the policy does not set: add retries = … under [actions.notify.config]",
            ),
        ];
        for (values, want) in cases {
            let err = resolve("notify", &declared(), &values).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        let err = resolve(
            "bare",
            &BTreeMap::new(),
            &set(&[("x", ConfigValue::Boolean(true))]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("(it declares no keys)"), "{err}");
    }

    #[test]
    fn key_names_are_identifiers() {
        for good in ["channel", "a", "max_retries_2", &"k".repeat(64)] {
            assert_eq!(check_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Channel",
            "2fast",
            "_x",
            "a-b",
            "a b",
            "é",
            &"k".repeat(65),
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn integers_are_bounded_to_what_json_holds_exactly() {
        for ok in [0, MAX_INTEGER, -MAX_INTEGER] {
            assert!(ConfigValue::Integer(ok).check().is_ok(), "{ok}");
        }
        for bad in [MAX_INTEGER + 1, -MAX_INTEGER - 1, i64::MAX, i64::MIN] {
            let err = ConfigValue::Integer(bad).check().unwrap_err();
            assert!(err.contains("write a larger number as a string"), "{err}");
        }
    }

    #[test]
    fn strings_are_bounded() {
        assert!(ConfigValue::String("x".repeat(MAX_STRING)).check().is_ok());
        let err = ConfigValue::String("x".repeat(MAX_STRING + 1))
            .check()
            .unwrap_err();
        assert!(err.contains("4097 bytes"), "{err}");
    }
}
