//! The vowels workload on Extism 1.41: one plugin reused (Extism's normal
//! mode) and a fresh plugin per call (from a `CompiledPlugin`, so the
//! module is compiled once, as airlock and the raw baseline do).
//!
//! ```text
//! cargo run --release --manifest-path bench/extism/Cargo.toml
//! ```
//!
//! `--calls N` sets the calls per row (default 10,000); `--machine` prints
//! `case<TAB>nanoseconds` lines, which airlock's `--bench perf` reads when
//! it runs this binary in the middle of its own run.

use extism::{CompiledPlugin, Plugin, PluginBuilder};
use std::time::{Duration, Instant};

const WASM: &str = env!("EXTISM_VOWELS_WASM");

/// The same ~1 KiB input airlock's suite uses (`cli/benches/perf/main.rs`).
fn input() -> String {
    let words = [
        "sandbox", "instance", "component", "capability", "audit", "policy", "grant", "digest",
        "workflow", "action", "memory", "network",
    ];
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 1000 {
        text.push_str(words[i % words.len()]);
        text.push(' ');
        i += 7;
    }
    format!("{{\"text\":\"{}\"}}", text.trim_end())
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn time(n: usize, mut call: impl FnMut()) -> Duration {
    for _ in 0..n / 10 {
        call();
    }
    let mut xs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        call();
        xs.push(t.elapsed());
    }
    median(xs)
}

fn check(out: &str) {
    assert!(out.starts_with("{\"vowels\":"), "{out}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let calls = args
        .iter()
        .position(|a| a == "--calls")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(10_000);
    let machine = args.iter().any(|a| a == "--machine");
    let wasm = std::fs::read(WASM).expect("the guest was built by build.rs");
    let input = input();

    let mut plugin = Plugin::new(&wasm, [], false).expect("plugin");
    let reused = time(calls, || {
        let out: String = plugin.call("run", input.as_str()).expect("call");
        check(&out);
    });

    let compiled = CompiledPlugin::new(PluginBuilder::new(&wasm).with_wasi(false)).expect("compile");
    let fresh = time(calls, || {
        let mut plugin = Plugin::new_from_compiled(&compiled).expect("instantiate");
        let out: String = plugin.call("run", input.as_str()).expect("call");
        check(&out);
    });

    let started = Instant::now();
    let mut compiles = Vec::new();
    while compiles.len() < 5 || (started.elapsed() < Duration::from_secs(2) && compiles.len() < 20) {
        let t = Instant::now();
        CompiledPlugin::new(PluginBuilder::new(&wasm).with_wasi(false)).expect("compile");
        compiles.push(t.elapsed());
    }
    let compile = median(compiles);

    let rows = [
        ("one plugin reused (its normal mode)", reused),
        ("fresh plugin per call (Plugin::new_from_compiled)", fresh),
        ("compiling the plugin (CompiledPlugin::new)", compile),
    ];
    if machine {
        for (case, d) in rows {
            println!("{case}\t{}", d.as_nanos());
        }
    } else {
        println!("| host, mode | median |");
        println!("|---|---|");
        for (case, d) in rows {
            println!("| Extism 1.41, {case} | {:.1} µs |", d.as_secs_f64() * 1e6);
        }
    }
}
