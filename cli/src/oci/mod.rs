//! `airlock push` and `airlock pull`: components as OCI artifacts in the
//! CNCF wasm format (`application/vnd.wasm.config.v0+json` config, one
//! `application/wasm` layer) that `wkg` and wasmCloud read, with their
//! minisign signature and Sigstore bundle beside them as referrers (OCI 1.1:
//! the referrers API where the registry has it, the `sha256-<hex>` tag of
//! an index where it does not; the minisign signature also under the
//! `sha256-<hex>.sig` tag).
//!
//! A pull trusts nothing the registry says: the manifest is checked
//! against the digest asked for (or, by tag, its digest is printed to pin),
//! every blob against the digest the manifest names, and sizes against
//! ceilings before they are read. What is pulled is only a file: it runs
//! once it is approved, like any other.

mod client;

use super::{exit, fail};
use airlock_rules::inspect::Inspection;
use airlock_rules::opfile;
use airlock_rules::provenance::atomic;
use airlock_rules::provenance::sigstore::BUNDLE_SUFFIX;
use bytes::Bytes;
use client::{MANIFEST_MAX, Reference, Registry, digest_of};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
const WASM_LAYER: &str = "application/wasm";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The artifact type of a minisign signature (no registry standard names one).
const MINISIGN: &str = "application/vnd.dev.minisign.signature";
/// The artifact type of a Sigstore bundle.
const SIGSTORE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Push a component, with its signature and Sigstore bundle if they are
/// beside it, to an OCI registry.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The component (.wasm).
    file: PathBuf,
    /// Where: oci://HOST[:PORT]/NAME:TAG (plain HTTP only to a loopback registry).
    reference: String,
}

/// Pull a component, with its signature and Sigstore bundle, from an OCI
/// registry. By tag, the digest it resolved to is printed: pin that.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// What: oci://HOST[:PORT]/NAME@sha256:HEX, or :TAG.
    reference: String,
    /// Where to write the component (default: the repository's last name,
    /// with .wasm); its signature and bundle go beside it.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

pub fn push(args: PushArgs) -> u8 {
    let reference = match Reference::parse(&args.reference, None) {
        Ok(r) if r.is_digest() => {
            return fail(
                exit::USAGE,
                "push to a tag (oci://…/NAME:TAG): a digest is what the registry computes",
            );
        }
        Ok(r) => r,
        Err(e) => return fail(exit::USAGE, e),
    };
    let origin = args.file.display().to_string();
    let component = match opfile::read_operator_file(&args.file, opfile::COMPONENT_MAX, "component")
    {
        Ok(b) => b,
        Err(e) => return fail(exit::USAGE, format!("cannot read {origin}: {e}")),
    };
    let inspection = match Inspection::of(&component, &origin) {
        Ok(i) => i,
        Err(e) => return fail(exit::REFUSED, format!("{origin} is not a component: {e}")),
    };
    let mut beside = Vec::new();
    for (suffix, kind) in [(".minisig", MINISIGN), (BUNDLE_SUFFIX, SIGSTORE)] {
        let mut path = args.file.as_os_str().to_owned();
        path.push(suffix);
        match opfile::read_operator_file(Path::new(&path), opfile::SIGNATURE_MAX, "signature") {
            Ok(bytes) => beside.push((kind, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return fail(
                    exit::USAGE,
                    format!("cannot read {}: {e}", Path::new(&path).display()),
                );
            }
        }
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => return fail(exit::HOST, e),
    };
    let pushed = runtime.block_on(async {
        let mut registry = Registry::new(&reference)?;
        let digest = push_component(
            &mut registry,
            &reference,
            &args.file,
            &component,
            &inspection,
        )
        .await?;
        for (kind, bytes) in &beside {
            push_referrer(&mut registry, &reference, &digest, kind, bytes).await?;
        }
        Ok::<_, String>(digest)
    });
    match pushed {
        Ok(digest) => {
            let kinds: Vec<&str> = beside
                .iter()
                .map(|(k, _)| {
                    if *k == MINISIGN {
                        "signature"
                    } else {
                        "Sigstore bundle"
                    }
                })
                .collect();
            let with = match kinds.is_empty() {
                true => String::new(),
                false => format!(" with its {}", kinds.join(" and ")),
            };
            println!(
                "pushed {origin} ({}){with} to {reference}\npin it as {}",
                inspection.digest,
                reference.at(&digest)
            );
            exit::OK
        }
        Err(e) => fail(exit::HOST, format!("cannot push to {reference}: {e}")),
    }
}

/// Upload the component and its config, and its manifest under the tag;
/// the manifest's digest.
async fn push_component(
    registry: &mut Registry,
    reference: &Reference,
    file: &Path,
    component: &[u8],
    inspection: &Inspection,
) -> Result<String, String> {
    let layer = digest_of(component);
    // `created` is the epoch, as reproducible image builds write it: the
    // same component pushes as the same manifest.
    let config = json!({
        "created": "1970-01-01T00:00:00Z",
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer],
        "component": { "exports": inspection.exports, "imports": inspection.imports },
    });
    let config = Bytes::from(serde_json::to_vec(&config).unwrap_or_default());
    upload(registry, reference, component.to_vec().into()).await?;
    upload(registry, reference, config.clone()).await?;
    let title = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut annotations = json!({});
    if let Some(m) = &inspection.manifest {
        annotations["org.opencontainers.image.version"] = json!(m.action.version.to_string());
        if !m.action.description.is_empty() {
            annotations["org.opencontainers.image.description"] = json!(m.action.description);
        }
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": { "mediaType": WASM_CONFIG, "digest": digest_of(&config), "size": config.len() },
        "layers": [{
            "mediaType": WASM_LAYER,
            "digest": layer,
            "size": component.len(),
            "annotations": { "org.opencontainers.image.title": title },
        }],
        "annotations": annotations,
    });
    put_manifest(
        registry,
        reference,
        &reference.reference,
        MANIFEST,
        &manifest,
    )
    .await
}

