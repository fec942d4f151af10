//! `airlock serve` over HTTP against `wasmtime serve`: the `hello` action
//! (audit `group`: a policy check and two durable records per request)
//! against the same work as a `wasi:http` proxy (`tests/guests/http-hello`),
//! both a fresh instance per request, both on loopback, with 1, 8 and 64
//! clients each on a keep-alive connection of its own; and what HTTP and
//! JSON add to an in-process `Host::invoke` of the same action.

use crate::host::Setup;
use crate::stats::{self, Report};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");
const TOKEN: &str = "bench-token-0123456789abcdef0123456789";
/// What the proxy reads, and what airlock reads around it.
const INPUT: &str = r#"{"name": "Grace Hopper"}"#;
const ENVELOPED: &str = r#"{"input": {"name": "Grace Hopper"}}"#;

/// What one load level measured.
pub struct Load {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// A server process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// `wasmtime` from `$WASMTIME`, else the one `scripts/bench.sh` installs
/// in `target/tools`.
fn wasmtime() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WASMTIME") {
        return Some(path.into());
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/wasmtime");
    installed.exists().then_some(installed)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `airlock serve` of `setup`'s policy on a loopback port, with a token.
fn start_airlock(setup: &Setup) -> (Process, SocketAddr) {
    let dir = setup.dir.path();
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("bench {TOKEN}\n")).expect("tokens");
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod tokens");
    let mut child = Command::new(AIRLOCK)
        .args(["serve", "--listen", "tcp:127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .args(["--concurrency", "64", "--queue", "1024", "--config"])
        .arg(setup.policy_path())
        .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start airlock serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let process = Process(child);
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        if let Some(addr) = line.strip_prefix("airlock: serving on tcp:") {
            // Keep the pipe drained for as long as the server runs.
            std::thread::spawn(move || lines.for_each(drop));
            return (process, addr.parse().expect("an address"));
        }
    }
    panic!("airlock serve did not start");
}

/// `wasmtime serve` of the proxy on a loopback port, once it answers.
fn start_wasmtime(wasmtime: &Path) -> (Process, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    // `-S cli`: the guest's Rust standard library imports `wasi:cli` too.
    // The pooling allocator, as airlock's own engine has: fresh instances
    // from a pool on both sides.
    let child = Command::new(wasmtime)
        .args(["serve", "-S", "cli", "-O", "pooling-allocator=y", "--addr"])
        .arg(addr.to_string())
        .arg(airlock_test_artifacts::HTTP_HELLO)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wasmtime serve");
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "wasmtime serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Process(child), addr)
}

/// Where requests go and what they carry.
#[derive(Clone, Copy)]
struct Target {
    path: &'static str,
    token: Option<&'static str>,
    body: &'static str,
}

const AIRLOCK_HELLO: Target = Target {
    path: "/v1/actions/hello/invoke",
    token: Some(TOKEN),
    body: ENVELOPED,
};
const PROXY: Target = Target {
    path: "/",
    token: None,
    body: INPUT,
};

/// `clients` keep-alive connections to `addr`, each sending `path` in a
/// loop for `span`: requests per second and the latency percentiles.
async fn load(addr: SocketAddr, target: Target, clients: usize, span: Duration) -> Load {
    let deadline = Instant::now() + span;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let _ = stream.set_nodelay(true);
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .expect("handshake");
                tokio::spawn(conn);
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let mut r = Request::post(target.path)
                        .header("host", "localhost")
                        .header("content-type", "application/json");
                    if let Some(token) = target.token {
                        r = r.header("authorization", format!("Bearer {token}"));
                    }
                    let body = Full::new(Bytes::from_static(target.body.as_bytes()));
                    let request = r.body(body).expect("request");
                    let t = Instant::now();
                    let response = sender.send_request(request).await.expect("response");
                    let status = response.status();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes();
                    latencies.push(t.elapsed());
                    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                    assert!(
                        body.windows(5).any(|w| w == b"Grace"),
                        "{}",
                        String::from_utf8_lossy(&body)
                    );
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Load {
        rate: all.len() as f64 / span.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// Requests per second at one load level.
pub struct Level {
    pub clients: usize,
    pub airlock: f64,
    pub wasmtime: f64,
}

/// What the section returns for the targets.
pub struct Measured {
    pub levels: Vec<Level>,
    /// `Host::invoke` in process, one caller, median.
    pub in_process: Duration,
    /// `airlock serve`, one client, p50.
    pub over_http: Duration,
}

/// The rows, and what the targets need of them.
pub fn measure(
    report: &mut Report,
    rt: &tokio::runtime::Runtime,
    span: Duration,
) -> Option<Measured> {
    const S: &str = "serve, hello over HTTP (loopback, keep-alive)";
    let Some(wasmtime) = wasmtime() else {
        eprintln!("  serve: no wasmtime; ./scripts/bench.sh installs it in target/tools");
        return None;
    };
    let hello = PathBuf::from(airlock_test_artifacts::HELLO);
    let served = Setup::new(&[("hello", &hello)], "group", "");
    let (_airlock, airlock_addr) = start_airlock(&served);
    let (_wasmtime, wasmtime_addr) = start_wasmtime(&wasmtime);
    // Warm both: the first request compiles (airlock from its cache).
    let warm = Duration::from_millis(300);
    rt.block_on(load(airlock_addr, AIRLOCK_HELLO, 1, warm));
    rt.block_on(load(wasmtime_addr, PROXY, 1, warm));

    let mut levels = Vec::new();
    for clients in [1, 8, 64] {
        let ours = rt.block_on(load(airlock_addr, AIRLOCK_HELLO, clients, span));
        let theirs = rt.block_on(load(wasmtime_addr, PROXY, clients, span));
        for (who, l) in [("airlock serve", &ours), ("wasmtime serve", &theirs)] {
            report.rate(S, format!("{who}, {clients} clients: requests"), l.rate);
            report.time(S, format!("{who}, {clients} clients: p50"), l.p50);
            report.time(S, format!("{who}, {clients} clients: p99"), l.p99);
        }
        levels.push(Level {
            clients,
            airlock: ours.rate,
            wasmtime: theirs.rate,
        });
    }
    let over_http = rt.block_on(load(airlock_addr, AIRLOCK_HELLO, 1, span)).p50;

    // The same action in process, one caller, on a log of its own (the
    // server holds the other).
    let in_process_setup = Setup::new(&[("hello", &hello)], "group", "");
    let host = in_process_setup.host();
    let in_process = stats::per_call(100, 2_000, || {
        rt.block_on(host.invoke("hello", INPUT)).expect("invoke");
    });
    report.time(S, "Host::invoke in process, 1 caller (median)", in_process);
    report.time(S, "airlock serve, 1 client (p50)", over_http);
    Some(Measured {
        levels,
        in_process,
        over_http,
    })
}
