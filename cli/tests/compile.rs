//! What compiling a component may cost: components beyond the policy's
//! `[compile]` ceilings are refused by parsing, before anything is
//! compiled, at review (`inspect`, `approve`) and when a host loads them;
//! `approve` compiles (and caches) what it approves; and the CLI compiles
//! in a child process held to the policy's `[compile] timeout` and
//! `memory`, so a component within the ceilings that compiles too long or
//! in too much memory is refused without taking the process down.
//!
//! The hostile components are generated here, at the sizes the tests ask
//! for ([`airlock_test_artifacts::hostile`]).

#![allow(clippy::unwrap_used)]

mod common;

use airlock::compile::CompileCache;
use airlock::rules::bounds::{self, Limit};
use airlock::rules::manifest::Manifest;
use airlock::rules::provenance::{Digest, Entry, Lock};
use airlock::{Error, Host, Policy, Refusal};
use airlock_test_artifacts::hostile::{self, CoreModule, Part};
use airlock_test_artifacts::{PLUGINS, PROBE, TEST_GUESTS};
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MANIFEST: &str = "[action]\nname = \"bomb\"\nversion = \"1.0.0\"\npublisher = \"acme\"\n";

/// A policy in `dir` that needs no signatures and finds action `probe` at
/// `probe.wasm`, with `compile` (lines of the `[compile]` table).
fn policy(dir: &Path, compile: &str) {
    std::fs::write(
        dir.join("airlock.toml"),
        format!(
            "[trust]\nrequire_signature = false\n\n[actions.probe]\npath = \"probe.wasm\"\n\n\
             [compile]\n{compile}\n"
        ),
    )
    .unwrap();
}

/// `airlock ARGS` in `dir`, its compile cache in `dir/cache`.
fn airlock_cached(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(AIRLOCK)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("RUST_LOG")
        .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// The files in the compile cache.
fn cached(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("cache")).map_or(0, |d| d.count())
}

#[test]
fn every_repo_component_is_within_the_default_ceilings() {
    let defaults = airlock::rules::policy::CompileCeilings::default();
    for (name, path) in PLUGINS.iter().chain(TEST_GUESTS) {
        let bytes = std::fs::read(path).unwrap();
        let m = bounds::check(&bytes, &defaults).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Far below every ceiling: the defaults leave room for toolchains
        // whose components are a hundred times larger.
        assert!(m.functions * 10 < defaults.functions, "{name}: {m:?}");
        assert!(m.bytes * 10 < defaults.component.0, "{name}: {m:?}");
    }
}

