//! A cold `airlock run`: a new process for one call, its compiled artifact
//! cached on disk, against a bare program that loads a serialized
//! component and makes one call, and against the first run that compiles.

#![allow(unsafe_code)] // the bare program deserializes its own artifact

use crate::host::Setup;
use crate::raw::{self, RawState, Run};
use crate::stats::{self, Report};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::Store;
use wasmtime::component::Component;

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

/// The bare program (this binary, started with `--bare CWASM INPUT`): load
/// a serialized component, call `run` once, print the output.
pub fn bare_main(cwasm: &Path, input: &Path) {
    let engine = raw::engine(raw::Alloc::OnDemand);
    // SAFETY: the file was written by `Component::serialize` of this same
    // program a moment before, in a temporary directory only this user can
    // write.
    let component = unsafe { Component::deserialize_file(&engine, cwasm) }.expect("deserialize");
    let linker = raw::linker_sync(&engine);
    let mut store = Store::new(&engine, RawState::default());
    let instance = linker
        .instantiate(&mut store, &component)
        .expect("instantiate");
    let run: Run = instance
        .get_typed_func(&mut store, "run")
        .expect("run export");
    let input = std::fs::read_to_string(input).expect("input");
    let (out,) = run.call(&mut store, (input,)).expect("call");
    println!("{}", out.expect("the workload succeeds"));
}

/// Run `cmd` to its end, checking that it printed the workload's output;
/// how long that took from spawn to exit.
fn time(mut c: Command) -> Duration {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().expect("spawn");
    let took = t.elapsed();
    assert!(
        out.status.success() && out.stdout.starts_with(b"{\"vowels\":"),
        "{:?}: {}{}",
        c,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// The median of `n` runs of each of `cmds`, taken in turn (so that the
/// machine's drift during the runs falls on each alike).
fn spawn<const K: usize>(n: usize, cmds: [&mut dyn FnMut() -> Command; K]) -> [Duration; K] {
    let mut samples: [Vec<Duration>; K] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut cmds = cmds;
    for _ in 0..n {
        for (cmd, samples) in cmds.iter_mut().zip(&mut samples) {
            samples.push(time(cmd()));
        }
    }
    samples.map(|mut s| stats::median(&mut s))
}

/// The cold rows; returns (cached second run, bare program, first run).
pub fn measure(
    report: &mut Report,
    vowels: &Path,
    input: &str,
    n: usize,
) -> (Duration, Duration, Duration) {
    const S: &str = "cold CLI (new process, one call)";
    let setup = Setup::new(&[("vowels", vowels)], "group", "");
    let dir = setup.dir.path();
    let input_file = dir.join("input.json");
    std::fs::write(&input_file, input).expect("write input");
    let input_arg = format!("@{}", input_file.display());
    let airlock = |cache: &Path| {
        let mut c = Command::new(AIRLOCK);
        c.args(["run", "vowels", "--input", &input_arg, "--config"])
            .arg(setup.policy_path())
            .env("AIRLOCK_CACHE_DIR", cache);
        c
    };

    let cache = dir.join("cache");
    time(airlock(&cache)); // fill it

    let engine = raw::engine(raw::Alloc::OnDemand);
    let bytes = std::fs::read(vowels).expect("read component");
    let cwasm = dir.join("vowels.cwasm");
    std::fs::write(
        &cwasm,
        Component::new(&engine, &bytes)
            .and_then(|c| c.serialize())
            .expect("serialize"),
    )
    .expect("write cwasm");
    let me = std::env::current_exe().expect("current exe");
    // The cached run and the bare program in turn, so that their ratio is
    // taken under the same drift. The compiling first runs go in a loop of
    // their own: each leaves a fresh artifact to be written back to disk,
    // and that writeback would fall on whichever sample came next.
    let [second, bare] = spawn(
        n,
        [&mut || airlock(&cache), &mut || {
            let mut c = Command::new(&me);
            c.arg("--bare").arg(&cwasm).arg(&input_file);
            c
        }],
    );
    let mut fresh = 0;
    let [first] = spawn(
        n,
        [&mut || {
            fresh += 1;
            airlock(&dir.join(format!("cache-first-{fresh}")))
        }],
    );

    report.time(
        S,
        "bare program: load serialized component + one call",
        bare,
    );
    report.time(S, "`airlock run`, compiled artifact cached", second);
    report.time(S, "`airlock run`, first run (compiles)", first);
    (second, bare, first)
}
