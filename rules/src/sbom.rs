//! The dependency list a component was built with, read from the component
//! itself: cargo-auditable's `.dep-v0` custom section (zlib-compressed
//! JSON), in any core module at any depth. A new dependency in a minor
//! version is where a supply-chain attack enters, so reviews show the list
//! and the difference from the approved version, and the lock keeps it.
//!
//! What is read is what the build tool wrote: the list is evidence of how
//! the component was built, as trustworthy as its publisher's build — which
//! is why it is shown beside the signature, not instead of it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use wasmparser::{Parser, Payload};

/// The custom section cargo-auditable writes.
pub const SECTION: &str = ".dep-v0";

/// The most a section may inflate to (cargo-auditable's own reader's
/// default).
const INFLATED_MAX: usize = 8 << 20;
/// The most packages one list may name.
const PACKAGES_MAX: usize = 10_000;

/// The packages a component was built from, besides its own crate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sbom {
    /// Where it came from: `cargo-auditable`.
    pub format: &'static str,
    /// The crate the component was built from (the list's root), if named.
    pub root: Option<Package>,
    /// Every other package, sorted by name and version, without repeats.
    pub packages: Vec<Package>,
}

/// One package in the list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Package {
    /// Its name, like `serde`.
    pub name: String,
    /// Its version, like `1.0.228`.
    pub version: String,
    /// Where it came from: `crates.io`, `git`, `local`, `registry`, or what
    /// the build tool wrote.
    pub source: String,
    /// Used only while building (a build script's or proc macro's
    /// dependency), not in the component.
    pub build: bool,
}

impl Package {
    /// The package as the lock and reviews write it: `serde 1.0.228`, with
    /// `(local)` for a source other than crates.io and `[build]` for a
    /// build-time package.
    pub fn line(&self) -> String {
        let mut line = format!("{} {}", self.name, self.version);
        if self.source != "crates.io" {
            line.push_str(&format!(" ({})", self.source));
        }
        if self.build {
            line.push_str(" [build]");
        }
        line
    }
}

/// Check one line of a lock's `dependencies`: the form [`Package::line`]
/// writes, no longer than one can be.
pub fn check_line(line: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " .-_+()[]".contains(c);
    if line.is_empty() || line.len() > 200 || !line.chars().all(allowed) {
        return Err(format!(
            "`{}` is not a package like \"serde 1.0.228\"",
            line.escape_debug()
        ));
    }
    Ok(())
}

/// Why an embedded list could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("its dependency list ({SECTION}) cannot be read: {0}")]
pub struct SbomError(String);

/// The component's dependency list: `None` when it has none, an error when
/// one is there but cannot be read. The lists of several modules are one.
pub fn read(component: &[u8]) -> Result<Option<Sbom>, SbomError> {
    let mut root = None;
    let mut packages = BTreeSet::new();
    let mut found = false;
    let mut budget = INFLATED_MAX;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| SbomError(e.message().to_owned()))?;
        let Payload::CustomSection(section) = payload else {
            continue;
        };
        if section.name() != SECTION {
            continue;
        }
        found = true;
        let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(section.data(), budget)
            .map_err(|e| match e.status {
                miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                    SbomError(format!("it inflates beyond {} MiB", INFLATED_MAX >> 20))
                }
                _ => SbomError("it is not zlib data".into()),
            })?;
        // One budget for every section of the component together.
        budget -= json.len();
        let (r, list) = parse(&json)?;
        root = root.or(r);
        packages.extend(list);
        if packages.len() > PACKAGES_MAX {
            return Err(SbomError(format!("it names over {PACKAGES_MAX} packages")));
        }
    }
    Ok(found.then(|| Sbom {
        format: "cargo-auditable",
        root,
        packages: packages.into_iter().collect(),
    }))
}