/// The shapes of the adversarial campaign, each with a manifest, through
/// `airlock approve` and `airlock inspect` under the default ceilings:
/// refused with the ceiling's key, nothing compiled, nothing written.
#[test]
fn approve_and_inspect_refuse_the_campaign_shapes_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    policy(dir, "");
    let cases: &[(&str, Vec<Part>, &str)] = &[
        (
            "many functions",
            vec![Part::Module(CoreModule::functions(600_000, 5))],
            "the number of functions its core modules define is 600000, over the ceiling of \
             100000: raise `functions` under [compile]",
        ),
        (
            "one huge function",
            vec![Part::Module(CoreModule::one_function(7_000_000))],
            "the size of function body 0 of core module 0 is 7000000 bytes, over the ceiling \
             of 1 MiB: raise `function` under [compile]",
        ),
        (
            "a huge function in a nested component",
            vec![
                Part::Module(CoreModule::functions(3, 100)),
                Part::Nested(vec![Part::Module(CoreModule::one_function((1 << 20) + 1))]),
            ],
            "the size of function body 0 of core module 1 is 1048577 bytes, over the ceiling \
             of 1 MiB",
        ),
        (
            "a huge data segment",
            vec![Part::Module(CoreModule::data(&[(32 << 20) + 1]))],
            "data segment 0 of core module 0 is 33554433 bytes, over the ceiling of 32 MiB: \
             raise `data_segment`",
        ),
        (
            "a huge custom section",
            vec![Part::Custom("junk".into(), (32 << 20) + 1)],
            "custom section `junk` of the component is 33554433 bytes, over the ceiling of \
             32 MiB: raise `custom_section`",
        ),
        (
            "a component larger than the ceiling",
            vec![Part::Custom("junk".into(), 70 << 20)],
            "its size is 734",
        ),
    ];
    for (what, parts, message) in cases {
        std::fs::write(
            dir.join("bomb.wasm"),
            hostile::component(parts, Some(MANIFEST)),
        )
        .unwrap();
        let (code, _, e) = airlock_cached(dir, &["approve", "bomb.wasm", "--yes"]);
        assert_eq!(code, Some(3), "{what}: {e}");
        assert_eq!(e.lines().count(), 1, "{what}: {e}");
        assert!(
            e.contains("cannot approve: bomb.wasm is refused before compiling: ")
                && e.contains(message),
            "{what}: {e}"
        );
        assert!(!dir.join("airlock.lock").exists(), "{what}");
        assert_eq!(cached(dir), 0, "{what}: something was compiled");

        let (code, _, e) = airlock_cached(dir, &["inspect", "bomb.wasm"]);
        assert_eq!(code, Some(3), "{what}: {e}");
        assert!(
            e.contains("bomb.wasm is refused before compiling: ") && e.contains(message),
            "{what}: {e}"
        );
    }
}

/// Just within a ceiling the policy tightened, `approve` compiles the
/// component into the cache and says how long it took; one function more
/// is refused and the lock stays as it was.
#[test]
fn approve_compiles_within_the_ceilings_and_refuses_just_beyond() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    policy(dir, "functions = 50\nfunction = \"4 KiB\"");
    let within = hostile::wrapping(CoreModule::functions(50, 4096), Some(MANIFEST));
    std::fs::write(dir.join("bomb.wasm"), &within).unwrap();
    let (code, _, e) = airlock_cached(dir, &["approve", "bomb.wasm", "--yes"]);
    assert_eq!(code, Some(0), "{e}");
    assert!(e.contains("airlock: compiled bomb.wasm in "), "{e}");
    assert!(e.contains("; cached in "), "{e}");
    assert_eq!(cached(dir), 1, "{e}");
    let lock = read(dir.join("airlock.lock"));
    assert!(lock.contains("bomb"), "{lock}");

    let variants = [
        (
            "one function more",
            CoreModule::functions(51, 4096),
            "the number of functions its core modules define is 51, over the ceiling of 50",
        ),
        (
            "one byte more in one body",
            CoreModule::functions(1, 4097),
            "the size of function body 0 of core module 0 is 4097 bytes, over the ceiling of \
             4 KiB",
        ),
    ];
    for (what, module, message) in variants {
        let manifest = MANIFEST.replace("1.0.0", "1.1.0");
        let beyond = hostile::wrapping(module, Some(&manifest));
        std::fs::write(dir.join("bomb.wasm"), &beyond).unwrap();
        let (code, _, e) = airlock_cached(dir, &["approve", "bomb.wasm", "--yes"]);
        assert_eq!(code, Some(3), "{what}: {e}");
        assert!(e.contains(message), "{what}: {e}");
        assert_eq!(read(dir.join("airlock.lock")), lock, "{what}");
        assert_eq!(cached(dir), 1, "{what}");
    }

    // --no-cache compiles without storing.
    let other = MANIFEST.replace("1.0.0", "1.2.0");
    let within = hostile::wrapping(CoreModule::functions(2, 10), Some(&other));
    std::fs::write(dir.join("bomb.wasm"), &within).unwrap();
    let (code, _, e) = airlock_cached(dir, &["approve", "bomb.wasm", "--yes", "--no-cache"]);
    assert_eq!(code, Some(0), "{e}");
    assert!(e.contains("; not cached"), "{e}");
    assert_eq!(cached(dir), 1, "{e}");
}

