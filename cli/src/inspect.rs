//! `airlock inspect`: what a component is and asks for, before anyone runs it.

use super::{exit, fail};
use airlock::Refusal;
use airlock_rules::bounds;
use airlock_rules::inspect::{Flag, Inspection, Severity};
use airlock_rules::policy::{CompileCeilings, Policy};
use airlock_rules::sbom::Sbom;
use std::path::PathBuf;

/// Show a component's digest, embedded manifest, imports and exports,
/// producers (language, toolchain), custom sections, the dependency list
/// it was built with (cargo-auditable's), what compiling it would cost,
/// and flag risks: imports beyond its declaration, wildcard
/// hosts, granted addresses that reach cloud metadata, loopback or
/// link-local, wide address blocks, read-write mounts, exposed secrets,
/// secrets without an audience. A component beyond the [compile] ceilings
/// is shown, then refused.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component file.
    file: PathBuf,
    /// Print the inspection as JSON.
    #[arg(long)]
    json: bool,
    /// The operator policy whose [compile] ceilings the component is held
    /// to (without one, the default ceilings).
    #[arg(short, long, env = "AIRLOCK_CONFIG")]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> u8 {
    let ceilings = match &args.config {
        Some(path) => match Policy::load(path) {
            Ok(p) => p.compile,
            Err(e) => return fail(exit::USAGE, e),
        },
        None => CompileCeilings::default(),
    };
    let origin = args.file.display().to_string();
    let bytes = match bounds::read_file(&args.file, &ceilings) {
        Ok(Ok(b)) => b,
        Ok(Err(exceeded)) => {
            let refusal = Refusal::OverCeiling { origin, exceeded };
            return fail(exit::REFUSED, refusal);
        }
        Err(e) => return fail(exit::USAGE, format!("cannot read {origin}: {e}")),
    };
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
    // Shown whole, then refused as a host loading it would refuse it.
    if let Err(exceeded) = inspection.compile.check(&ceilings) {
        return fail(exit::REFUSED, Refusal::OverCeiling { origin, exceeded });
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
    print_dependencies(i.sbom.as_ref(), i.sbom_error.as_deref());
    let c = &i.compile;
    let mut line = format!(
        "{} core modules, {} functions, {} bytes of code",
        c.modules, c.functions, c.code
    );
    if let Some(f) = &c.largest_function {
        line += &format!(" (the longest body {} bytes)", f.bytes);
    }
    line += &format!(", {} bytes of data", c.data);
    if let Some(s) = &c.largest_custom_section {
        line += &format!(", custom sections up to {} bytes", s.bytes);
    }
    println!("compile:   {line}");
    print_flags(&i.flags, "flags:     none");
}

/// The dependency list, a few packages to a line, or why there is none.
pub fn print_dependencies(sbom: Option<&Sbom>, error: Option<&str>) {
    let Some(sbom) = sbom else {
        match error {
            Some(e) => println!("dependencies: none usable: {e}"),
            None => println!(
                "dependencies: none embedded (a Rust action built with `cargo auditable build` \
                 carries its list)"
            ),
        }
        return;
    };
    let root = sbom
        .root
        .as_ref()
        .map(|r| format!(", built from {}", r.line()))
        .unwrap_or_default();
    println!(
        "dependencies: {} packages ({}{root}):",
        sbom.packages.len(),
        sbom.format
    );
    let mut line = String::new();
    for package in sbom.lines() {
        if !line.is_empty() && line.len() + package.len() > 72 {
            println!("  {}", line.trim_end_matches(", "));
            line.clear();
        }
        line += &package;
        line += ", ";
    }
    if !line.is_empty() {
        println!("  {}", line.trim_end_matches(", "));
    }
}

/// Flags as a reviewer reads them: what widens risk or cannot run first,
/// marked `!`; then notes (what will be refused anyway), marked `-`. Each
/// ends with its stable code.
pub fn print_flags(flags: &[Flag], none: &str) {
    let (notes, risks): (Vec<&Flag>, Vec<&Flag>) =
        flags.iter().partition(|f| f.severity == Severity::Info);
    if risks.is_empty() {
        println!("{none}");
    } else {
        println!("flags:");
        for f in risks {
            println!("  ! {f}");
        }
    }
    if !notes.is_empty() {
        println!("notes:");
        for f in notes {
            println!("  - {f}");
        }
    }
}
