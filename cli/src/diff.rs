//! `airlock diff`: what a new version asks for that an old one did not.

use super::{exit, fail};
use airlock::Policy;
use airlock_rules::manifest::{Manifest, section};
use airlock_rules::opfile;
use airlock_rules::provenance::approval::{self, Approved, Change};
use airlock_rules::provenance::{Digest, Lock};
use airlock_rules::sbom::{self, DepChange};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Compare the capabilities of two components, or of an approved action
/// (its lock entry) and a component. Exits 1 when the new one asks for
/// more.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The old side: a component (.wasm), or an action name for its entry in the lock.
    old: String,
    /// The new side: a component (.wasm), or an action name for its entry in the lock.
    new: String,
    /// Print the difference as JSON.
    #[arg(long)]
    json: bool,
    /// The operator policy, for the lock (only read when a side is an action name).
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
}

/// One side of the comparison.
#[derive(Serialize)]
struct Side {
    /// A component file, or `airlock.lock` for an approval.
    from: String,
    name: String,
    version: String,
    publisher: String,
    digest: Digest,
    #[serde(skip)]
    approved: Approved,
    /// Its dependency list, in the lock's lines; `None` without one.
    #[serde(skip)]
    dependencies: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Report<'a> {
    old: &'a Side,
    new: &'a Side,
    asks_for_more: bool,
    changes: Vec<Change>,
    /// `null` unless both sides carry a dependency list.
    dependency_changes: Option<Vec<DepChange>>,
}

pub fn run(args: Args) -> u8 {
    let mut lock: Option<Lock> = None;
    let mut side = |arg: &str| -> Result<Side, (u8, String)> {
        if super::by_path(arg) {
            return component_side(Path::new(arg));
        }
        if lock.is_none() {
            let policy = Policy::load(&args.config).map_err(|e| (exit::USAGE, e.to_string()))?;
            let loaded =
                Lock::load(&policy.trust.lock).map_err(|e| (exit::USAGE, e.to_string()))?;
            lock = Some(loaded);
        }
        let entry = lock.as_ref().and_then(|l| l.get(arg)).ok_or_else(|| {
            (
                exit::USAGE,
                format!("`{arg}` is not approved in the lock, and is not a path to a component"),
            )
        })?;
        Ok(Side {
            from: "airlock.lock".into(),
            name: entry.name.clone(),
            version: entry.version.to_string(),
            publisher: entry.publisher.clone(),
            digest: entry.digest,
            approved: entry.approved.clone(),
            dependencies: entry.dependencies.clone(),
        })
    };
    let (old, new) = match (side(&args.old), side(&args.new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err((code, e)), _) | (_, Err((code, e))) => return fail(code, e),
    };

    let mut changes = approval::diff(&old.approved, &new.approved);
    if old.publisher != new.publisher {
        changes.insert(
            0,
            Change {
                capability: "publisher",
                wider: true,
                text: format!(
                    "the publisher changes from `{}` to `{}`",
                    old.publisher, new.publisher
                ),
            },
        );
    }
    let asks_for_more = changes.iter().any(|c| c.wider);
    let dependency_changes = match (&old.dependencies, &new.dependencies) {
        (Some(o), Some(n)) => Some(sbom::diff(o, n)),
        _ => None,
    };
    if args.json {
        let report = Report {
            old: &old,
            new: &new,
            asks_for_more,
            changes,
            dependency_changes,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{} {} ({}, {}) -> {} {} ({}, {})",
            old.name,
            old.version,
            old.digest,
            old.from,
            new.name,
            new.version,
            new.digest,
            new.from
        );
        if old.name != new.name {
            println!("  note: these are two different actions");
        }
        for c in &changes {
            println!("  {} {}", if c.wider { '+' } else { '-' }, c.text);
        }
        let wider = changes.iter().filter(|c| c.wider).count();
        match (changes.is_empty(), wider) {
            (true, _) => println!("no change to the capabilities"),
            (false, 0) => println!("the new one asks for less"),
            (false, n) => println!(
                "the new one asks for more: {n} change{} to vet before approving",
                if n == 1 { "" } else { "s" }
            ),
        }
        crate::approve::print_dependency_changes(dependency_changes.as_deref());
    }
    if asks_for_more {
        exit::ACTION_ERROR
    } else {
        exit::OK
    }
}

fn component_side(path: &Path) -> Result<Side, (u8, String)> {
    let origin = path.display().to_string();
    let bytes = opfile::read_operator_file(path, opfile::COMPONENT_MAX, "component")
        .map_err(|e| (exit::USAGE, format!("cannot read {origin}: {e}")))?;
    let text = section::extract(&bytes).map_err(|e| (exit::REFUSED, format!("{origin}: {e}")))?;
    let manifest = Manifest::parse(&format!("manifest of {origin}"), text)
        .map_err(|e| (exit::REFUSED, e.to_string()))?;
    Ok(Side {
        from: origin,
        name: manifest.action.name.clone(),
        version: manifest.action.version.to_string(),
        publisher: manifest.action.publisher.clone(),
        digest: Digest::of(&bytes),
        approved: Approved::of(&manifest),
        dependencies: match sbom::read(&bytes) {
            Ok(sbom) => sbom.map(|s| s.lines()),
            Err(e) => {
                // Compared as none, and said.
                eprintln!("airlock: note: {}: {e}", path.display());
                None
            }
        },
    })
}