/// In `dir`: the probe as `probe.wasm`, a policy with the default
/// ceilings, and the probe approved without compiling it; its bytes, and
/// what `approve` printed.
fn approved_probe(dir: &Path) -> (Vec<u8>, String) {
    let probe = std::fs::read(PROBE).unwrap();
    let probe = airlock::rules::manifest::section::embed(
        &probe,
        "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"acme\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("probe.wasm"), &probe).unwrap();
    policy(dir, "");
    let (code, _, e) = airlock_cached(dir, &["approve", "probe.wasm", "--yes", "--no-cache"]);
    assert_eq!(code, Some(0), "{e}");
    (probe, e)
}

/// An approved component the policy now holds to a lower ceiling: a host
/// refuses to load it before compiling anything, and records the refusal.
/// At the ceiling, the same component loads.
#[test]
fn a_host_refuses_an_approved_component_beyond_a_ceiling_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (probe, _) = approved_probe(dir);

    let m = bounds::measure(&probe).unwrap();
    let host = |compile: &str| {
        policy(dir, compile);
        let policy = Policy::load(&dir.join("airlock.toml")).unwrap();
        let cache =
            CompileCache::open(&dir.join("host-cache"), cap_std::ambient_authority()).unwrap();
        Host::builder(policy)
            .instance_pool(false)
            .compile_cache(cache)
            .build()
            .unwrap()
    };
    let biggest = m.largest_function.as_ref().unwrap().bytes;
    let variants = [
        (format!("functions = {}", m.functions - 1), Limit::Functions),
        (format!("function = {}", biggest - 1), Limit::Function),
        (format!("code = {}", m.code - 1), Limit::Code),
        (format!("component = {}", m.bytes - 1), Limit::Component),
    ];
    for (i, (compile, limit)) in variants.into_iter().enumerate() {
        let h = host(&compile);
        // By file, by name from the policy, and from bytes.
        let loads = [
            h.load_file(&dir.join("probe.wasm")).map(drop),
            h.action("probe").map(drop),
            h.load_bytes(&probe, "probe.wasm").map(drop),
        ];
        for (how, loaded) in ["load_file", "action", "load_bytes"].iter().zip(loads) {
            let err = loaded.unwrap_err();
            let Error::Refused(Refusal::OverCeiling { exceeded, .. }) = &err else {
                panic!("{compile}, {how}: {err}");
            };
            assert_eq!(exceeded.limit, limit, "{compile}, {how}: {err}");
            assert!(
                err.to_string()
                    .contains(&format!("raise `{}` under [compile]", limit.key())),
                "{err}"
            );
        }
        let audit = read(h.audit_log());
        // Each refusal recorded (in the log all these hosts share).
        assert_eq!(
            audit.matches("is refused before compiling").count(),
            3 * (i + 1),
            "{compile}: {audit}"
        );
        assert_eq!(
            std::fs::read_dir(dir.join("host-cache")).unwrap().count(),
            0,
            "{compile}: compiled"
        );
    }

    // At each ceiling, it loads (and is compiled into the cache).
    let h = host(&format!(
        "functions = {}\nfunction = {biggest}\ncode = {}\ncomponent = {}",
        m.functions, m.code, m.bytes
    ));
    h.load_file(&dir.join("probe.wasm")).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.join("host-cache")).unwrap().count(),
        1
    );
}

/// A component within the default ceilings (one function of 150 KB) that
/// compiles slowly: its one function keeps 20,000 values live at once
/// (over ten seconds of Cranelift, on the test machines).
fn slow() -> Vec<u8> {
    hostile::wrapping(CoreModule::pressure(1, 20_000), Some(MANIFEST))
}

/// A component within the default ceilings (48 MiB of data segments, the
/// `data` ceiling) that needs some 300 MiB of address space to compile.
fn large() -> Vec<u8> {
    hostile::wrapping(CoreModule::data(&[32 << 20, 16 << 20]), Some(MANIFEST))
}

