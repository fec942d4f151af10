//! The manifest exactly as written, before validation, and the one
//! function that turns it into a [`Manifest`](super::Manifest).

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    action: Action,
    #[serde(default)]
    capabilities: Capabilities,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    config: BTreeMap<String, ConfigKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigKey {
    #[serde(rename = "type")]
    kind: ConfigType,
    default: Option<ConfigValue>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    name: String,
    version: String,
    publisher: String,
    #[serde(default)]
    description: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Capabilities {
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    files: Vec<File>,
    #[serde(default)]
    secrets: Vec<Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    mount: String,
    access: Access,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    name: String,
    #[serde(default)]
    send_to: Vec<String>,
    #[serde(default)]
    expose: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    memory: Option<ByteSize>,
    timeout: Option<Span>,
    output: Option<ByteSize>,
    http_requests: Option<u32>,
    http_request_body: Option<ByteSize>,
    http_response_body: Option<ByteSize>,
    http_connect_timeout: Option<Span>,
    http_first_byte_timeout: Option<Span>,
    http_timeout: Option<Span>,
}

impl Manifest {
    pub fn validate(self, document: &str) -> Result<super::Manifest, DocError> {
        let err = |path: String, message: String| DocError::new(document, path, message);
        let a = self.action;
        check_action_name(&a.name).map_err(|m| err("action.name".into(), m))?;
        let version = semver::Version::parse(&a.version).map_err(|e| {
            err(
                "action.version".into(),
                format!(
                    "`{}` is not a semantic version ({e}): write it like \"1.2.0\"",
                    a.version
                ),
            )
        })?;
        check_publisher(&a.publisher).map_err(|m| err("action.publisher".into(), m))?;
        if a.description.chars().any(char::is_control) || a.description.len() > 512 {
            return Err(err(
                "action.description".into(),
                "must be one line of at most 512 bytes".into(),
            ));
        }

        let caps = self.capabilities;
        let mut network = Vec::with_capacity(caps.network.len());
        for (i, origin) in caps.network.into_iter().enumerate() {
            let origin =
                check_origin(&origin).map_err(|m| err(format!("capabilities.network[{i}]"), m))?;
            if network.contains(&origin) {
                return Err(err(
                    format!("capabilities.network[{i}]"),
                    format!("`{origin}` is listed twice"),
                ));
            }
            network.push(origin);
        }

        let mut files = BTreeMap::new();
        for (i, f) in caps.files.into_iter().enumerate() {
            let path = format!("capabilities.files[{i}].mount");
            check_mount_name(&f.mount).map_err(|m| err(path.clone(), m))?;
            if files.insert(f.mount.clone(), f.access).is_some() {
                return Err(err(path, format!("mount `{}` is listed twice", f.mount)));
            }
        }

        let mut secrets = BTreeMap::new();
        for (i, s) in caps.secrets.into_iter().enumerate() {
            let path = format!("capabilities.secrets[{i}]");
            check_secret_name(&s.name).map_err(|m| err(format!("{path}.name"), m))?;
            let mut send_to = Vec::with_capacity(s.send_to.len());
            for (j, origin) in s.send_to.into_iter().enumerate() {
                send_to.push(
                    check_origin(&origin).map_err(|m| err(format!("{path}.send_to[{j}]"), m))?,
                );
            }
            let decl = SecretDecl {
                send_to,
                expose: s.expose,
            };
            if secrets.insert(s.name.clone(), decl).is_some() {
                return Err(err(
                    format!("{path}.name"),
                    format!("secret `{}` is listed twice", s.name),
                ));
            }
        }

        let l = self.limits;
        let limits = RequestedLimits {
            memory: l.memory,
            timeout: l.timeout,
            output: l.output,
            http_requests: l.http_requests,
            http_request_body: l.http_request_body,
            http_response_body: l.http_response_body,
            http_connect_timeout: l.http_connect_timeout,
            http_first_byte_timeout: l.http_first_byte_timeout,
            http_timeout: l.http_timeout,
        };
        if limits.memory.is_some_and(|m| m.0 == 0) {
            return Err(err("limits.memory".into(), "must be more than 0".into()));
        }
        let spans = [
            ("limits.timeout", limits.timeout),
            ("limits.http_connect_timeout", limits.http_connect_timeout),
            (
                "limits.http_first_byte_timeout",
                limits.http_first_byte_timeout,
            ),
            ("limits.http_timeout", limits.http_timeout),
        ];
        for (path, span) in spans {
            if span.is_some_and(|t| t.0.is_zero()) {
                return Err(err(path.into(), "must be more than 0".into()));
            }
        }

        if self.config.len() > config::MAX_KEYS {
            return Err(err(
                "config".into(),
                format!(
                    "{} keys are declared; at most {} are allowed",
                    self.config.len(),
                    config::MAX_KEYS
                ),
            ));
        }
        let mut declared = BTreeMap::new();
        for (key, c) in self.config {
            let path = format!("config.{key}");
            config::check_key(&key).map_err(|m| err(path.clone(), m))?;
            if c.description.chars().any(char::is_control) || c.description.len() > 512 {
                return Err(err(
                    format!("{path}.description"),
                    "must be one line of at most 512 bytes".into(),
                ));
            }
            if let Some(default) = &c.default {
                if default.kind() != c.kind {
                    return Err(err(
                        format!("{path}.default"),
                        format!("is {}, but the key's type is {}", default.kind(), c.kind),
                    ));
                }
                default
                    .check()
                    .map_err(|m| err(format!("{path}.default"), m))?;
                if c.required {
                    return Err(err(
                        format!("{path}.required"),
                        "a key with a default is never missing: drop `required` or the default"
                            .into(),
                    ));
                }
            }
            let decl = ConfigDecl {
                kind: c.kind,
                default: c.default,
                required: c.required,
                description: c.description,
            };
            declared.insert(key, decl);
        }

        Ok(super::Manifest {
            action: Identity {
                name: a.name,
                version,
                publisher: a.publisher,
                description: a.description,
            },
            capabilities: super::Capabilities {
                network,
                files,
                secrets,
            },
            limits,
            config: declared,
        })
    }
}