/// Upload a signature or bundle as an artifact whose subject is the
/// component's manifest, and list it where a reader finds referrers.
async fn push_referrer(
    registry: &mut Registry,
    reference: &Reference,
    subject: &str,
    kind: &str,
    bytes: &[u8],
) -> Result<(), String> {
    let subject_manifest = get(registry, &reference.at(subject), MANIFEST).await?;
    upload(registry, reference, Bytes::from_static(b"{}")).await?;
    upload(registry, reference, bytes.to_vec().into()).await?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": kind,
        "config": { "mediaType": EMPTY, "digest": digest_of(b"{}"), "size": 2 },
        "layers": [{ "mediaType": kind, "digest": digest_of(bytes), "size": bytes.len() }],
        "subject": { "mediaType": MANIFEST, "digest": subject, "size": subject_manifest.len() },
    });
    let body = Bytes::from(serde_json::to_vec(&manifest).unwrap_or_default());
    let digest = digest_of(&body);
    let response = registry
        .send(
            Method::PUT,
            &format!("/v2/{}/manifests/{digest}", reference.name),
            &[("content-type", MANIFEST)],
            body.clone(),
            MANIFEST_MAX,
        )
        .await?;
    expect(&response, StatusCode::CREATED, "storing a referrer")?;
    let tag = subject.replace(':', "-");
    if kind == MINISIGN {
        put_manifest(
            registry,
            reference,
            &format!("{tag}.sig"),
            MANIFEST,
            &manifest,
        )
        .await?;
    }
    // A registry with the referrers API says so; for one without, the
    // index under the subject's tag is kept as the API would answer.
    if response.headers.contains_key("oci-subject") {
        return Ok(());
    }
    let mut index = match get_opt(registry, &reference.at(&tag), INDEX).await? {
        Some(bytes) => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(|v| v["manifests"].is_array())
            .ok_or_else(|| {
                format!("the tag {tag} holds something other than an index of referrers")
            })?,
        None => json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": [] }),
    };
    let listed = index["manifests"]
        .as_array()
        .is_some_and(|m| m.iter().any(|d| d["digest"] == digest.as_str()));
    if !listed {
        if let Some(list) = index["manifests"].as_array_mut() {
            list.push(json!({
                "mediaType": MANIFEST,
                "digest": digest,
                "size": body.len(),
                "artifactType": kind,
            }));
        }
        put_manifest(registry, reference, &tag, INDEX, &index).await?;
    }
    Ok(())
}

/// Store a blob unless the registry has it.
async fn upload(registry: &mut Registry, reference: &Reference, blob: Bytes) -> Result<(), String> {
    let digest = digest_of(&blob);
    let name = &reference.name;
    let head = registry
        .send(
            Method::HEAD,
            &format!("/v2/{name}/blobs/{digest}"),
            &[],
            Bytes::new(),
            0,
        )
        .await?;
    if head.status == StatusCode::OK {
        return Ok(());
    }
    let started = registry
        .send(
            Method::POST,
            &format!("/v2/{name}/blobs/uploads/"),
            &[],
            Bytes::new(),
            MANIFEST_MAX,
        )
        .await?;
    expect(&started, StatusCode::ACCEPTED, "starting an upload")?;
    let location = started
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("the registry gave no upload location")?;
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = registry
        .send(
            Method::PUT,
            &format!("{location}{sep}digest={digest}"),
            &[("content-type", "application/octet-stream")],
            blob,
            MANIFEST_MAX,
        )
        .await?;
    expect(&done, StatusCode::CREATED, "uploading a blob")
}