/// The hostile components, each with the `[compile]` bound it goes beyond
/// and the reason it is refused for.
fn beyond_the_bounds() -> [(&'static str, Vec<u8>, &'static str, &'static str); 2] {
    [
        (
            "slow",
            slow(),
            "timeout = \"1s\"",
            "took longer than 1s: raise `timeout` under [compile] in the policy",
        ),
        (
            "large",
            large(),
            "memory = \"128 MiB\"",
            "more than 128 MiB of memory: raise `memory` under [compile] in the policy",
        ),
    ]
}

/// Within the parse ceilings, beyond `[compile] timeout` or `memory`:
/// `approve` stops the compiling child, refuses with the bound's key, soon,
/// and writes nothing.
#[test]
fn approve_refuses_a_component_that_compiles_too_long_or_in_too_much_memory() {
    for (what, component, bound, message) in beyond_the_bounds() {
        bounds::check(
            &component,
            &airlock::rules::policy::CompileCeilings::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        policy(dir, bound);
        std::fs::write(dir.join("bomb.wasm"), &component).unwrap();
        let started = Instant::now();
        let (code, _, e) = airlock_cached(dir, &["approve", "bomb.wasm", "--yes"]);
        assert_eq!(code, Some(3), "{what}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{what}: {:?}",
            started.elapsed()
        );
        // One line (after the note that a checkpoint key was generated).
        let last = e.lines().last().unwrap();
        assert!(
            last.starts_with(
                "airlock: error: cannot approve: bomb.wasm cannot be compiled within the \
                 policy's bounds: compiling bomb.wasm "
            ) && last.contains(message),
            "{what}: {e}"
        );
        assert!(!dir.join("airlock.lock").exists(), "{what}");
        assert_eq!(cached(dir), 0, "{what}");
    }
}

/// Approve `component` (whose manifest is `manifest`) in the lock of the
/// policy in `dir` as `airlock approve` would, without compiling it.
fn approve_uncompiled(dir: &Path, component: &[u8], manifest: &str) {
    let policy = Policy::load(&dir.join("airlock.toml")).unwrap();
    let mut lock = Lock::load(&policy.trust.lock).unwrap();
    let manifest = Manifest::parse("manifest", manifest).unwrap();
    let entry = Entry::new(
        &manifest,
        Digest::of(component),
        "bomb.wasm",
        None,
        std::time::SystemTime::now(),
    );
    lock.insert(entry);
    lock.save(&policy.trust.lock).unwrap();
}

/// An approved component beyond `[compile] timeout` or `memory`: `airlock
/// run` refuses it before running anything, with the bound's key, and
/// records the refusal; nothing is cached.
#[test]
fn run_refuses_an_approved_component_that_compiles_too_long_or_in_too_much_memory() {
    for (what, component, bound, message) in beyond_the_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        policy(dir, bound);
        std::fs::write(dir.join("bomb.wasm"), &component).unwrap();
        approve_uncompiled(dir, &component, MANIFEST);
        let started = Instant::now();
        let (code, out, e) = airlock_cached(dir, &["run", "bomb.wasm"]);
        assert_eq!(code, Some(3), "{what}: {e}");
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{what}: {:?}",
            started.elapsed()
        );
        assert_eq!(out, "", "{what}");
        let last = e.lines().last().unwrap();
        assert!(
            last.starts_with(
                "airlock: error: refused: bomb.wasm cannot be compiled within the policy's \
                 bounds: compiling bomb.wasm "
            ) && last.contains(message),
            "{what}: {e}"
        );
        let audit = read(dir.join("airlock-audit.jsonl"));
        let refused = audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|r| r["event"] == "run.refused")
            .unwrap_or_else(|| panic!("{what}: {audit}"));
        assert!(refused.to_string().contains(message), "{what}: {refused}");
        assert!(!audit.contains("run.start"), "{what}: {audit}");
        assert_eq!(cached(dir), 0, "{what}");
    }
}

