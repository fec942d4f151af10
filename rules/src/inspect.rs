//! What a component is, without running it: digest, embedded manifest,
//! imports and exports, who built it (`producers`: language, toolchain),
//! its custom sections, the dependency list it was built with
//! ([`crate::sbom`]), and risk flags — where its imports exceed its
//! declaration, and what in its declaration deserves a second look.

use crate::bounds::{self, Measures};
use crate::grant;
use crate::manifest::{Access, Manifest, RequestedLimits, section};
use crate::net::sensitive::Sensitive;
use crate::net::{HostPattern, Origin, Scheme};
use crate::policy::NetworkPolicy;
use crate::provenance::Digest;
use crate::sbom::{self, Sbom};
use serde::Serialize;
use wasmparser::{Parser, Payload};

/// The result of inspecting a component.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// SHA-256 of the bytes, as `sha256sum` prints it (with a `sha256:` prefix).
    pub digest: Digest,
    /// Size in bytes.
    pub bytes: u64,
    /// The embedded manifest, if it is present and valid.
    pub manifest: Option<Manifest>,
    /// Why there is no valid manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_error: Option<String>,
    /// The component's imports, by interface name.
    pub imports: Vec<String>,
    /// The component's exports.
    pub exports: Vec<String>,
    /// `producers` metadata of the component and of every module inside it.
    pub producers: Vec<Producer>,
    /// Every custom section, at every level.
    pub custom_sections: Vec<CustomSection>,
    /// What compiling it would cost: the measures held to the policy's
    /// `[compile]` ceilings before it is compiled.
    pub compile: Measures,
    /// The dependency list it was built with ([`crate::sbom`]), as the
    /// fields of a CycloneDX BOM; `null` without one.
    #[serde(serialize_with = "sbom::as_cyclonedx")]
    pub sbom: Option<Sbom>,
    /// Why the embedded dependency list cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom_error: Option<String>,
    /// Where the component reaches beyond its declaration, and what in the
    /// declaration widens risk: each with a stable code and a severity.
    pub flags: Vec<Flag>,
}

/// One field of a `producers` section, like `language: Rust`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Producer {
    /// Which part of the component: `component`, `core module 0`, …
    pub scope: String,
    /// `language`, `processed-by` or `sdk`.
    pub field: String,
    /// `name version` of each value.
    pub values: Vec<String>,
}

/// A custom section: data the runtime ignores but that travels with the
/// digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomSection {
    /// Which part of the component holds it.
    pub scope: String,
    /// The section's name.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl Inspection {
    /// Inspect `component`; `origin` names it in messages. Blocks are
    /// flagged as wide by the default
    /// [`MinPrefix`](crate::net::sensitive::MinPrefix).
    pub fn of(component: &[u8], origin: &str) -> Result<Inspection, String> {
        Inspection::under(component, origin, &NetworkPolicy::default())
    }

    /// Inspect `component`, flagging network grants by the thresholds of
    /// the policy's `[network]`, and those the policy forbids.
    pub fn under(
        component: &[u8],
        origin: &str,
        network: &NetworkPolicy,
    ) -> Result<Inspection, String> {
        let digest = Digest::of(component);
        let Surface {
            imports,
            exports,
            producers,
            custom_sections,
        } = surface(component)?;
        let compile = bounds::measure(component)?;
        let (manifest, manifest_error) = match section::extract(component) {
            Ok(text) => match Manifest::parse(&format!("manifest of {origin}"), text) {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e.to_string())),
            },
            Err(e) => (None, Some(e.to_string())),
        };
        let mut flags = Vec::new();
        if let Some(m) = &manifest {
            flags = beyond_declaration(m, &imports);
            flags.extend(risks_under(m, network));
        }
        if !exports.iter().any(|e| e == "run") {
            flags.push(Flag::new(
                FlagCode::NoRunExport,
                "exports no `run` function: airlock cannot invoke it".into(),
            ));
        }
        let (sbom, sbom_error) = match sbom::read(component) {
            Ok(sbom) => (sbom, None),
            Err(e) => (None, Some(e.to_string())),
        };
        Ok(Inspection {
            digest,
            bytes: component.len() as u64,
            manifest,
            manifest_error,
            imports,
            exports,
            producers,
            custom_sections,
            compile,
            sbom,
            sbom_error,
            flags,
        })
    }
}