/// Store `manifest` (of `media_type`) under `tag`; its digest, checked
/// against the one the registry reports.
async fn put_manifest(
    registry: &mut Registry,
    reference: &Reference,
    tag: &str,
    media_type: &str,
    manifest: &Value,
) -> Result<String, String> {
    let body = Bytes::from(serde_json::to_vec(manifest).unwrap_or_default());
    let digest = digest_of(&body);
    let response = registry
        .send(
            Method::PUT,
            &format!("/v2/{}/manifests/{tag}", reference.name),
            &[("content-type", media_type)],
            body,
            MANIFEST_MAX,
        )
        .await?;
    expect(&response, StatusCode::CREATED, "storing a manifest")?;
    match response
        .headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
    {
        Some(reported) if reported != digest => Err(format!(
            "the registry stored the manifest as {reported}, not {digest}"
        )),
        _ => Ok(digest),
    }
}

/// A manifest or index by tag or digest, or `None` if there is none.
async fn get_opt(
    registry: &mut Registry,
    reference: &Reference,
    accept: &str,
) -> Result<Option<Bytes>, String> {
    let response = registry
        .send(
            Method::GET,
            &format!("/v2/{}/manifests/{}", reference.name, reference.reference),
            &[("accept", accept)],
            Bytes::new(),
            MANIFEST_MAX,
        )
        .await?;
    if response.status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    expect(&response, StatusCode::OK, "reading a manifest")?;
    if reference.is_digest() && digest_of(&response.body) != reference.reference {
        return Err(format!(
            "the registry's manifest for {reference} is not those bytes: it is {}",
            digest_of(&response.body)
        ));
    }
    Ok(Some(response.body))
}

async fn get(
    registry: &mut Registry,
    reference: &Reference,
    accept: &str,
) -> Result<Bytes, String> {
    get_opt(registry, reference, accept)
        .await?
        .ok_or_else(|| format!("{reference} is not in the registry"))
}

/// A blob, checked against `digest` and `size` before it is returned.
async fn blob(
    registry: &mut Registry,
    reference: &Reference,
    digest: &str,
    size: u64,
    max: u64,
) -> Result<Bytes, String> {
    if size > max {
        return Err(format!(
            "{digest} is {size} bytes, beyond the {max} airlock reads"
        ));
    }
    let response = registry
        .send(
            Method::GET,
            &format!("/v2/{}/blobs/{digest}", reference.name),
            &[],
            Bytes::new(),
            usize::try_from(size).unwrap_or(usize::MAX),
        )
        .await?;
    expect(&response, StatusCode::OK, "reading a blob")?;
    if response.body.len() as u64 != size || digest_of(&response.body) != digest {
        return Err(format!(
            "the registry's blob {digest} is not those bytes: it is {}",
            digest_of(&response.body)
        ));
    }
    Ok(response.body)
}

fn expect(response: &client::Response, wanted: StatusCode, doing: &str) -> Result<(), String> {
    if response.status == wanted || (wanted == StatusCode::OK && response.status.is_success()) {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&response.body);
    let text = airlock_rules::doc::one_line(text.get(..text.len().min(300)).unwrap_or_default());
    Err(format!(
        "{doing}: the registry answered {}: {text}",
        response.status
    ))
}

/// `descriptor`'s digest and size, if it is a well-formed one.
fn descriptor(v: &Value) -> Option<(String, u64)> {
    let digest = v["digest"].as_str()?;
    let hex = digest.strip_prefix("sha256:")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((digest.to_owned(), v["size"].as_u64()?))
}

pub fn pull(args: PullArgs) -> u8 {
    let reference = match Reference::parse(&args.reference, None) {
        Ok(r) => r,
        Err(e) => return fail(exit::USAGE, e),
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let last = reference.name.rsplit('/').next().unwrap_or("component");
        PathBuf::from(format!("{last}.wasm"))
    });
    let pulled = match fetch(&reference, &output) {
        Ok(p) => p,
        Err(e) => return fail(exit::HOST, e),
    };
    println!(
        "pulled {} (component {}) into {}",
        reference.at(&pulled.manifest),
        pulled.component,
        pulled.written.join(", ")
    );
    if !reference.is_digest() {
        eprintln!(
            "airlock: {reference} resolved to {}: a tag can move; pin the digest",
            pulled.manifest
        );
    }
    exit::OK
}

