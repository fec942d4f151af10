//! `airlock pack`: embed a manifest into a component built by any
//! toolchain, so that one digest covers code and declaration.

use super::{exit, fail};
use airlock_rules::manifest::{Manifest, section};
use airlock_rules::opfile;
use airlock_rules::provenance::Digest;
use std::path::PathBuf;

/// Embed a manifest (action.toml) into a component that has none.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component (.wasm), without an embedded manifest.
    input: PathBuf,
    /// The manifest to embed.
    #[arg(short, long)]
    manifest: PathBuf,
    /// Where to write the packed component.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: Args) -> u8 {
    let read = |path: &PathBuf| {
        opfile::read_operator_file(path, opfile::COMPONENT_MAX, "component or manifest")
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let (component, manifest_bytes) = match (read(&args.input), read(&args.manifest)) {
        (Ok(c), Ok(m)) => (c, m),
        (Err(e), _) | (_, Err(e)) => return fail(exit::USAGE, e),
    };
    let document = args.manifest.display().to_string();
    let Ok(text) = String::from_utf8(manifest_bytes) else {
        return fail(exit::USAGE, format!("{document} is not UTF-8 text"));
    };
    // Only a manifest airlock would accept is embedded.
    let manifest = match Manifest::parse(&document, &text) {
        Ok(m) => m,
        Err(e) => return fail(exit::USAGE, e),
    };
    let packed = match section::embed(&component, &text) {
        Ok(p) => p,
        Err(e) => return fail(exit::REFUSED, format!("{}: {e}", args.input.display())),
    };
    if let Err(e) = airlock_rules::provenance::atomic::write(&args.output, &packed) {
        return fail(
            exit::HOST,
            format!("cannot write {}: {e}", args.output.display()),
        );
    }
    let a = &manifest.action;
    println!(
        "packed {} {} into {} ({})",
        a.name,
        a.version,
        args.output.display(),
        Digest::of(&packed)
    );
    exit::OK
}