/// What a component shows the outside: its top-level imports and exports,
/// and the producers and custom sections at every level.
#[derive(Default)]
struct Surface {
    imports: Vec<String>,
    exports: Vec<String>,
    producers: Vec<Producer>,
    custom_sections: Vec<CustomSection>,
}

fn surface(component: &[u8]) -> Result<Surface, String> {
    let mut s = Surface::default();
    // The scope of each open level: the component, then nested modules and
    // components in the order they appear.
    let mut scopes: Vec<String> = Vec::new();
    let (mut modules, mut components) = (0usize, 0usize);
    for payload in Parser::new(0).parse_all(component) {
        let payload =
            payload.map_err(|e| format!("not a WebAssembly component: {}", e.message()))?;
        let depth = scopes.len();
        match payload {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != wasmparser::Encoding::Component {
                    return Err("a core module, not a component: build for wasm32-wasip2".into());
                }
                if depth == 0 {
                    scopes.push("component".into());
                }
            }
            Payload::ModuleSection { .. } => {
                scopes.push(format!("core module {modules}"));
                modules += 1;
            }
            Payload::ComponentSection { .. } => {
                scopes.push(format!("nested component {components}"));
                components += 1;
            }
            Payload::End(_) => {
                scopes.pop();
            }
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    let import = import.map_err(|e| e.message().to_owned())?;
                    s.imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    let export = export.map_err(|e| e.message().to_owned())?;
                    s.exports.push(export.name.name.to_owned());
                }
            }
            Payload::CustomSection(c) => {
                let scope = scopes.last().cloned().unwrap_or_default();
                s.custom_sections.push(CustomSection {
                    scope: scope.clone(),
                    name: crate::doc::one_line(c.name()),
                    bytes: c.data().len() as u64,
                });
                if let wasmparser::KnownCustom::Producers(reader) = c.as_known() {
                    for field in reader.into_iter().flatten() {
                        let values = field
                            .values
                            .into_iter()
                            .flatten()
                            .map(|v| crate::doc::one_line(&format!("{} {}", v.name, v.version)))
                            .collect();
                        s.producers.push(Producer {
                            scope: scope.clone(),
                            field: crate::doc::one_line(field.name),
                            values,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}

/// How much a flag matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, widens nothing: what will be refused anyway.
    Info,
    /// Widens what the action may do: a reviewer should weigh it.
    Warning,
    /// The component cannot run as it is.
    Error,
}

/// What a flag is about. The codes are stable: tools may match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagCode {
    /// Interfaces imported that the declaration grants nothing of; every
    /// use is refused at run time (one flag for all of them).
    UngrantedImports,
    /// An import airlock does not provide: the component will not link.
    UnknownImport,
    /// No `run` export: airlock cannot invoke it.
    NoRunExport,
    /// A `*.` origin: any matching host, including ones set up later.
    WildcardHost,
    /// A granted address or block that reaches a cloud metadata service.
    MetadataAddress,
    /// A granted address or block that reaches loopback.
    LoopbackAddress,
    /// A granted address or block that reaches link-local addresses.
    LinkLocalAddress,
    /// A granted block wider than the policy's `min_prefix_v4`/`_v6`.
    WideBlock,
    /// A mount asked for read-write.
    ReadWriteMount,
    /// A secret the action may read in plaintext.
    ExposedSecret,
    /// A secret with no `send_to` audience.
    SecretWithoutAudience,
    /// A secret that may be sent to a wildcard host.
    SecretToWildcard,
    /// A secret that may be sent over plaintext HTTP.
    SecretOverPlaintext,
    /// A limit asked for above airlock's default.
    RaisedLimit,
}

impl FlagCode {
    /// Every code, in the order of the operator guide's table.
    pub const ALL: [FlagCode; 14] = [
        FlagCode::UngrantedImports,
        FlagCode::UnknownImport,
        FlagCode::NoRunExport,
        FlagCode::WildcardHost,
        FlagCode::MetadataAddress,
        FlagCode::LoopbackAddress,
        FlagCode::LinkLocalAddress,
        FlagCode::WideBlock,
        FlagCode::ReadWriteMount,
        FlagCode::ExposedSecret,
        FlagCode::SecretWithoutAudience,
        FlagCode::SecretToWildcard,
        FlagCode::SecretOverPlaintext,
        FlagCode::RaisedLimit,
    ];

    fn of(kind: Sensitive) -> FlagCode {
        match kind {
            Sensitive::Metadata => FlagCode::MetadataAddress,
            Sensitive::Loopback => FlagCode::LoopbackAddress,
            Sensitive::LinkLocal => FlagCode::LinkLocalAddress,
            Sensitive::Wide => FlagCode::WideBlock,
        }
    }

    /// The code as JSON carries it, like `wildcard_host`.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagCode::UngrantedImports => "ungranted_imports",
            FlagCode::UnknownImport => "unknown_import",
            FlagCode::NoRunExport => "no_run_export",
            FlagCode::WildcardHost => "wildcard_host",
            FlagCode::MetadataAddress => "metadata_address",
            FlagCode::LoopbackAddress => "loopback_address",
            FlagCode::LinkLocalAddress => "link_local_address",
            FlagCode::WideBlock => "wide_block",
            FlagCode::ReadWriteMount => "read_write_mount",
            FlagCode::ExposedSecret => "exposed_secret",
            FlagCode::SecretWithoutAudience => "secret_without_audience",
            FlagCode::SecretToWildcard => "secret_to_wildcard",
            FlagCode::SecretOverPlaintext => "secret_over_plaintext",
            FlagCode::RaisedLimit => "raised_limit",
        }
    }

    /// How much a flag of this code matters.
    pub fn severity(self) -> Severity {
        match self {
            FlagCode::UngrantedImports => Severity::Info,
            FlagCode::UnknownImport | FlagCode::NoRunExport => Severity::Error,
            _ => Severity::Warning,
        }
    }
}

