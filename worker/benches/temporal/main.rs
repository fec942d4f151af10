//! The Temporal benchmark: an activity's round trip through an airlock
//! worker (the `hello` action) against a no-op activity on a worker of the
//! same shape (the same SDK, runtime and slots), on one Temporal dev
//! server; and workflows per second with one and with two airlock workers.
//! Temporal's own scheduling is the floor of both; the ratio is what
//! airlock adds.
//!
//! ```text
//! ./scripts/setup.sh && cargo bench --locked -p airlock-worker --bench temporal
//! cargo bench -p airlock-worker --bench temporal -- --quick   # fewer workflows
//! ```

#![allow(clippy::unwrap_used)]

use airlock::Policy;
use airlock::approve::{self, Review};
use airlock::compile::Compiler;
use airlock::rules::provenance::Lock;
use airlock_worker::{Config, Worker};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{Runtime, Worker as SdkWorker, WorkerOptions};

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{root, temporal_server};

const SLOTS: usize = 8;

/// The no-op activity: the same worker shape, nothing to run.
struct Noop;

#[activities]
impl Noop {
    #[activity(name = "noop")]
    #[allow(dead_code)]
    async fn noop(_ctx: ActivityContext, _arg: Value) -> Result<Value, ActivityError> {
        Ok(Value::Null)
    }
}

/// A policy with `hello` approved, its log grouped as a server's would be.
fn policy(dir: &Path) -> PathBuf {
    std::fs::copy(airlock_test_artifacts::HELLO, dir.join("hello.wasm")).unwrap();
    let path = dir.join("airlock.toml");
    std::fs::write(
        &path,
        "[actions.hello]\npath = \"hello.wasm\"\nrequire_signature = false\n\n\
         [audit]\nsync = \"group\"\n",
    )
    .unwrap();
    let policy = Policy::load(&path).unwrap();
    let bytes = std::fs::read(dir.join("hello.wasm")).unwrap();
    let lock = Lock::load(&policy.trust.lock).unwrap();
    let review = Review::of(&bytes, "hello.wasm", None, None, &policy, &lock).unwrap();
    approve::compile(&review, &bytes, &policy, &Compiler::InProcess, None).unwrap();
    let approver = approve::Approver {
        user: "bench".into(),
        host: "localhost".into(),
    };
    approve::write(&review, &lock, &policy, "hello.wasm", &approver, false).unwrap();
    path
}

/// A worker of the same shape with the no-op activity on `bench-noop`.
fn noop_worker(
    address: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let url = Url::parse(&format!("http://{address}")).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, up) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let connection = Connection::connect(ConnectionOptions::new(url).build())
                .await
                .unwrap();
            let client = Client::new(connection, ClientOptions::new("default").build()).unwrap();
            let runtime = Runtime::from_current_tokio(Default::default()).unwrap();
            let options = WorkerOptions::new("bench-noop")
                .register_activities(Noop)
                .tuner(airlock_worker::slots(SLOTS))
                .build();
            let mut worker = SdkWorker::new(&runtime, client, options).unwrap();
            let shutdown = worker.shutdown_handle();
            ready.send(()).unwrap();
            tokio::spawn(async move {
                let _ = stopped.await;
                shutdown();
            });
            worker.run().await.unwrap();
        });
    });
    up.recv().unwrap();
    (stop, thread)
}

fn python(args: &[&str]) -> Value {
    let out = Command::new(common::venv("python"))
        .arg(root().join("worker/benches/temporal/bench.py"))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "bench.py {args:?} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (latency_n, throughput_m) = if quick { ("50", "100") } else { ("300", "600") };
    let (_server, port) = temporal_server();
    let address = format!("127.0.0.1:{port}");

    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path());
    // Each worker on a thread and runtime of its own: a worker's run is
    // not Send.
    let airlock_worker = |instance: &str| {
        let config = Config {
            temporal: address.clone(),
            namespace: "default".into(),
            task_queue: "bench-airlock".into(),
            policy: policy.clone(),
            instance: instance.into(),
            identity: None,
            concurrency: SLOTS,
            grace: Duration::from_secs(5),
            tls: None,
            api_key: None,
            compiler: Compiler::InProcess,
            compile_cache: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, up) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let worker = Worker::connect(config).await.unwrap();
                ready.send(()).unwrap();
                worker
                    .run(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        up.recv().unwrap();
        (stop, thread)
    };
    let first = airlock_worker("w1");
    let noop = noop_worker(&address);

    let latency = python(&[
        &address,
        "latency",
        "bench-airlock",
        "bench-noop",
        latency_n,
    ]);
    let one = python(&[&address, "throughput", "bench-airlock", throughput_m]);
    let second = airlock_worker("w2");
    let two = python(&[&address, "throughput", "bench-airlock", throughput_m]);

    let ms = |kind: &str, q: &str| latency[kind][q].as_f64().unwrap();
    let wfs = |v: &Value| v["workflows_per_s"].as_f64().unwrap();
    println!(
        "Temporal dev server on loopback, {SLOTS} activity slots per worker, one activity per workflow"
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| workflow round trip, no-op activity (p50 / p90) | {:.2} / {:.2} ms |",
        ms("noop", "p50_ms"),
        ms("noop", "p90_ms")
    );
    println!(
        "| workflow round trip, `hello` through airlock (p50 / p90) | {:.2} / {:.2} ms |",
        ms("airlock", "p50_ms"),
        ms("airlock", "p90_ms")
    );
    println!(
        "| airlock / no-op, p50 | {:.2}× |",
        ms("airlock", "p50_ms") / ms("noop", "p50_ms")
    );
    println!(
        "| workflows per second, one airlock worker | {:.0} |",
        wfs(&one)
    );
    println!(
        "| workflows per second, two airlock workers | {:.0} |",
        wfs(&two)
    );

    for (stop, thread) in [first, second, noop] {
        let _ = stop.send(());
        thread.join().unwrap();
    }
}
