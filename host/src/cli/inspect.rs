//! `airlock inspect`: what a component is and asks for, before anyone runs it.

use super::{exit, fail, read_file};
use crate::inspect::Inspection;
use std::path::PathBuf;

/// Show a component's digest, embedded manifest, imports and exports,
/// producers (language, toolchain) and custom sections, and flag risks:
/// imports beyond its declaration, wildcard hosts, granted addresses that
/// reach cloud metadata, loopback or link-local, wide address blocks,
/// read-write mounts, exposed secrets, secrets without an audience.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component file.
    file: PathBuf,
    /// Print the inspection as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> u8 {
    let bytes = match read_file(&args.file) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let origin = args.file.display().to_string();
    let inspection = match Inspection::of(&bytes, &origin) {
        Ok(i) => i,
        Err(e) => return fail(exit::REFUSED, format!("{origin}: {e}")),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&inspection).unwrap_or_default()
        );
    } else {
        print_text(&origin, &inspection);
    }
    if inspection.manifest.is_some() {
        exit::OK
    } else {
        exit::REFUSED
    }
}

fn print_text(origin: &str, i: &Inspection) {
    println!("file:      {origin} ({} bytes)", i.bytes);
    println!("digest:    {}", i.digest);
    match (&i.manifest, &i.manifest_error) {
        (Some(m), _) => {
            let a = &m.action;
            println!("action:    {} {} by {}", a.name, a.version, a.publisher);
            if !a.description.is_empty() {
                println!("           {}", a.description);
            }
            println!("manifest:");
            for line in m.to_toml().lines() {
                println!("  {line}");
            }
        }
        (None, Some(e)) => println!("manifest:  none usable: {e}"),
        (None, None) => println!("manifest:  none"),
    }
    println!("imports:");
    for import in &i.imports {
        println!("  {import}");
    }
    println!("exports:   {}", i.exports.join(", "));
    if !i.producers.is_empty() {
        println!("producers:");
        for p in &i.producers {
            println!("  {}: {}: {}", p.scope, p.field, p.values.join(", "));
        }
    }
    if !i.custom_sections.is_empty() {
        println!("custom sections:");
        for c in &i.custom_sections {
            println!(
                "  {}: {} ({} bytes)",
                c.scope,
                c.name.escape_debug(),
                c.bytes
            );
        }
    }
    if i.flags.is_empty() {
        println!("flags:     none");
    } else {
        println!("flags:");
        for f in &i.flags {
            println!("  ! {f}");
        }
    }
}