/// One thing a reviewer should know about a component or its declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Flag {
    /// What it is about.
    pub code: FlagCode,
    /// How much it matters.
    pub severity: Severity,
    /// What it is, in plain words.
    pub message: String,
}

impl Flag {
    fn new(code: FlagCode, message: String) -> Flag {
        Flag {
            code,
            severity: code.severity(),
            message,
        }
    }
}

/// As a reviewer reads it: the message, then the code.
impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code.as_str())
    }
}

/// What in a declaration deserves a second look before it is approved,
/// with the default thresholds of a policy's `[network]`.
pub fn risks(manifest: &Manifest) -> Vec<Flag> {
    risks_under(manifest, &NetworkPolicy::default())
}

/// What in a declaration widens what the action may do, under the
/// policy's `[network]`: wildcard hosts; granted addresses and blocks that
/// reach cloud metadata services, loopback or link-local addresses, blocks
/// wider than its `min_prefix_v4`/`min_prefix_v6`, and which of those it
/// forbids; read-write mounts; exposed secrets, secrets without an
/// audience or sent to a wildcard host; limits raised above the defaults.
pub fn risks_under(manifest: &Manifest, network: &NetworkPolicy) -> Vec<Flag> {
    let caps = &manifest.capabilities;
    let mut flags = Vec::new();
    let wildcard = |o: &&Origin| matches!(o.host, HostPattern::Subdomains(_));
    for origin in caps.network.iter().filter(wildcard) {
        flags.push(Flag::new(
            FlagCode::WildcardHost,
            format!(
                "wildcard host {origin}: any matching host may be reached, including ones set up later"
            ),
        ));
    }
    for origin in &caps.network {
        for (kind, why) in origin.sensitivities(network.min_prefix) {
            let verdict = if network.forbid.contains(&kind) {
                let noun = if kind == Sensitive::Wide {
                    "blocks"
                } else {
                    "addresses"
                };
                format!("; the policy forbids {kind} {noun}, so it will not be granted")
            } else {
                String::new()
            };
            flags.push(Flag::new(
                FlagCode::of(kind),
                format!("network origin {origin} {why}{verdict}"),
            ));
        }
    }
    for (mount, access) in &caps.files {
        if *access == Access::ReadWrite {
            flags.push(Flag::new(
                FlagCode::ReadWriteMount,
                format!(
                    "mount `{mount}` is read-write: the action may change, create and remove files there"
                ),
            ));
        }
    }
    for (name, secret) in &caps.secrets {
        if secret.expose {
            flags.push(Flag::new(
                FlagCode::ExposedSecret,
                format!(
                    "secret `{name}` is exposed: the action reads its plaintext and could send it anywhere it can reach"
                ),
            ));
        }
        if secret.send_to.is_empty() {
            flags.push(Flag::new(
                FlagCode::SecretWithoutAudience,
                format!(
                    "secret `{name}` has no audience: no send_to origin limits where it is used"
                ),
            ));
        }
        for origin in secret.send_to.iter().filter(wildcard) {
            flags.push(Flag::new(
                FlagCode::SecretToWildcard,
                format!("secret `{name}` may be sent to the wildcard host {origin}"),
            ));
        }
        for origin in secret.send_to.iter().filter(|o| o.scheme == Scheme::Http) {
            flags.push(Flag::new(
                FlagCode::SecretOverPlaintext,
                format!(
                    "secret `{name}` may be sent to {origin} over plaintext HTTP: anyone on the \
                     path can read it"
                ),
            ));
        }
    }
    flags.extend(raised_limits(&manifest.limits));
    flags
}

