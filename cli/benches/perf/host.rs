//! airlock itself: `Host::invoke` with a fresh instance per call, the whole
//! grant machinery and the audit log on, and its throughput with 1 and N
//! concurrent callers.

use crate::stats::{self, Report};
use airlock::rules::manifest::{Manifest, section};
use airlock::rules::provenance::{Digest, Entry, Lock};
use airlock::{Host, Policy};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// A policy directory: `airlock.toml` naming `actions`, its lock approving
/// them, and the audit log beside them.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    /// Approve each `(name, component path)` and write a policy with
    /// `sync` and `extra` (more TOML).
    pub fn new(actions: &[(&str, &Path)], sync: &str, extra: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut policy = String::from("[trust]\nrequire_signature = false\n");
        let mut lock = Lock::default();
        for (name, path) in actions {
            let bytes = std::fs::read(path).expect("read component");
            let text = section::extract(&bytes).expect("manifest section");
            let manifest = Manifest::parse("manifest", text).expect("manifest");
            lock.insert(Entry::new(
                &manifest,
                Digest::of(&bytes),
                path.display().to_string(),
                None,
                SystemTime::now(),
            ));
            policy.push_str(&format!(
                "\n[actions.{name}]\npath = {:?}\n",
                path.display().to_string()
            ));
        }
        policy.push_str(&format!("\n[audit]\nsync = {sync:?}\n{extra}"));
        lock.save(&dir.path().join("airlock.lock"))
            .expect("save lock");
        std::fs::write(dir.path().join("airlock.toml"), policy).expect("write policy");
        Setup { dir }
    }

    pub fn policy_path(&self) -> PathBuf {
        self.dir.path().join("airlock.toml")
    }

    pub fn host(&self) -> Host {
        let policy = Policy::load(&self.policy_path()).expect("policy");
        Host::builder(policy).build().expect("host")
    }
}

fn ok(outcome: airlock::Outcome) {
    let out = outcome.result.expect("the workload succeeds");
    debug_assert!(out.starts_with("{\"vowels\":"), "{out}");
    std::hint::black_box(out);
}

/// The median `Host::invoke` of `action`, one call after another.
pub fn warm(
    rt: &tokio::runtime::Runtime,
    host: &Host,
    action: &str,
    input: &str,
    n: usize,
) -> Duration {
    rt.block_on(async {
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let t = Instant::now();
            ok(host.invoke(action, input).await.expect("invoke"));
            if i >= n / 10 {
                samples.push(t.elapsed());
            }
        }
        stats::median(&mut samples)
    })
}

/// Invocations per second with 1 and with N callers ([`stats::scaling`]),
/// each invoking back to back.
pub fn scaling(host: &Host, action: &str, input: &str, span: Duration) -> stats::Scaling {
    stats::scaling(5, span, |rt| {
        ok(rt.block_on(host.invoke(action, input)).expect("invoke"))
    })
}

/// The warm and throughput rows; returns the warm median and the
/// throughput.
pub fn measure(
    report: &mut Report,
    rt: &tokio::runtime::Runtime,
    vowels: &Path,
    input: &str,
    n: usize,
    span: Duration,
) -> (Duration, stats::Scaling) {
    const S: &str = "airlock";
    let mut warm_by_sync = Vec::new();
    for sync in ["group", "none", "always"] {
        let setup = Setup::new(&[("vowels", vowels)], sync, "");
        let host = setup.host();
        let calls = if sync == "always" { n / 10 } else { n };
        let d = report.time(
            S,
            format!("Host::invoke, fresh instance, audit sync = \"{sync}\""),
            warm(rt, &host, "vowels", input, calls),
        );
        warm_by_sync.push(d);
    }
    let setup = Setup::new(&[("vowels", vowels)], "group", "");
    let host = setup.host();
    let callers = stats::cores();
    let tp = scaling(&host, "vowels", input, span);
    report.rate(S, "throughput, 1 caller (sync = \"group\")", tp.one);
    report.rate(
        S,
        format!("throughput, {callers} callers (sync = \"group\")"),
        tp.many,
    );
    (warm_by_sync[0], tp)
}
