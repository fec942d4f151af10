//! The performance suite: every figure of the README's Performance section,
//! measured in one process run, with the targets checked as ratios of
//! figures from this same run.
//!
//! ```text
//! cargo bench -p airlock-cli --bench perf            # the full run (a few minutes)
//! cargo bench -p airlock-cli --bench perf -- --quick # fewer calls, for a smoke test
//! ```
//!
//! The workload is the `vowels` test guest (`tests/guests/vowels`): `run`
//! takes a ~1 KiB `{"text": ...}` and returns `{"vowels": N}`. The
//! raw-wasmtime baseline is in [`raw`]; airlock's warm path and throughput
//! in [`host`]; the cold CLI in [`cli`]; audit costs in [`audit_cost`]; the
//! network path in [`net`]. Extism runs in its own workspace
//! (`bench/extism`, a newer wasmtime); when its binary has been built, this
//! suite runs it as a child process in the middle of its own run and puts
//! its rows in the same table.

mod audit_cost;
mod cli;
mod extism;
mod host;
mod net;
mod raw;
mod serve;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

/// The workload's input: a ~1 KiB `{"text": ...}`.
pub fn input() -> String {
    let words = [
        "sandbox",
        "instance",
        "component",
        "capability",
        "audit",
        "policy",
        "grant",
        "digest",
        "workflow",
        "action",
        "memory",
        "network",
    ];
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 1000 {
        text.push_str(words[i % words.len()]);
        text.push(' ');
        i += 7;
    }
    serde_json::json!({ "text": text.trim_end() }).to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--bare") {
        cli::bare_main(args[at + 1].as_ref(), args[at + 2].as_ref());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only SECTION` (raw, extism, host, cli, audit, net, serve; and for a
    // profiler fresh, warm, tp, and tp1 / tp2, one or two callers of
    // `Host::invoke` for ten seconds): one section; no targets are checked.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    if let Some(section) = only {
        let rt = tokio::runtime::Runtime::new().expect("tokio");
        let mut report = stats::Report::default();
        let (input, vowels) = (input(), PathBuf::from(airlock_test_artifacts::VOWELS));
        let bytes = std::fs::read(&vowels).expect("read the vowels component");
        let n = if quick { 1_000 } else { 10_000 };
        match section.as_str() {
            "raw" => drop(raw::measure(&mut report, &rt, &bytes, &input, n)),
            "extism" => drop(extism::measure(&mut report, n)),
            "fresh" => {
                let d = raw::fresh(&rt, raw::Alloc::Airlock, &bytes, &input, 10 * n);
                report.time("raw", "fresh, airlock's engine", d);
            }
            "tp" => {
                let span = Duration::from_secs(1);
                let cpu = stats::compute_scaling(span);
                report.rate("machine", "SHA-256 of 64 KiB, 1 thread", cpu.one);
                report.rate("machine", "SHA-256 of 64 KiB, N threads", cpu.many);
                let raw = raw::fresh_scaling(raw::Alloc::Airlock, &bytes, &input, span);
                report.rate("raw", "fresh throughput, 1 caller", raw.one);
                report.rate("raw", "fresh throughput, N callers", raw.many);
                let setup = host::Setup::new(&[("vowels", &vowels)], "group", "");
                let tp = host::scaling(&setup.host(), "vowels", &input, span);
                report.rate("airlock", "throughput, 1 caller", tp.one);
                report.rate("airlock", "throughput, N callers", tp.many);
                report.scaling_context(&[
                    (tp, "Host::invoke"),
                    (raw, "raw wasmtime"),
                    (cpu, "SHA-256"),
                ]);
            }
            "tp1" | "tp2" => {
                let callers = if section == "tp1" { 1 } else { 2 };
                let setup = host::Setup::new(&[("vowels", &vowels)], "group", "");
                let host = setup.host();
                let r = stats::rate(callers, Duration::from_secs(10), |rt| {
                    rt.block_on(host.invoke("vowels", &input)).expect("invoke");
                });
                report.rate("airlock", format!("throughput, {callers} callers"), r);
            }
            "warm" => {
                let setup = host::Setup::new(&[("vowels", &vowels)], "group", "");
                let d = host::warm(&rt, &setup.host(), "vowels", &input, 3 * n);
                report.time("airlock", "Host::invoke (group)", d);
            }
            "host" => drop(host::measure(
                &mut report,
                &rt,
                &vowels,
                &input,
                n,
                Duration::from_secs(3),
            )),
            "cli" => drop(cli::measure(&mut report, &vowels, &input, 30)),
            "audit" => drop(audit_cost::measure(1)),
            "net" => drop(net::measure(&mut report, &rt, 20, 200)),
            "serve" => {
                let span = Duration::from_secs(if quick { 1 } else { 3 });
                if let Some(measured) = serve::measure(&mut report, &rt, span) {
                    serve_targets(&mut report, measured);
                }
            }
            other => panic!("no section {other}"),
        }
        report.print();
        return;
    }
    let n = if quick { 1_000 } else { 10_000 };
    let spawns = if quick { 10 } else { 30 };
    let span = Duration::from_millis(if quick { 200 } else { 1000 });
    let input = input();
    let vowels = PathBuf::from(airlock_test_artifacts::VOWELS);
    let bytes = std::fs::read(&vowels).expect("read the vowels component");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let mut report = stats::Report::default();
    eprintln!(
        "workload: vowels ({} bytes), input {} bytes; {n} calls per row",
        bytes.len(),
        input.len()
    );

    let raw = raw::measure(&mut report, &rt, &bytes, &input, n);
    let extism = extism::measure(&mut report, n);
    let (warm, tp) = host::measure(&mut report, &rt, &vowels, &input, n, span);
    let n_callers = stats::cores();
    let raw_tp = raw::fresh_scaling(raw::Alloc::Airlock, &bytes, &input, span);
    report.rate(
        "raw wasmtime 48",
        "throughput, fresh instance per call, airlock's engine, 1 caller",
        raw_tp.one,
    );
    report.rate(
        "raw wasmtime 48",
        format!("throughput, fresh instance per call, airlock's engine, {n_callers} callers"),
        raw_tp.many,
    );
    let cpu = stats::compute_scaling(span);
    report.rate("machine", "SHA-256 of 64 KiB, 1 thread", cpu.one);
    report.rate(
        "machine",
        format!("SHA-256 of 64 KiB, {n_callers} threads"),
        cpu.many,
    );
    let (second, bare, first) = cli::measure(&mut report, &vowels, &input, spawns);
    for (name, d) in audit_cost::measure(if quick { 10 } else { 1 }) {
        report.time("audit, per record", name, d);
    }
    let served = serve::measure(
        &mut report,
        &rt,
        Duration::from_secs(if quick { 1 } else { 3 }),
    );
    let (direct, guarded_none, guarded_group) = net::measure(
        &mut report,
        &rt,
        if quick { 3 } else { 20 },
        if quick { 50 } else { 200 },
    );

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let r = ratio(warm, raw.fresh);
    report.target(
        "1 warm",
        "Host::invoke (group) / raw fresh instance, same engine configuration",
        r,
        "≤ 2.2",
        r <= 2.2,
    );
    let r = ratio(warm, raw.reused);
    report.target(
        "1 warm",
        "Host::invoke (group) / raw reused instance",
        r,
        "≤ 2",
        r <= 2.0,
    );
    match extism {
        Some(reused) => {
            let r = ratio(warm, reused);
            report.target("1 warm", "Host::invoke (group) / Extism reused plugin", r, "< 1", r < 1.0);
        }
        None => report.targets.push(
            "| 1 warm | Host::invoke (group) / Extism reused plugin | — | < 1 | not measured: build bench/extism first |"
                .into(),
        ),
    }
    let r = ratio(second, bare);
    report.target(
        "2 cold",
        "cached `airlock run` / bare load + call",
        r,
        "≤ 2",
        r <= 2.0,
    );
    let r = ratio(first, second);
    report.target(
        "2 cold",
        "first (compiling) run / cached run",
        r,
        "≥ 20",
        r >= 20.0,
    );
    let r = tp.ratio();
    report.target(
        "3 throughput",
        "Host::invoke, N callers / 1 caller",
        r,
        "≥ 1.8",
        r >= 1.8,
    );
    // What bounds the ratio above on this machine: the same ratio for raw
    // wasmtime's fresh instances and for pure computation.
    report.targets.push(format!(
        "| 3 throughput | (context) raw wasmtime fresh instances, N / 1 | {:.2}× | — | |",
        raw_tp.ratio()
    ));
    report.targets.push(format!(
        "| 3 throughput | (context) pure computation, N threads / 1 | {:.2}× | — | |",
        cpu.ratio()
    ));
    // Why: how busy one caller keeps the machine, and what a call costs in
    // CPU time alone and beside N - 1 others.
    report.scaling_context(&[
        (tp, "Host::invoke"),
        (raw_tp, "raw wasmtime"),
        (cpu, "SHA-256"),
    ]);
    let r = ratio(guarded_none, direct);
    report.target(
        "5 network",
        "guarded (sync none) / direct",
        r,
        "≤ 1.10",
        r <= 1.10,
    );
    let r = ratio(guarded_group, direct);
    report.target(
        "5 network",
        "guarded (sync group) / direct",
        r,
        "≤ 1.10",
        r <= 1.10,
    );
    match served {
        Some(measured) => serve_targets(&mut report, measured),
        None => report.targets.push(
            "| 6 serve | airlock serve / wasmtime serve, requests per second | — | ≥ 0.7 | not measured: ./scripts/bench.sh installs wasmtime |"
                .into(),
        ),
    }

    println!();
    report.print();
}

/// The server's bound at each load level, and what HTTP and JSON add.
fn serve_targets(report: &mut stats::Report, measured: serve::Measured) {
    let serve::Measured {
        levels,
        in_process,
        over_http,
    } = measured;
    for serve::Level {
        clients,
        airlock,
        wasmtime,
    } in levels
    {
        let r = airlock / wasmtime;
        report.target(
            "6 serve",
            &format!("airlock serve / wasmtime serve, requests per second, {clients} clients"),
            r,
            "≥ 0.7",
            r >= 0.7,
        );
    }
    report.targets.push(format!(
        "| 6 serve | (context) airlock serve p50, 1 client / Host::invoke in process | {:.2}× ({} / {}) | — | |",
        over_http.as_secs_f64() / in_process.as_secs_f64(),
        stats::show(over_http),
        stats::show(in_process),
    ));
}