/// Limits the manifest asks for above airlock's defaults (the policy's
/// ceilings still bound them).
fn raised_limits(asked: &RequestedLimits) -> Vec<Flag> {
    let span = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let raised = [
        (
            "memory",
            asked
                .memory
                .filter(|m| *m > grant::DEFAULT_MEMORY)
                .map(|m| (m.to_string(), grant::DEFAULT_MEMORY.to_string())),
        ),
        (
            "timeout",
            asked
                .timeout
                .filter(|t| t.0 > grant::DEFAULT_TIMEOUT)
                .map(|t| (span(t.0), span(grant::DEFAULT_TIMEOUT))),
        ),
        (
            "http_requests",
            asked
                .http_requests
                .filter(|r| *r > grant::DEFAULT_HTTP_REQUESTS)
                .map(|r| (r.to_string(), grant::DEFAULT_HTTP_REQUESTS.to_string())),
        ),
        (
            "http_request_body",
            asked
                .http_request_body
                .filter(|b| *b > grant::DEFAULT_HTTP_REQUEST_BODY)
                .map(|b| (b.to_string(), grant::DEFAULT_HTTP_REQUEST_BODY.to_string())),
        ),
        (
            "http_response_body",
            asked
                .http_response_body
                .filter(|b| *b > grant::DEFAULT_HTTP_RESPONSE_BODY)
                .map(|b| (b.to_string(), grant::DEFAULT_HTTP_RESPONSE_BODY.to_string())),
        ),
        (
            "http_connect_timeout",
            asked
                .http_connect_timeout
                .filter(|t| t.0 > grant::DEFAULT_HTTP_CONNECT_TIMEOUT)
                .map(|t| (span(t.0), span(grant::DEFAULT_HTTP_CONNECT_TIMEOUT))),
        ),
        (
            "http_first_byte_timeout",
            asked
                .http_first_byte_timeout
                .filter(|t| t.0 > grant::DEFAULT_HTTP_FIRST_BYTE_TIMEOUT)
                .map(|t| (span(t.0), span(grant::DEFAULT_HTTP_FIRST_BYTE_TIMEOUT))),
        ),
        (
            "http_timeout",
            asked
                .http_timeout
                .filter(|t| t.0 > grant::DEFAULT_HTTP_TIMEOUT)
                .map(|t| (span(t.0), span(grant::DEFAULT_HTTP_TIMEOUT))),
        ),
    ];
    raised
        .into_iter()
        .filter_map(|(limit, raised)| {
            let (asked, default) = raised?;
            Some(Flag::new(
                FlagCode::RaisedLimit,
                format!("limit {limit} is raised to {asked}, above the default {default}"),
            ))
        })
        .collect()
}