/// The root package and the others of one section's JSON.
fn parse(json: &[u8]) -> Result<(Option<Package>, Vec<Package>), SbomError> {
    #[derive(Deserialize)]
    struct List {
        packages: Vec<Raw>,
    }
    #[derive(Deserialize)]
    struct Raw {
        name: String,
        version: String,
        source: String,
        #[serde(default)]
        kind: Option<String>,
        #[serde(default)]
        root: bool,
    }
    let list: List = serde_json::from_slice(json)
        .map_err(|e| SbomError(format!("it is not cargo-auditable's JSON: {e}")))?;
    if list.packages.len() > PACKAGES_MAX {
        return Err(SbomError(format!("it names over {PACKAGES_MAX} packages")));
    }
    let mut root = None;
    let mut packages = Vec::with_capacity(list.packages.len());
    for (i, p) in list.packages.into_iter().enumerate() {
        let at = |what: &str| SbomError(format!("package {i}: {what}"));
        let name_ok = (1..=64).contains(&p.name.len())
            && p.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(at("its name is not a crate name"));
        }
        if p.version.len() > 64 || semver::Version::parse(&p.version).is_err() {
            return Err(at("its version is not a semantic version"));
        }
        let source_ok = (1..=32).contains(&p.source.len())
            && p.source
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !source_ok {
            return Err(at("its source is not a short name like crates.io"));
        }
        let build = match p.kind.as_deref() {
            None | Some("runtime") => false,
            Some("build") => true,
            Some(_) => return Err(at("its kind is neither runtime nor build")),
        };
        let package = Package {
            name: p.name,
            version: p.version,
            source: p.source,
            build,
        };
        match p.root {
            true if root.is_some() => return Err(at("a second root")),
            true => root = Some(package),
            false => packages.push(package),
        }
    }
    Ok((root, packages))
}

impl Sbom {
    /// Each package's [line](Package::line), as the lock keeps them.
    pub fn lines(&self) -> Vec<String> {
        self.packages.iter().map(Package::line).collect()
    }

    /// The list in the fields of a CycloneDX 1.5 BOM, which CycloneDX tools
    /// read: the component is the BOM's subject and each package a
    /// `library` with its package URL (`pkg:cargo/NAME@VERSION`).
    pub fn cyclonedx(&self) -> Value {
        let component = |p: &Package| {
            let mut c = json!({
                "type": "library",
                "name": p.name,
                "version": p.version,
                "scope": if p.build { "excluded" } else { "required" },
            });
            if p.source == "crates.io" {
                c["purl"] = json!(format!("pkg:cargo/{}@{}", p.name, p.version));
            }
            c
        };
        let mut bom = json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "components": self.packages.iter().map(component).collect::<Vec<_>>(),
        });
        if let Some(root) = &self.root {
            bom["metadata"] = json!({ "component": component(root) });
        }
        bom
    }
}

/// Serialize a list as [`Sbom::cyclonedx`] (`null` for none).
pub fn as_cyclonedx<S: serde::Serializer>(sbom: &Option<Sbom>, s: S) -> Result<S::Ok, S::Error> {
    sbom.as_ref().map(Sbom::cyclonedx).serialize(s)
}

/// One difference between two dependency lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DepChange {
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// The package's name.
    pub name: String,
    /// The change in plain words, like `new crate base64 0.22.1`.
    pub text: String,
}

impl fmt::Display for DepChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Every difference from `old` to `new`, each a list of package lines (the
/// lock's form): new crates first, then changed versions, then removed
/// crates, each by name.
pub fn diff(old: &[String], new: &[String]) -> Vec<DepChange> {
    fn by_name(lines: &[String]) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut map: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for line in lines {
            let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
            map.entry(name).or_default().insert(rest);
        }
        map
    }
    let (old, new) = (by_name(old), by_name(new));
    let join = |set: &BTreeSet<&str>| set.iter().copied().collect::<Vec<_>>().join(", ");
    let mut added = Vec::new();
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for (name, versions) in &new {
        match old.get(name) {
            None => added.push(DepChange {
                kind: "added",
                name: (*name).into(),
                text: format!("new crate {name} {}", join(versions)),
            }),
            Some(before) if before != versions => changed.push(DepChange {
                kind: "changed",
                name: (*name).into(),
                text: format!("{name} {} -> {}", join(before), join(versions)),
            }),
            Some(_) => {}
        }
    }
    for (name, versions) in &old {
        if !new.contains_key(name) {
            removed.push(DepChange {
                kind: "removed",
                name: (*name).into(),
                text: format!("crate {name} {} removed", join(versions)),
            });
        }
    }
    added.into_iter().chain(changed).chain(removed).collect()
}

#[cfg(test)]
mod tests;