/// A component within the bounds is compiled by the child, runs, and is
/// cached; the next run loads it from the cache, without a child (under
/// bounds no compiling could meet).
#[test]
fn the_cli_compiles_in_a_child_runs_and_then_loads_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (_, e) = approved_probe(dir);
    assert!(e.contains("; not cached"), "{e}");
    assert_eq!(cached(dir), 0);

    let input = r#"{"op": "alloc", "mib": 3}"#;
    let (code, out, e) = airlock_cached(dir, &["run", "probe", "--input", input]);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(out.trim(), r#"{"ok":3}"#, "{e}");
    assert_eq!(cached(dir), 1, "{e}");

    // No child could compile the probe in a millisecond: the cached copy runs.
    policy(dir, "timeout = \"1ms\"");
    let (code, out, e) = airlock_cached(dir, &["run", "probe", "--input", input]);
    assert_eq!(code, Some(0), "{e}");
    assert_eq!(out.trim(), r#"{"ok":3}"#, "{e}");
    // And without the cache the bounds hold, on time and on memory.
    let (code, _, e) = airlock_cached(dir, &["run", "probe", "--input", input, "--no-cache"]);
    assert_eq!(code, Some(3), "{e}");
    assert!(
        e.contains("compiling ./probe.wasm took longer than 1ms"),
        "{e}"
    );
    policy(dir, "memory = \"16 MiB\"");
    let (code, out, e) = airlock_cached(dir, &["run", "probe", "--input", input]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"ok":3}"#), "{e}");
    let (code, _, e) = airlock_cached(dir, &["run", "probe", "--input", input, "--no-cache"]);
    assert_eq!(code, Some(3), "{e}");
    assert!(
        e.contains("compiling ./probe.wasm ")
            && e.contains("more than 16 MiB of memory: raise `memory` under [compile]"),
        "{e}"
    );
}

/// An embedder's host (with its instance pool, unlike the CLI's) that opts
/// in to compiling in the `airlock` binary: a component within the bounds
/// is compiled by the child, loads into the pooled engine and runs; one
/// beyond them is refused as a `CompileBound` refusal, recorded, and the
/// host is still there to say so.
#[test]
fn an_embedders_host_compiles_in_the_airlock_binary_when_asked() {
    use airlock::compile::Compiler;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"acme\"\n";
    let probe =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(dir.join("probe.wasm"), &probe).unwrap();
    let host = |compile: &str| {
        policy(dir, compile);
        let policy = Policy::load(&dir.join("airlock.toml")).unwrap();
        Host::builder(policy)
            .compiler(Compiler::Process(AIRLOCK.into()))
            .build()
            .unwrap()
    };
    policy(dir, "");
    approve_uncompiled(dir, &probe, manifest);
    let h = host("");
    let action = h.load_file(&dir.join("probe.wasm")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime
        .block_on(action.invoke(r#"{"op": "alloc", "mib": 2}"#))
        .unwrap();
    assert_eq!(outcome.result.unwrap(), r#"{"ok":2}"#);
    drop((action, h));

    for (what, component, bound, message) in beyond_the_bounds() {
        approve_uncompiled(dir, &component, MANIFEST);
        let h = host(bound);
        let err = h.load_bytes(&component, "bomb.wasm").unwrap_err();
        let Error::Refused(Refusal::CompileBound { origin, reason }) = &err else {
            panic!("{what}: {err}");
        };
        assert_eq!(origin, "bomb.wasm");
        assert!(reason.contains(message), "{what}: {reason}");
        let audit = read(h.audit_log());
        assert!(
            audit.contains("cannot be compiled within the policy's bounds: compiling bomb.wasm ")
                && audit.contains(message),
            "{what}: {audit}"
        );
    }
}
