//! What a component is, without running it: digest, embedded manifest,
//! imports and exports, who built it (`producers`: language, toolchain),
//! its custom sections, and risk flags — where its imports exceed its
//! declaration, and what in its declaration deserves a second look.

use crate::bounds::{self, Measures};
use crate::manifest::{Access, Manifest, section};
use crate::net::sensitive::Sensitive;
use crate::net::{HostPattern, Origin};
use crate::policy::NetworkPolicy;
use crate::provenance::Digest;
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
    /// Where the component reaches beyond its declaration, and what in the
    /// declaration is a risk, in plain words.
    pub flags: Vec<String>,
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
            flags.push("exports no `run` function: airlock cannot invoke it".into());
        }
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

/// What in a declaration deserves a second look before it is approved,
/// with the default thresholds of a policy's `[network]`.
pub fn risks(manifest: &Manifest) -> Vec<String> {
    risks_under(manifest, &NetworkPolicy::default())
}

/// What in a declaration deserves a second look before it is approved,
/// under the policy's `[network]`: granted addresses and blocks that reach
/// cloud metadata services, loopback or link-local addresses, blocks wider
/// than its `min_prefix_v4`/`min_prefix_v6`, and which of those it forbids.
pub fn risks_under(manifest: &Manifest, network: &NetworkPolicy) -> Vec<String> {
    let caps = &manifest.capabilities;
    let mut flags = Vec::new();
    let wildcard = |o: &&Origin| matches!(o.host, HostPattern::Subdomains(_));
    for origin in caps.network.iter().filter(wildcard) {
        flags.push(format!(
            "wildcard host {origin}: any matching host may be reached, including ones set up later"
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
            flags.push(format!("network origin {origin} {why}{verdict}"));
        }
    }
    for (mount, access) in &caps.files {
        if *access == Access::ReadWrite {
            flags.push(format!(
                "mount `{mount}` is read-write: the action may change, create and remove files there"
            ));
        }
    }
    for (name, secret) in &caps.secrets {
        if secret.expose {
            flags.push(format!(
                "secret `{name}` is exposed: the action reads its plaintext and could send it anywhere it can reach"
            ));
        }
        if secret.send_to.is_empty() {
            flags.push(format!(
                "secret `{name}` has no audience: no send_to origin limits where it is used"
            ));
        }
        for origin in secret.send_to.iter().filter(wildcard) {
            flags.push(format!(
                "secret `{name}` may be sent to the wildcard host {origin}"
            ));
        }
    }
    flags
}

/// Imports that reach beyond what `manifest` declares.
pub fn beyond_declaration(manifest: &Manifest, imports: &[String]) -> Vec<String> {
    let caps = &manifest.capabilities;
    let mut flags = Vec::new();
    for import in imports {
        let interface = import.split('@').next().unwrap_or(import);
        let flag = match interface {
            i if i.starts_with("wasi:sockets/")
                && i != "wasi:sockets/network"
                && i != "wasi:sockets/instance-network" =>
            {
                Some(format!(
                    "imports {import}: raw sockets, which airlock always refuses"
                ))
            }
            i if i.starts_with("wasi:http/") && caps.network.is_empty() => {
                Some(format!("imports {import} but declares no network origin"))
            }
            i if i.starts_with("wasi:filesystem/") && caps.files.is_empty() => {
                Some(format!("imports {import} but declares no mount"))
            }
            "airlock:action/secrets" if caps.secrets.is_empty() => {
                Some(format!("imports {import} but declares no secret"))
            }
            i if i.starts_with("wasi:") || i.starts_with("airlock:action/") => None,
            _ => Some(format!(
                "imports {import}, which airlock does not provide: it will not link"
            )),
        };
        flags.extend(flag);
    }
    flags
}
