use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    actions: BTreeMap<String, Action>,
    #[serde(default)]
    mounts: BTreeMap<String, Mount>,
    #[serde(default)]
    secrets: BTreeMap<String, Secret>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    compile: Compile,
    #[serde(default)]
    audit: Audit,
    #[serde(default)]
    publishers: BTreeMap<String, Publisher>,
    #[serde(default)]
    trust: Trust,
    #[serde(default)]
    network: Network,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    path: Option<PathBuf>,
    require_signature: Option<bool>,
    require_sbom: Option<bool>,
    #[serde(default)]
    config: BTreeMap<String, ConfigValue>,
    source: Option<String>,
    /// Pins moved to the lock; kept only to say so.
    digest: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Publisher {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    sigstore: Vec<Identity>,
    min_release_age: Option<Span>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    issuer: String,
    subject: String,
    repository: Option<String>,
    builder: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trust {
    lock: Option<PathBuf>,
    require_signature: Option<bool>,
    require_sbom: Option<bool>,
    trusted_root: Option<PathBuf>,
    min_release_age: Option<Span>,
    store: Option<PathBuf>,
    allow_dev: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Mount {
    path: PathBuf,
    access: Access,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Secret {
    env: Option<String>,
    file: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    memory: Option<ByteSize>,
    timeout: Option<Span>,
    output: Option<ByteSize>,
    input: Option<ByteSize>,
    stdio: Option<ByteSize>,
    log_records: Option<u32>,
    refusals: Option<u32>,
    http_requests: Option<u32>,
    http_request_body: Option<ByteSize>,
    http_response_body: Option<ByteSize>,
    http_connect_timeout: Option<Span>,
    http_first_byte_timeout: Option<Span>,
    http_timeout: Option<Span>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Compile {
    component: Option<ByteSize>,
    module: Option<ByteSize>,
    modules: Option<u64>,
    functions: Option<u64>,
    function: Option<ByteSize>,
    code: Option<ByteSize>,
    data_segment: Option<ByteSize>,
    data: Option<ByteSize>,
    custom_section: Option<ByteSize>,
    timeout: Option<Span>,
    memory: Option<ByteSize>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Network {
    #[serde(default)]
    ca_certs: Vec<PathBuf>,
    #[serde(default)]
    hosts: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    allow_private: Vec<String>,
    #[serde(default)]
    forbid: Vec<String>,
    min_prefix_v4: Option<u8>,
    min_prefix_v6: Option<u8>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Audit {
    path: Option<PathBuf>,
    sync: Option<SyncPolicy>,
    key: Option<PathBuf>,
    checkpoints: Option<PathBuf>,
    checkpoint_every: Option<u64>,
    checkpoint_interval: Option<Span>,
    segment_size: Option<ByteSize>,
    anchor_dir: Option<PathBuf>,
    anchor_command: Option<Vec<String>>,
}

impl Policy {
    pub fn validate(self, document: &str, base: &Path) -> Result<super::Policy, DocError> {
        let err = |path: String, message: String| DocError::new(document, path, message);
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };

        let store = self
            .trust
            .store
            .clone()
            .unwrap_or_else(|| PathBuf::from(".airlock/store"));
        let mut actions = BTreeMap::new();
        for (name, a) in self.actions {
            manifest::check_action_name(&name).map_err(|m| err(format!("actions.{name}"), m))?;
            if a.digest.is_some() {
                return Err(err(
                    format!("actions.{name}.digest"),
                    format!(
                        "digests are no longer pinned in the policy: remove this line and \
                         approve the action with `airlock approve {name}`, which records its \
                         digest in airlock.lock"
                    ),
                ));
            }
            // An action from a registry lives in the store, under the
            // manifest digest its source pins.
            let path = match (&a.source, a.path) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        format!("actions.{name}.source"),
                        "give a path or a source, not both".into(),
                    ));
                }
                (Some(source), None) => {
                    let hex =
                        oci_digest(source).map_err(|m| err(format!("actions.{name}.source"), m))?;
                    Some(resolve(store.join(format!("sha256-{hex}.wasm"))))
                }
                (None, path) => path.map(&resolve),
            };
            for (key, value) in &a.config {
                let path = format!("actions.{name}.config.{key}");
                config::check_key(key).map_err(|m| err(path.clone(), m))?;
                value.check().map_err(|m| err(path, m))?;
            }
            actions.insert(
                name,
                ActionSource {
                    path,
                    source: a.source,
                    require_signature: a.require_signature,
                    require_sbom: a.require_sbom,
                    config: a.config,
                },
            );
        }

        let mut publishers = BTreeMap::new();
        for (name, p) in self.publishers {
            manifest::check_publisher(&name).map_err(|m| err(format!("publishers.{name}"), m))?;
            let mut keys = Vec::with_capacity(p.keys.len());
            for (i, key) in p.keys.iter().enumerate() {
                keys.push(PublicKey::from_base64(key).map_err(|e| {
                    err(
                        format!("publishers.{name}.keys[{i}]"),
                        format!("not a minisign public key ({e}): paste the second line of the publisher's .pub file"),
                    )
                })?);
            }
            let mut sigstore = Vec::with_capacity(p.sigstore.len());
            for (i, id) in p.sigstore.into_iter().enumerate() {
                let at = |field: &str| format!("publishers.{name}.sigstore[{i}].{field}");
                for (field, value) in [
                    ("issuer", Some(&id.issuer)),
                    ("subject", Some(&id.subject)),
                    ("repository", id.repository.as_ref()),
                    ("builder", id.builder.as_ref()),
                ] {
                    if let Some(v) = value
                        && (v.is_empty() || v.len() > 1024 || v.chars().any(char::is_control))
                    {
                        return Err(err(
                            at(field),
                            "give 1 to 1024 characters, none of them control characters".into(),
                        ));
                    }
                }
                if id.subject.chars().all(|c| c == '*') {
                    return Err(err(
                        at("subject"),
                        "a subject of only `*` trusts anyone the issuer vouches for: name the \
                         workflow or account"
                            .into(),
                    ));
                }
                sigstore.push(crate::provenance::sigstore::Identity {
                    issuer: id.issuer,
                    subject: id.subject,
                    repository: id.repository,
                    builder: id.builder,
                });
            }
            if keys.is_empty() && sigstore.is_empty() {
                return Err(err(
                    format!("publishers.{name}.keys"),
                    "list at least one public key, or a sigstore identity".into(),
                ));
            }
            if !sigstore.is_empty() && self.trust.trusted_root.is_none() {
                return Err(err(
                    format!("publishers.{name}.sigstore"),
                    "a publisher trusted by Sigstore identity needs the trusted root its bundles \
                     are verified against: set trusted_root = \"trusted_root.json\" under [trust]"
                        .into(),
                ));
            }
            publishers.insert(
                name,
                super::Publisher {
                    keys,
                    sigstore,
                    min_release_age: p.min_release_age.map(|s| s.0),
                },
            );
        }
        let trust = super::Trust {
            lock: resolve(self.trust.lock.unwrap_or_else(|| "airlock.lock".into())),
            require_signature: self.trust.require_signature.unwrap_or(true),
            require_sbom: self.trust.require_sbom.unwrap_or(false),
            trusted_root: self.trust.trusted_root.map(&resolve),
            store: resolve(store),
            min_release_age: self.trust.min_release_age.map(|s| s.0),
            allow_dev: self.trust.allow_dev.unwrap_or(false),
        };

        let mut mounts = BTreeMap::new();
        for (name, m) in self.mounts {
            manifest::check_mount_name(&name).map_err(|e| err(format!("mounts.{name}"), e))?;
            mounts.insert(
                name,
                MountPolicy {
                    path: resolve(m.path),
                    access: m.access,
                },
            );
        }

        let mut secrets = BTreeMap::new();
        for (name, s) in self.secrets {
            manifest::check_secret_name(&name).map_err(|e| err(format!("secrets.{name}"), e))?;
            let source = match (s.env, s.file) {
                (Some(var), None) if !var.is_empty() && !var.contains(['=', '\0']) => {
                    SecretSource::Env(var)
                }
                (Some(var), None) => {
                    return Err(err(
                        format!("secrets.{name}.env"),
                        format!(
                            "`{}` is not an environment variable name",
                            var.escape_debug()
                        ),
                    ));
                }
                (None, Some(file)) => SecretSource::File(resolve(file)),
                _ => {
                    return Err(err(
                        format!("secrets.{name}"),
                        "give exactly one source: env = \"VAR\" or file = \"path\"".into(),
                    ));
                }
            };
            secrets.insert(name, source);
        }

        let defaults = Ceilings::default();
        let l = self.limits;
        let limits = Ceilings {
            memory: l.memory.unwrap_or(defaults.memory),
            timeout: l.timeout.map(|s| s.0).unwrap_or(defaults.timeout),
            output: l.output.unwrap_or(defaults.output),
            input: l.input.unwrap_or(defaults.input),
            stdio: l.stdio.unwrap_or(defaults.stdio),
            log_records: l.log_records.unwrap_or(defaults.log_records),
            refusals: l.refusals.unwrap_or(defaults.refusals),
            http_requests: l.http_requests.unwrap_or(defaults.http_requests),
            http_request_body: l.http_request_body.unwrap_or(defaults.http_request_body),
            http_response_body: l.http_response_body.unwrap_or(defaults.http_response_body),
            http_connect_timeout: l
                .http_connect_timeout
                .map(|s| s.0)
                .unwrap_or(defaults.http_connect_timeout),
            http_first_byte_timeout: l
                .http_first_byte_timeout
                .map(|s| s.0)
                .unwrap_or(defaults.http_first_byte_timeout),
            http_timeout: l.http_timeout.map(|s| s.0).unwrap_or(defaults.http_timeout),
        };
        if limits.memory.0 == 0 || limits.timeout.is_zero() {
            return Err(err(
                "limits".into(),
                "memory and timeout must be more than 0".into(),
            ));
        }
        if limits.input.0 == 0 {
            return Err(err(
                "limits.input".into(),
                "must be more than 0 (the smallest input, `{}`, is 2 bytes)".into(),
            ));
        }
        if limits.http_connect_timeout.is_zero()
            || limits.http_first_byte_timeout.is_zero()
            || limits.http_timeout.is_zero()
        {
            return Err(err(
                "limits".into(),
                "http timeouts must be more than 0".into(),
            ));
        }

        let compile = self.compile.validate(&err)?;
        let network = self.network.validate(&err, &resolve)?;

        let a = self.audit;
        let mut audit = AuditConfig::at(resolve(
            a.path.unwrap_or_else(|| "airlock-audit.jsonl".into()),
        ));
        audit.sync = a.sync.unwrap_or(SyncPolicy::Always);
        audit.key = a.key.map(resolve);
        if let Some(c) = a.checkpoints {
            audit.checkpoints = resolve(c);
        }
        if let Some(n) = a.checkpoint_every {
            if n == 0 {
                return Err(err(
                    "audit.checkpoint_every".into(),
                    "must be more than 0".into(),
                ));
            }
            audit.checkpoint_every = n;
        }
        if let Some(t) = a.checkpoint_interval {
            if t.0.is_zero() {
                return Err(err(
                    "audit.checkpoint_interval".into(),
                    "must be more than 0".into(),
                ));
            }
            audit.checkpoint_interval = t.0;
        }
        audit.segment_size = a.segment_size.filter(|s| s.0 > 0);
        audit.anchor = match (a.anchor_dir, a.anchor_command) {
            (None, None) => None,
            (Some(dir), None) => Some(Anchor::Dir(resolve(dir))),
            (None, Some(cmd)) if !cmd.is_empty() => Some(Anchor::Command(cmd)),
            (None, Some(_)) => {
                return Err(err(
                    "audit.anchor_command".into(),
                    "give the program and its arguments".into(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(err(
                    "audit".into(),
                    "give one of anchor_dir and anchor_command".into(),
                ));
            }
        };

        Ok(super::Policy {
            base: base.to_path_buf(),
            file: None,
            actions,
            mounts,
            secrets,
            limits,
            compile,
            audit,
            publishers,
            trust,
            network,
        })
    }
}

impl Compile {
    fn validate(
        self,
        err: &dyn Fn(String, String) -> DocError,
    ) -> Result<CompileCeilings, DocError> {
        let d = CompileCeilings::default();
        let size = |key: &str, v: Option<ByteSize>, default: ByteSize| match v {
            Some(ByteSize(0)) => Err(err(
                format!("compile.{key}"),
                "must be more than 0: a ceiling of 0 admits no component".into(),
            )),
            v => Ok(v.unwrap_or(default)),
        };
        let count = |key: &str, v: Option<u64>, default: u64| {
            size(key, v.map(ByteSize), ByteSize(default)).map(|b| b.0)
        };
        Ok(CompileCeilings {
            component: size("component", self.component, d.component)?,
            module: size("module", self.module, d.module)?,
            modules: count("modules", self.modules, d.modules)?,
            functions: count("functions", self.functions, d.functions)?,
            function: size("function", self.function, d.function)?,
            code: size("code", self.code, d.code)?,
            data_segment: size("data_segment", self.data_segment, d.data_segment)?,
            data: size("data", self.data, d.data)?,
            custom_section: size("custom_section", self.custom_section, d.custom_section)?,
            timeout: match self.timeout {
                Some(Span(t)) if t.is_zero() => {
                    return Err(err(
                        "compile.timeout".into(),
                        "must be more than 0: no component compiles in no time".into(),
                    ));
                }
                t => t.map_or(d.timeout, |s| s.0),
            },
            memory: size("memory", self.memory, d.memory)?,
        })
    }
}

impl Network {
    fn validate(
        self,
        err: &dyn Fn(String, String) -> DocError,
        resolve: &dyn Fn(PathBuf) -> PathBuf,
    ) -> Result<NetworkPolicy, DocError> {
        let mut hosts = BTreeMap::new();
        for (name, addrs) in self.hosts {
            let path = format!("network.hosts.{name:?}");
            let key = normalize_name(&name).map_err(|m| err(path.clone(), m))?;
            if addrs.is_empty() {
                return Err(err(
                    path,
                    "give at least one address, like [\"10.0.0.5\"]".into(),
                ));
            }
            let addrs = addrs
                .iter()
                .enumerate()
                .map(|(i, a)| a.parse().map_err(|m| err(format!("{path}[{i}]"), m)))
                .collect::<Result<Vec<HostAddr>, _>>()?;
            if hosts.insert(key.clone(), addrs).is_some() {
                return Err(err(path, format!("`{key}` is listed twice")));
            }
        }
        let allow_private = self
            .allow_private
            .iter()
            .enumerate()
            .map(|(i, b)| {
                b.parse::<IpBlock>()
                    .map_err(|m| err(format!("network.allow_private[{i}]"), m))
            })
            .collect::<Result<_, _>>()?;
        let mut forbid = BTreeSet::new();
        for (i, name) in self.forbid.iter().enumerate() {
            let kind = Sensitive::parse(name).ok_or_else(|| {
                let kinds: Vec<&str> = Sensitive::ALL.iter().map(|k| k.as_str()).collect();
                err(
                    format!("network.forbid[{i}]"),
                    format!(
                        "`{}` is not a kind of address: use {}",
                        name.escape_debug(),
                        kinds.join(", ")
                    ),
                )
            })?;
            forbid.insert(kind);
        }
        let defaults = MinPrefix::default();
        let prefix = |key: &str, value: Option<u8>, default: u8, max: u8| match value {
            None => Ok(default),
            Some(p) if (1..=max).contains(&p) => Ok(p),
            Some(p) => Err(err(
                format!("network.{key}"),
                format!("/{p} is not a prefix length: use one from 1 to {max}"),
            )),
        };
        let min_prefix = MinPrefix {
            v4: prefix("min_prefix_v4", self.min_prefix_v4, defaults.v4, 32)?,
            v6: prefix("min_prefix_v6", self.min_prefix_v6, defaults.v6, 128)?,
        };
        Ok(NetworkPolicy {
            ca_certs: self.ca_certs.into_iter().map(resolve).collect(),
            hosts,
            allow_private,
            forbid,
            min_prefix,
        })
    }
}

/// The manifest digest's hex of an action's `source`, which must be
/// `oci://HOST/NAME@sha256:HEX`: pinned, never a tag.
fn oci_digest(source: &str) -> Result<&str, String> {
    let pinned = source
        .strip_prefix("oci://")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(_, path)| path.rsplit_once("@sha256:"))
        .map(|(_, hex)| hex)
        .filter(|hex| {
            hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
    pinned.ok_or_else(|| {
        format!(
            "`{}` is not a pinned OCI reference: give oci://HOST/NAME@sha256:HEX (`airlock pull` \
             prints the digest a tag resolves to)",
            source.escape_debug()
        )
    })
}
