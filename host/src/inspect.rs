//! What a component is, without running it: digest, embedded manifest,
//! imports and exports, toolchain, and where its imports exceed its
//! declaration.

use crate::manifest::{Manifest, section};
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
    /// `producers` metadata: language, toolchain, SDK.
    pub producers: Vec<String>,
    /// Where the component reaches beyond its declaration, in plain words.
    pub flags: Vec<String>,
}

impl Inspection {
    /// Inspect `component`; `origin` names it in messages.
    pub fn of(component: &[u8], origin: &str) -> Result<Inspection, String> {
        let digest = Digest::of(component);
        let Surface {
            imports,
            exports,
            producers,
        } = surface(component)?;
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
            flags,
        })
    }
}

/// What a component shows the outside: its top-level imports and exports,
/// and its producers.
#[derive(Default)]
struct Surface {
    imports: Vec<String>,
    exports: Vec<String>,
    producers: Vec<String>,
}

fn surface(component: &[u8]) -> Result<Surface, String> {
    let Surface {
        mut imports,
        mut exports,
        mut producers,
    } = Surface::default();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(component) {
        let payload =
            payload.map_err(|e| format!("not a WebAssembly component: {}", e.message()))?;
        match payload {
            Payload::Version { encoding, .. }
                if depth == 0 && encoding != wasmparser::Encoding::Component =>
            {
                return Err("a core module, not a component: build for wasm32-wasip2".into());
            }
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    let import = import.map_err(|e| e.message().to_owned())?;
                    imports.push(import.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    let export = export.map_err(|e| e.message().to_owned())?;
                    exports.push(export.name.name.to_owned());
                }
            }
            Payload::CustomSection(c) if depth == 0 && c.name() == "producers" => {
                if let wasmparser::KnownCustom::Producers(reader) = c.as_known() {
                    for field in reader.into_iter().flatten() {
                        let values: Vec<String> = field
                            .values
                            .into_iter()
                            .flatten()
                            .map(|v| format!("{} {}", v.name, v.version))
                            .collect();
                        producers.push(format!("{}: {}", field.name, values.join(", ")));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Surface {
        imports,
        exports,
        producers,
    })
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