/// Imports that reach beyond what `manifest` declares: one `info` flag
/// summing up the interfaces it is granted nothing of (sockets; HTTP
/// without an origin; files without a mount; secrets or configuration
/// without one declared), whose every use is refused at run time, and an
/// `error` for each import airlock does not provide.
pub fn beyond_declaration(manifest: &Manifest, imports: &[String]) -> Vec<Flag> {
    let caps = &manifest.capabilities;
    let mut ungranted: Vec<&str> = Vec::new();
    let mut flags = Vec::new();
    for import in imports {
        let interface = import.split('@').next().unwrap_or(import);
        let granted_nothing = match interface {
            i if i.starts_with("wasi:sockets/") => true,
            i if i.starts_with("wasi:http/") => caps.network.is_empty(),
            i if i.starts_with("wasi:filesystem/") => caps.files.is_empty(),
            "airlock:action/secrets" => caps.secrets.is_empty(),
            "airlock:action/config" => manifest.config.is_empty(),
            i if i.starts_with("wasi:") || i.starts_with("airlock:action/") => false,
            _ => {
                flags.push(Flag::new(
                    FlagCode::UnknownImport,
                    format!("imports {import}, which airlock does not provide: it will not link"),
                ));
                false
            }
        };
        if granted_nothing && !ungranted.contains(&interface) {
            ungranted.push(interface);
        }
    }
    if !ungranted.is_empty() {
        let (n, noun) = match ungranted.len() {
            1 => (1, "interface"),
            n => (n, "interfaces"),
        };
        flags.insert(
            0,
            Flag::new(
                FlagCode::UngrantedImports,
                format!(
                    "imports {n} {noun} it is granted nothing of: all uses will be refused ({})",
                    ungranted.join(", ")
                ),
            ),
        );
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Manifest {
        let text =
            format!("[action]\nname = \"a\"\nversion = \"1.0.0\"\npublisher = \"p\"\n{extra}");
        Manifest::parse("manifest", &text).unwrap()
    }

    fn imports(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| format!("{n}@0.2.12")).collect()
    }

    #[test]
    fn what_is_granted_nothing_is_one_note_and_what_cannot_link_an_error() {
        let flags = beyond_declaration(
            &manifest(""),
            &imports(&[
                "wasi:cli/environment",
                "wasi:sockets/udp",
                "wasi:http/types",
                "acme:evil/exfil",
                "wasi:clocks/wall-clock",
            ]),
        );
        assert_eq!(flags.len(), 2, "{flags:?}");
        assert_eq!(
            flags[0].to_string(),
            "imports 2 interfaces it is granted nothing of: all uses will be refused \
             (wasi:sockets/udp, wasi:http/types) [ungranted_imports]"
        );
        assert_eq!(flags[0].severity, Severity::Info);
        assert_eq!(flags[1].code, FlagCode::UnknownImport);
        assert_eq!(flags[1].severity, Severity::Error);
        assert!(
            flags[1].message.contains("acme:evil/exfil@0.2.12"),
            "{flags:?}"
        );

        let one = beyond_declaration(&manifest(""), &imports(&["airlock:action/config"]));
        assert!(
            one[0].message.starts_with("imports 1 interface it is"),
            "{one:?}"
        );
        let declared = manifest("[config.c]\ntype = \"string\"\n");
        assert!(beyond_declaration(&declared, &imports(&["airlock:action/config"])).is_empty());
        // Interfaces every action gets are never flagged.
        let plain = [
            "wasi:cli/stdout",
            "wasi:random/random",
            "airlock:action/log",
        ];
        assert!(beyond_declaration(&manifest(""), &imports(&plain)).is_empty());
    }

    #[test]
    fn limits_at_or_below_the_defaults_are_not_flagged_raised_ones_are() {
        let calm =
            manifest("[limits]\nmemory = \"64 MiB\"\ntimeout = \"10s\"\nhttp_requests = 5\n");
        assert!(risks(&calm).is_empty(), "{:?}", risks(&calm));
        let raised = manifest(
            "[limits]\ntimeout = \"1m\"\nhttp_requests = 101\nhttp_response_body = \"9 MiB\"\n",
        );
        let got: Vec<String> = risks(&raised).iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "limit timeout is raised to 1m, above the default 10s [raised_limit]",
                "limit http_requests is raised to 101, above the default 100 [raised_limit]",
                "limit http_response_body is raised to 9 MiB, above the default 8 MiB [raised_limit]",
            ]
        );
    }
}