/// What [`fetch`] wrote.
pub struct Pulled {
    /// The manifest's digest.
    pub manifest: String,
    /// The component's digest.
    pub component: String,
    /// The files written: the component, then its signature and bundle.
    pub written: Vec<String>,
}

/// Pull the component `source` names (`oci://…`) into `output`, with its
/// signature and bundle beside it.
pub fn fetch_source(source: &str, output: &Path) -> Result<Pulled, String> {
    let reference = Reference::parse(source, None)?;
    fetch(&reference, output)
}

fn fetch(reference: &Reference, output: &Path) -> Result<Pulled, String> {
    let runtime = runtime()?;
    let pulled = runtime.block_on(async {
        let mut registry = Registry::new(reference)?;
        let manifest = get(&mut registry, reference, MANIFEST).await?;
        let digest = digest_of(&manifest);
        let m: Value = serde_json::from_slice(&manifest)
            .map_err(|_| format!("{reference}: the manifest is not JSON"))?;
        if m["config"]["mediaType"] != WASM_CONFIG {
            return Err(format!(
                "{reference} is not a wasm component artifact (its config is {}, not {WASM_CONFIG})",
                m["config"]["mediaType"]
            ));
        }
        let layers = m["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
        let [layer] = layers else {
            return Err(format!("{reference} has {} layers, not one", layers.len()));
        };
        if layer["mediaType"] != WASM_LAYER {
            return Err(format!(
                "{reference}'s layer is {}, not {WASM_LAYER}",
                layer["mediaType"]
            ));
        }
        let (layer_digest, size) = descriptor(layer)
            .ok_or_else(|| format!("{reference}'s layer has no sha256 digest and size"))?;
        let component = blob(
            &mut registry,
            reference,
            &layer_digest,
            size,
            opfile::COMPONENT_MAX.0,
        )
        .await?;
        let beside = referrers(&mut registry, reference, &digest).await?;
        Ok::<_, String>((digest, layer_digest, component, beside))
    });
    let (manifest, component_digest, component, beside) =
        pulled.map_err(|e| format!("cannot pull {reference}: {e}"))?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    atomic::write(output, &component)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    let mut written = vec![output.display().to_string()];
    for (kind, bytes) in &beside {
        let suffix = if *kind == MINISIGN {
            ".minisig"
        } else {
            BUNDLE_SUFFIX
        };
        let mut path = output.as_os_str().to_owned();
        path.push(suffix);
        let path = PathBuf::from(path);
        atomic::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path.display().to_string());
    }
    Ok(Pulled {
        manifest,
        component: component_digest,
        written,
    })
}

/// The minisign signature and Sigstore bundle that refer to the manifest
/// `subject`: from the referrers API, else the `sha256-<hex>` index.
async fn referrers(
    registry: &mut Registry,
    reference: &Reference,
    subject: &str,
) -> Result<Vec<(&'static str, Bytes)>, String> {
    let api = registry
        .send(
            Method::GET,
            &format!("/v2/{}/referrers/{subject}", reference.name),
            &[("accept", INDEX)],
            Bytes::new(),
            MANIFEST_MAX,
        )
        .await?;
    let index = if api.status == StatusCode::OK
        && api
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(INDEX.as_bytes()))
    {
        Some(api.body)
    } else {
        get_opt(registry, &reference.at(&subject.replace(':', "-")), INDEX).await?
    };
    let Some(index) = index else {
        return Ok(Vec::new());
    };
    let index: Value = serde_json::from_slice(&index).unwrap_or_default();
    let mut found: Vec<(&'static str, Bytes)> = Vec::new();
    for entry in index["manifests"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let kind = match entry["artifactType"].as_str() {
            Some(MINISIGN) => MINISIGN,
            Some(SIGSTORE) => SIGSTORE,
            _ => continue,
        };
        if found.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        let Some((digest, _)) = descriptor(entry) else {
            continue;
        };
        let manifest = get(registry, &reference.at(&digest), MANIFEST).await?;
        let m: Value = serde_json::from_slice(&manifest).unwrap_or_default();
        // It must say it is about this component, whatever the index says.
        if m["subject"]["digest"] != subject {
            continue;
        }
        let Some((layer, size)) = m["layers"].get(0).and_then(descriptor) else {
            continue;
        };
        let bytes = blob(registry, reference, &layer, size, opfile::SIGNATURE_MAX.0).await?;
        found.push((kind, bytes));
    }
    Ok(found)
}
