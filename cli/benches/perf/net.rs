//! The network path: the same component making the same requests to the
//! same loopback server, through airlock's guarded `send_request` and
//! through a direct `wasi:http` hook with no guard. Both open one
//! connection per request (HTTP/1.1, `Connection: close`) and read the
//! whole 1 KiB response; a native client doing the same is shown beside.

use crate::host::Setup;
use crate::raw::{self, RawState};
use crate::stats::{self, Report};
use airlock::rules::manifest::section;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

/// The durability settings the guarded path is measured under.
const SYNCS: [&str; 3] = ["none", "group", "always"];

/// The size of every response body.
const BODY: usize = 1024;

/// A server on 127.0.0.1 answering every request with 1 KiB and closing,
/// one connection at a time, on one thread.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = "x".repeat(BODY);
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {BODY}\r\nconnection: close\r\n\r\n{body}"
        );
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                    match stream.read(&mut buf[got..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        Server { addr, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

/// `wasi:http` without airlock: the request goes straight to the address
/// in its URL, on a new connection, and the response is read whole — what
/// airlock's client does after its checks.
pub struct Direct;

impl WasiHttpHooks for Direct {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
                )>,
            > + Send,
    > {
        Box::new(async move {
            let (mut parts, body) = request.into_parts();
            let body = body.collect().await?.to_bytes();
            let addr: SocketAddr = parts
                .uri
                .authority()
                .and_then(|a| a.as_str().parse().ok())
                .expect("an IP:port URL");
            parts.uri = parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .parse()
                .expect("path");
            let (head, body) = get(addr, http::Request::from_parts(parts, body)).await;
            let body: WasiBody = Full::new(body).map_err(|e| match e {}).boxed_unsync();
            let io: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
                Box::new(async { Ok(()) });
            Ok((http::Response::from_parts(head, body), io))
        })
    }
}

/// One request on a new connection, the response read whole.
async fn get(addr: SocketAddr, request: http::Request<Bytes>) -> (http::response::Parts, Bytes) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let response = sender
        .send_request(request.map(Full::new))
        .await
        .expect("response");
    let (head, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    assert_eq!(body.len(), BODY);
    (head, body)
}

/// The probe's input: `k` GETs of `url`.
fn many(url: &str, k: usize) -> String {
    let op = serde_json::json!({ "op": "http", "url": url });
    serde_json::json!({ "op": "many", "ops": vec![op; k] }).to_string()
}

fn check(output: &str, k: usize) {
    let v: serde_json::Value = serde_json::from_str(output).expect("probe output");
    let list = v.as_array().expect("a list");
    assert_eq!(list.len(), k);
    for r in list {
        assert_eq!(r["status"], 200, "{r}");
    }
}

/// The network rows; returns (direct, guarded with sync = "none",
/// guarded with sync = "group") per request.
pub fn measure(
    report: &mut Report,
    rt: &tokio::runtime::Runtime,
    runs: usize,
    k: usize,
) -> (Duration, Duration, Duration) {
    const S: &str = "network, per request (1 KiB response)";
    let server = Server::start();
    let url = format!("http://{}/data", server.addr);
    let input = many(&url, k);
    let manifest = format!(
        "[action]\nname = \"fetch\"\nversion = \"1.0.0\"\npublisher = \"airlock-bench\"\n\n\
         [capabilities]\nnetwork = [\"http://{}\"]\n\n[limits]\nmemory = \"64 MiB\"\ntimeout = \"60s\"\nhttp_requests = {k}\n",
        server.addr
    );
    let probe = std::fs::read(airlock_test_artifacts::PROBE).expect("probe");
    let probe = section::embed(&probe, &manifest).expect("embed");
    let dir = tempfile::tempdir().expect("temp dir");
    let component_path = dir.path().join("fetch.wasm");
    std::fs::write(&component_path, &probe).expect("write component");

    // Native: the same requests from Rust, one connection each.
    let native = rt.block_on(async {
        let mut samples = Vec::new();
        for _ in 0..runs * k / 4 {
            let t = Instant::now();
            let request = http::Request::get("/data")
                .header("host", server.addr.to_string())
                .body(Bytes::new())
                .expect("request");
            get(server.addr, request).await;
            samples.push(t.elapsed());
        }
        stats::median(&mut samples)
    });

    // Direct (raw wasmtime, the probe, the unguarded hook) and guarded
    // (airlock, under each durability setting) take turns, one run of `k`
    // requests each per round, so that the machine's drift falls on all
    // alike.
    let engine = raw::engine(raw::Alloc::OnDemand);
    let component = Component::new(&engine, &probe).expect("compile");
    let linker = raw::linker_async(&engine);
    let pre = linker.instantiate_pre(&component).expect("pre-link");
    let setups: Vec<Setup> = SYNCS
        .iter()
        .map(|sync| Setup::new(&[("fetch", &component_path)], sync, ""))
        .collect();
    let hosts: Vec<_> = setups.iter().map(Setup::host).collect();
    let mut direct = Vec::new();
    let mut guarded = vec![Vec::new(); hosts.len()];
    rt.block_on(async {
        for round in 0..runs + 1 {
            let t = Instant::now();
            let out = raw::call_fresh(&engine, &pre, RawState::new(Box::new(Direct)), &input).await;
            check(&out.expect("probe ok"), k);
            let d = t.elapsed() / k as u32;
            if round > 0 {
                direct.push(d);
            }
            for (host, samples) in hosts.iter().zip(&mut guarded) {
                let t = Instant::now();
                let outcome = host.invoke("fetch", &input).await.expect("invoke");
                check(&outcome.result.expect("probe ok"), k);
                let d = t.elapsed() / k as u32;
                if round > 0 {
                    samples.push(d);
                }
            }
        }
    });
    let direct = stats::median(&mut direct);
    let guarded: Vec<Duration> = guarded.iter_mut().map(|s| stats::median(s)).collect();
    drop(server);

    report.time(
        S,
        "native Rust client (hyper), connection per request",
        native,
    );
    report.time(S, "direct: raw wasmtime + wasi:http, no guard", direct);
    for (sync, d) in SYNCS.iter().zip(&guarded) {
        report.time(
            S,
            format!("guarded: airlock send_request, audit sync = \"{sync}\""),
            *d,
        );
    }
    (direct, guarded[0], guarded[1])
}
