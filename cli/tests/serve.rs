//! `airlock serve`, run as a real process on a Unix socket and on loopback
//! TCP (plain and TLS), called by a real HTTP client.

#![allow(clippy::unwrap_used)]

use airlock_test_artifacts::{HELLO, PROBE};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");
const TOKEN: &str = "0123456789abcdef0123456789abcdef-ci";

fn airlock(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(AIRLOCK)
        .args(args)
        .current_dir(dir)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("RUST_LOG")
        .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap()
}

/// A directory with `hello` and a `probe` (sleeps on request) approved.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(HELLO, dir.path().join("hello.wasm")).unwrap();
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.0.0\"\npublisher = \"t\"\n";
    let probe =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(dir.path().join("probe.wasm"), probe).unwrap();
    std::fs::write(
        dir.path().join("airlock.toml"),
        "[actions.hello]\npath = \"hello.wasm\"\nrequire_signature = false\n\n\
         [actions.probe]\npath = \"probe.wasm\"\nrequire_signature = false\n\n\
         [limits]\ninput = \"64 KiB\"\n",
    )
    .unwrap();
    for name in ["hello", "probe"] {
        let out = airlock(dir.path(), &["approve", name, "--yes"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// A running `airlock serve`; stopped with SIGTERM when dropped.
struct Served {
    dir: PathBuf,
    child: Option<Child>,
    addresses: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Start `airlock serve ARGS` in `dir` and wait until it listens.
    fn start(dir: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(AIRLOCK)
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env_remove("AIRLOCK_CONFIG")
            .env_remove("RUST_LOG")
            .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (lines, log) = (BufReader::new(child.stderr.take().unwrap()), stderr.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(address) = line.strip_prefix("airlock: serving on ") {
                    let _ = tx.send(address.to_owned());
                }
            }
        });
        let mut addresses = Vec::new();
        let expected = args.iter().filter(|a| **a == "--listen").count().max(1);
        while addresses.len() < expected {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(address) => addresses.push(address),
                Err(_) => panic!("the server did not start: {}", stderr.lock().unwrap()),
            }
        }
        Served {
            dir: dir.to_path_buf(),
            child: Some(child),
            addresses,
            stderr,
        }
    }

    fn target(&self, i: usize) -> Target {
        let address = &self.addresses[i];
        match address.strip_prefix("unix:") {
            Some(path) => Target::Unix(self.dir.join(path)),
            None => Target::Tcp(address.strip_prefix("tcp:").unwrap().parse().unwrap()),
        }
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// SIGTERM, and the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

#[derive(Clone, Debug)]
enum Target {
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

/// What came back.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

fn request(method: Method, path: &str, token: Option<&str>, body: &str) -> Request<Full<Bytes>> {
    let mut r = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("content-type", "application/json");
    if let Some(token) = token {
        r = r.header("authorization", format!("Bearer {token}"));
    }
    r.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

async fn send_on<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Answer, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

async fn send(target: &Target, request: Request<Full<Bytes>>) -> Result<Answer, String> {
    match target {
        Target::Unix(path) => {
            let s = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| e.to_string())?;
            send_on(s, request).await
        }
        Target::Tcp(addr) => {
            let s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            send_on(s, request).await
        }
    }
}

async fn get(target: &Target, path: &str, token: Option<&str>) -> Answer {
    send(target, request(Method::GET, path, token, ""))
        .await
        .unwrap()
}

async fn invoke(target: &Target, action: &str, body: &str, token: Option<&str>) -> Answer {
    let path = format!("/v1/actions/{action}/invoke");
    send(target, request(Method::POST, &path, token, body))
        .await
        .unwrap()
}

/// The log's records; read while a server writes, so a last line that has
/// no newline yet (an append under way) is not one.
fn records(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("airlock-audit.jsonl"))
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn runs_started(dir: &Path) -> usize {
    records(dir)
        .iter()
        .filter(|r| r["event"] == "run.start")
        .count()
}

fn verify(dir: &Path) {
    let out = airlock(dir, &["audit", "verify", "airlock-audit.jsonl"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The response `answer` to `method path` is one the OpenAPI document
/// describes: its status is listed, and its JSON body has every required
/// field of the schema and no field the schema does not name.
fn conforms(openapi: &Value, template: &str, method: &str, answer: &Answer) {
    let operation = &openapi["paths"][template][method];
    let status = answer.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which openapi.json does not list"
    );
    let Some((_, media)) = response["content"]
        .as_object()
        .and_then(|c| c.iter().next())
    else {
        return;
    };
    let mut schema = &media["schema"];
    if let Some(r) = schema["$ref"].as_str() {
        schema = &openapi["components"]["schemas"][r.rsplit('/').next().unwrap()];
    }
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let body = answer.json();
    let fields = body.as_object().unwrap();
    for required in schema["required"].as_array().into_iter().flatten() {
        let required = required.as_str().unwrap();
        assert!(
            fields.contains_key(required),
            "{method} {template} {status}: no `{required}` in {body}"
        );
    }
    for field in fields.keys() {
        assert!(
            properties.contains_key(field),
            "{method} {template} {status}: `{field}` is not in openapi.json: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_api_over_a_unix_socket() {
    let dir = setup();
    let mut served = Served::start(dir.path(), &[]);
    let target = served.target(0);
    let Target::Unix(socket) = target.clone() else {
        unreachable!()
    };
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the server's user may connect");

    let openapi = get(&target, "/v1/openapi.json", None).await;
    assert_eq!(openapi.status, StatusCode::OK);
    let document = openapi.json();
    let in_repo: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../serve/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(document, in_repo);
    assert_eq!(document["openapi"], "3.1.0");

    for (path, template) in [
        ("/healthz", "/healthz"),
        ("/readyz", "/readyz"),
        ("/v1/actions", "/v1/actions"),
    ] {
        let a = get(&target, path, None).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        conforms(&document, template, "get", &a);
    }
    let listed = get(&target, "/v1/actions", None).await.json();
    let names: Vec<&str> = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hello", "probe"]);

    let hello = get(&target, "/v1/actions/hello", None).await;
    assert_eq!(hello.status, StatusCode::OK);
    conforms(&document, "/v1/actions/{name}", "get", &hello);
    assert!(
        hello.json()["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        hello.json()["grant"]["limits"].is_object(),
        "{}",
        hello.json()
    );

    // A run: the outcome document, the caller in its run.start.
    let ok = invoke(&target, "hello", r#"{"input": {"name": "Ada"}}"#, None).await;
    assert_eq!(ok.status, StatusCode::OK);
    conforms(&document, "/v1/actions/{name}/invoke", "post", &ok);
    let outcome = ok.json();
    assert_eq!(outcome["status"], "ok");
    assert_eq!(outcome["output"]["greeting"], "Hello, Ada!");
    let run = outcome["run"].as_str().unwrap();
    let start = records(dir.path())
        .into_iter()
        .find(|r| r["event"] == "run.start" && r["run"] == run)
        .unwrap();
    let uid = my_uid();
    assert_eq!(start["caller"], format!("unix:uid={uid}"));

    // Endings that are not ok: each answered, each with its code.
    let started = runs_started(dir.path());
    let cases: &[(&str, &str, StatusCode, &str)] = &[
        (
            "nope",
            r#"{"input": {}}"#,
            StatusCode::NOT_FOUND,
            "unknown_action",
        ),
        (
            "hello",
            r#"{"input": {"name": "x"}, "extra": 1}"#,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "hello",
            r#"{"input": "#,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            "hello",
            r#"{"input": {}, "timeout": "soon"}"#,
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        ("hello", "", StatusCode::BAD_REQUEST, "bad_json"),
    ];
    for (action, body, status, code) in cases {
        let a = invoke(&target, action, body, None).await;
        assert_eq!(
            (a.status, a.json()["code"].as_str()),
            (*status, Some(*code)),
            "{body}: {}",
            a.json()
        );
        conforms(&document, "/v1/actions/{name}/invoke", "post", &a);
    }
    let big = format!(r#"{{"input": "{}"}}"#, "x".repeat(200 * 1024));
    let a = invoke(&target, "hello", &big, None).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    conforms(&document, "/v1/actions/{name}/invoke", "post", &a);
    assert_eq!(
        runs_started(dir.path()),
        started,
        "nothing ran for a refused request"
    );

    // Paths that are not plain, and methods that are not taken.
    for path in [
        "/v1/actions/../actions",
        "/v1/actions/%68ello/invoke",
        "/v1/actions/hello%2Finvoke",
        "/v1//actions",
        "/v1/actions/./hello",
    ] {
        let a = send(
            &target,
            request(Method::POST, path, None, r#"{"input": {}}"#),
        )
        .await
        .unwrap();
        assert_eq!(
            (a.status, a.json()["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_path")),
            "{path}"
        );
        assert_eq!(a.headers["content-type"], "application/problem+json");
    }
    let a = send(
        &target,
        request(Method::GET, "/v1/actions/hello/invoke", None, ""),
    )
    .await
    .unwrap();
    assert_eq!(
        (a.status, a.headers["allow"].to_str().unwrap()),
        (StatusCode::METHOD_NOT_ALLOWED, "POST")
    );
    let a = get(&target, "/v1/nothing", None).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let metrics = String::from_utf8(get(&target, "/metrics", None).await.body.to_vec()).unwrap();
    assert!(
        metrics.contains("airlock_runs_total{action=\"hello\",status=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("airlock_runs_total{action=\"-\",status=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("airlock_run_duration_seconds_count 1"),
        "{metrics}"
    );
    let appends: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("airlock_audit_append_seconds_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(appends >= 3, "the run's records were timed: {metrics}");

    let status = served.stop();
    assert!(
        status.success(),
        "{status:?}: {}",
        served.stderr.lock().unwrap()
    );
    assert!(!socket.exists(), "the socket is removed on shutdown");
    verify(dir.path());
}

fn my_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// TCP is refused unless its callers are authenticated, and in the clear
/// only on loopback; nothing runs for a caller without a good token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_needs_a_token_and_loopback_or_tls() {
    let dir = setup();
    let d = dir.path();
    let tokens = d.join("tokens");
    std::fs::write(&tokens, format!("# who may call\nci-runner {TOKEN}\n")).unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();

    let refused = |args: &[&str], why: &str| {
        let out = Command::new(AIRLOCK)
            .arg("serve")
            .args(args)
            .current_dir(d)
            .env("AIRLOCK_CACHE_DIR", "off")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.starts_with("airlock: error:"))
                .count(),
            1,
            "{stderr}"
        );
    };
    refused(
        &["--listen", "tcp:127.0.0.1:0"],
        "would let anyone who can reach it run actions",
    );
    refused(
        &["--listen", "tcp:127.0.0.1:0", "--tokens", "tokens"],
        "chmod 600",
    );
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    refused(
        &["--listen", "tcp:0.0.0.0:0", "--tokens", "tokens"],
        "not a loopback address",
    );
    refused(
        &["--listen", "tcp:[::]:0", "--tokens", "tokens"],
        "not a loopback address",
    );
    assert_eq!(runs_started(d), 0);

    let served = Served::start(d, &["--listen", "tcp:127.0.0.1:0", "--tokens", "tokens"]);
    let target = served.target(0);
    assert_eq!(
        get(&target, "/healthz", None).await.status,
        StatusCode::OK,
        "liveness needs no token"
    );
    for token in [None, Some("wrong"), Some(&TOKEN[1..])] {
        let a = invoke(&target, "hello", r#"{"input": {"name": "x"}}"#, token).await;
        assert_eq!(
            (a.status, a.json()["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
            "{token:?}"
        );
        assert!(a.headers.contains_key("www-authenticate"));
        let a = get(&target, "/v1/actions", token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        runs_started(d),
        0,
        "nothing runs for a caller without a good token"
    );
    let a = invoke(&target, "hello", r#"{"input": {"name": "x"}}"#, Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    let start = records(d)
        .into_iter()
        .find(|r| r["event"] == "run.start")
        .unwrap();
    assert_eq!(start["caller"], "ci-runner");
    assert!(
        !std::fs::read_to_string(d.join("airlock-audit.jsonl"))
            .unwrap()
            .contains(TOKEN),
        "the token itself is never recorded"
    );
}

/// TLS with client certificates: without one the handshake fails; with
/// one signed by the CA the caller is let in and recorded by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates() {
    let dir = setup();
    let d = dir.path();
    let ca = airlock_test_server::TestCa::new(d);
    let (cert, key) = ca.issue(d, "server", &["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = ca.issue(d, "client", &["ci.example"]);
    let served = Served::start(
        d,
        &[
            "--listen",
            "tcp:127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--client-ca",
            ca.pem_file().to_str().unwrap(),
        ],
    );
    let Target::Tcp(addr) = served.target(0) else {
        unreachable!()
    };

    let connector = |with_cert: bool| {
        tls_connector(
            ca.pem_file(),
            with_cert.then_some((&client_cert, &client_key)),
        )
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

    // No client certificate: no request gets through.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let without = match connector(false).connect(name.clone(), tcp).await {
        Err(_) => None,
        Ok(tls) => Some(
            send_on(
                tls,
                request(
                    Method::POST,
                    "/v1/actions/hello/invoke",
                    None,
                    r#"{"input": {}}"#,
                ),
            )
            .await,
        ),
    };
    assert!(matches!(without, None | Some(Err(_))), "{without:?}");
    assert_eq!(runs_started(d), 0);

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector(true).connect(name, tcp).await.unwrap();
    let a = send_on(
        tls,
        request(
            Method::POST,
            "/v1/actions/hello/invoke",
            None,
            r#"{"input": {"name": "x"}}"#,
        ),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::OK, "{}", a.json());
    let start = records(d)
        .into_iter()
        .find(|r| r["event"] == "run.start")
        .unwrap();
    assert!(
        start["caller"]
            .as_str()
            .unwrap()
            .starts_with("cert:CN=client sha256:"),
        "{start}"
    );
}

/// A TLS client trusting `ca`, presenting `client` (certificate and key
/// files) if given.
fn tls_connector(ca: &Path, client: Option<(&PathBuf, &PathBuf)>) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain = rustls::pki_types::CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// TLS with a bearer token, on a non-loopback-capable listener: the token
/// is required over TLS as in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_token() {
    let dir = setup();
    let d = dir.path();
    let ca = airlock_test_server::TestCa::new(d);
    let (cert, key) = ca.issue(d, "server", &["localhost"]);
    std::fs::write(d.join("tokens"), format!("engine {TOKEN}\n")).unwrap();
    std::fs::set_permissions(d.join("tokens"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let served = Served::start(
        d,
        &[
            "--listen",
            "tcp:127.0.0.1:0",
            "--tokens",
            "tokens",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let Target::Tcp(addr) = served.target(0) else {
        unreachable!()
    };
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(TOKEN), StatusCode::OK),
    ] {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tls_connector(ca.pem_file(), None)
            .connect(name.clone(), tcp)
            .await
            .unwrap();
        let body = r#"{"input": {"name": "t"}}"#;
        let a = send_on(
            tls,
            request(Method::POST, "/v1/actions/hello/invoke", token, body),
        )
        .await
        .unwrap();
        assert_eq!(a.status, status, "{}", a.json());
    }
    let callers: Vec<Value> = records(d)
        .into_iter()
        .filter(|r| r["event"] == "run.start")
        .map(|r| r["caller"].clone())
        .collect();
    assert_eq!(callers, [Value::from("engine")]);
    // In the clear, the TLS listener answers nothing.
    let plain = send(
        &served.target(0),
        request(Method::GET, "/healthz", None, ""),
    )
    .await;
    assert!(plain.is_err() || plain.unwrap().status != StatusCode::OK);
}

/// 1,000 invocations from 50 concurrent clients: each answered, each run
/// in the log exactly once, the log verifies; a full queue is told to come
/// back; a client that trickles its headers holds nobody up; HTTP/2 with
/// many streams is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_every_run_is_answered_and_recorded_once() {
    let dir = setup();
    let d = dir.path();
    let served = Served::start(d, &["--queue", "1000"]);
    let target = served.target(0);
    let baseline = rss_kib(served.pid());

    // A client that sends half a request line and then nothing.
    let Target::Unix(socket) = target.clone() else {
        unreachable!()
    };
    let mut slow = tokio::net::UnixStream::connect(&socket).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"POST /v1/actions/hello/inv")
        .await
        .unwrap();

    let clients: Vec<_> = (0..50)
        .map(|c| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut runs = Vec::new();
                for i in 0..20 {
                    let body = format!(r#"{{"input": {{"name": "c{c}-{i}"}}}}"#);
                    let a = invoke(&target, "hello", &body, None).await;
                    assert_eq!(
                        a.status,
                        StatusCode::OK,
                        "{}",
                        String::from_utf8_lossy(&a.body)
                    );
                    let outcome = a.json();
                    assert_eq!(outcome["output"]["greeting"], format!("Hello, c{c}-{i}!"));
                    runs.push(outcome["run"].as_str().unwrap().to_owned());
                }
                runs
            })
        })
        .collect();
    let mut runs = Vec::new();
    for c in clients {
        runs.extend(c.await.unwrap());
    }
    assert_eq!(runs.len(), 1000);
    let log = records(d);
    for run in &runs {
        let starts = log
            .iter()
            .filter(|r| r["event"] == "run.start" && r["run"] == run.as_str())
            .count();
        let ends = log
            .iter()
            .filter(|r| r["event"] == "run.end" && r["run"] == run.as_str())
            .count();
        assert_eq!((starts, ends), (1, 1), "run {run}");
    }
    let after = rss_kib(served.pid());
    assert!(
        after < baseline + 128 * 1024,
        "resident memory grew from {baseline} KiB to {after} KiB over 1,000 runs"
    );

    // HTTP/2, prior knowledge, 100 streams at once on one connection.
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let streams: Vec<_> = (0..100)
        .map(|_| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let r = Request::builder()
                    .uri("http://localhost/healthz")
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                sender.send_request(r).await.map(|r| r.status())
            })
        })
        .collect();
    let mut answered = 0;
    for s in streams {
        if let Ok(status) = s.await.unwrap() {
            assert_eq!(status, StatusCode::OK);
            answered += 1;
        }
    }
    assert!(answered >= 64, "{answered} of 100 streams answered");
    drop(slow);
    verify(d);
}

/// With one run slot and no queue, a second invocation while the first
/// runs is told to come back later, and nothing of it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let dir = setup();
    let d = dir.path();
    let served = Served::start(d, &["--concurrency", "1", "--queue", "0"]);
    let target = served.target(0);
    let slow = sleep_in_background(&target, 1500);
    let started = Instant::now();
    while runs_started(d) == 0 {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = invoke(&target, "hello", r#"{"input": {"name": "x"}}"#, None).await;
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("busy"))
    );
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(slow.await.unwrap().status, StatusCode::OK);
    assert_eq!(runs_started(d), 1);
}

/// SIGTERM while clients are sending: the server stops taking requests,
/// lets the runs in flight finish, seals the log and exits 0; every run
/// that started has its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_what_runs_and_seals_the_log() {
    let dir = setup();
    let d = dir.path();
    let mut served = Served::start(d, &[]);
    let target = served.target(0);
    let clients: Vec<_> = (0..20)
        .map(|c| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut answered = 0;
                for i in 0..200 {
                    let body = format!(r#"{{"input": {{"name": "c{c}-{i}"}}}}"#);
                    let path = "/v1/actions/hello/invoke";
                    match send(&target, request(Method::POST, path, None, &body)).await {
                        Ok(a) => {
                            assert_eq!(a.status, StatusCode::OK);
                            answered += 1;
                        }
                        Err(_) => break,
                    }
                }
                answered
            })
        })
        .collect();
    while runs_started(d) < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = served.stop();
    assert!(
        status.success(),
        "{status:?}: {}",
        served.stderr.lock().unwrap()
    );
    let mut answered = 0;
    for c in clients {
        answered += c.await.unwrap();
    }
    let log = records(d);
    let starts = log.iter().filter(|r| r["event"] == "run.start").count();
    let ends = log.iter().filter(|r| r["event"] == "run.end").count();
    assert_eq!(starts, ends, "every run that started has its end");
    assert!(
        answered <= starts && answered >= 50,
        "{answered} answered, {starts} ran"
    );
    verify(d);
}

/// An invocation of the probe that sleeps for `ms`, on a task of its own.
fn sleep_in_background(target: &Target, ms: u64) -> tokio::task::JoinHandle<Answer> {
    let target = target.clone();
    tokio::spawn(async move {
        let body = format!(r#"{{"input": {{"op": "sleep", "ms": {ms}}}}}"#);
        invoke(&target, "probe", &body, None).await
    })
}

/// The resident set of process `pid`, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Wait until `check` holds, for at most ten seconds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The lock without `name`'s approval.
fn withdraw(dir: &Path, name: &str) {
    let path = dir.join("airlock.lock");
    let mut lock: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let entries = lock["action"].as_array_mut().unwrap();
    entries.retain(|e| e["name"].as_str() != Some(name));
    std::fs::write(&path, toml::to_string(&lock).unwrap()).unwrap();
}

/// While requests flow: a new version approved is served without a
/// restart, a withdrawn approval stops new runs, a malformed lock is
/// refused with the old one kept (recorded, and said by /readyz and on
/// stderr), and SIGHUP reads them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_change_without_a_restart() {
    let dir = setup();
    let d = dir.path();
    let served = Served::start(d, &[]);
    let target = served.target(0);
    let flowing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flow = {
        let (target, flowing) = (target.clone(), flowing.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while flowing.load(std::sync::atomic::Ordering::Relaxed) {
                let a = invoke(&target, "hello", r#"{"input": {"name": "f"}}"#, None).await;
                assert_eq!(
                    a.status,
                    StatusCode::OK,
                    "hello stays approved: {}",
                    a.json()
                );
                n += 1;
            }
            n
        })
    };
    let probe = |target: Target| async move {
        invoke(
            &target,
            "probe",
            r#"{"input": {"op": "output", "bytes": 2}}"#,
            None,
        )
        .await
        .json()
    };
    assert_eq!(probe(target.clone()).await["version"], "1.0.0");

    // A new build of the probe: the vetted one, loaded already, is run
    // until the new one is approved; then the new one.
    let manifest = "[action]\nname = \"probe\"\nversion = \"1.1.0\"\npublisher = \"t\"\n";
    let v2 =
        airlock::rules::manifest::section::embed(&std::fs::read(PROBE).unwrap(), manifest).unwrap();
    std::fs::write(d.join("probe.wasm"), v2).unwrap();
    assert_eq!(probe(target.clone()).await["version"], "1.0.0");
    let out = airlock(d, &["approve", "probe", "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the new approval is served", async || {
        probe(target.clone()).await["version"] == "1.1.0"
    })
    .await;

    // Withdrawn: no new run.
    withdraw(d, "probe");
    eventually("the withdrawal stops new runs", async || {
        probe(target.clone()).await["code"] == "not_approved"
    })
    .await;

    // A malformed lock: refused, the lock in force stays.
    let good = std::fs::read_to_string(d.join("airlock.lock")).unwrap();
    std::fs::write(d.join("airlock.lock"), "version = 1\n[[action]\n").unwrap();
    eventually("/readyz says the reload failed", async || {
        get(&target, "/readyz", None).await.json()["code"] == "reload_failed"
    })
    .await;
    assert_eq!(probe(target.clone()).await["code"], "not_approved");
    let refusals: Vec<Value> = records(d)
        .into_iter()
        .filter(|r| r["event"] == "policy.reload" && r["decision"] == "deny")
        .collect();
    assert!(!refusals.is_empty());
    assert!(
        served.stderr.lock().unwrap().contains("was not taken"),
        "{}",
        served.stderr.lock().unwrap()
    );
    std::fs::write(d.join("airlock.lock"), good).unwrap();
    eventually("/readyz is ready again", async || {
        get(&target, "/readyz", None).await.status == StatusCode::OK
    })
    .await;

    // SIGHUP reads them again, changed or not.
    let taken = |d: &Path| {
        records(d)
            .iter()
            .filter(|r| r["event"] == "policy.reload" && r["decision"] == "allow")
            .count()
    };
    let before = taken(d);
    Command::new("kill")
        .args(["-HUP", &served.pid().to_string()])
        .status()
        .unwrap();
    eventually("SIGHUP reloads", async || taken(d) > before).await;
    assert!(
        served
            .stderr
            .lock()
            .unwrap()
            .contains("airlock: took the new policy and lock")
    );

    flowing.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(flow.await.unwrap() > 0);
    drop(served);
    verify(d);
}

/// `airlock run` on the policy a server holds: it waits as long as a run
/// may take, then is refused with a reason that says the log is held, and
/// the server's log is untouched by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airlock_run_beside_a_server_is_refused_clearly() {
    let dir = setup();
    let d = dir.path();
    let served = Served::start(d, &[]);
    let policy = std::fs::read_to_string(d.join("airlock.toml")).unwrap();
    std::fs::write(
        d.join("hasty.toml"),
        policy.replace("[limits]\n", "[limits]\ntimeout = \"300ms\"\n"),
    )
    .unwrap();
    let started = Instant::now();
    let out = airlock(
        d,
        &[
            "run",
            "hello",
            "--json",
            "--config",
            "hasty.toml",
            "--input",
            r#"{"name": "x"}"#,
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), report["code"].as_str()),
        (Some(5), Some("audit_busy")),
        "{report}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .contains("another airlock host is writing"),
        "{report}"
    );
    let a = invoke(
        &served.target(0),
        "hello",
        r#"{"input": {"name": "y"}}"#,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    drop(served);
    verify(d);
}

/// The Server-Sent Events of `GET path`, read to the end: (event, data).
async fn read_events(target: &Target, path: &str, token: Option<&str>) -> Vec<(String, Value)> {
    let request = request(Method::GET, path, token, "");
    let Target::Tcp(addr) = target else {
        unreachable!()
    };
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let mut text = String::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    text.split("\n\n")
        .filter(|block| !block.is_empty())
        .map(|block| {
            let event = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap();
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap();
            (event.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

/// A run started without waiting: its id at once, its state, its records
/// as they happen, cancelling it (recorded in its end), and nobody but its
/// caller seeing it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_without_waiting_stream_and_cancel() {
    let dir = setup();
    let d = dir.path();
    let other = "fedcba9876543210fedcba9876543210-other";
    std::fs::write(d.join("tokens"), format!("ci {TOKEN}\nother {other}\n")).unwrap();
    std::fs::set_permissions(d.join("tokens"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let served = Served::start(d, &["--listen", "tcp:127.0.0.1:0", "--tokens", "tokens"]);
    let target = served.target(0);
    let openapi = get(&target, "/v1/openapi.json", Some(TOKEN)).await.json();
    let post = |body: &'static str| {
        let target = target.clone();
        async move {
            send(
                &target,
                request(Method::POST, "/v1/runs", Some(TOKEN), body),
            )
            .await
            .unwrap()
        }
    };

    // One that finishes: its events end with its outcome.
    let a = post(r#"{"action": "hello", "input": {"name": "Ada"}}"#).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.json());
    conforms(&openapi, "/v1/runs", "post", &a);
    let id = a.json()["run"].as_str().unwrap().to_owned();
    assert_eq!(a.headers["location"], format!("/v1/runs/{id}"));
    let events = read_events(&target, &format!("/v1/runs/{id}/events"), Some(TOKEN)).await;
    let kinds: Vec<String> = events
        .iter()
        .map(|(e, d)| format!("{e}:{}", d["event"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("record:run.start"),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"record:run.end".to_owned()), "{kinds:?}");
    let (last, outcome) = events.last().unwrap();
    assert_eq!(
        (last.as_str(), outcome["status"].as_str()),
        ("end", Some("ok"))
    );
    assert_eq!(outcome["run"], id.as_str());
    let state = get(&target, &format!("/v1/runs/{id}"), Some(TOKEN)).await;
    conforms(&openapi, "/v1/runs/{id}", "get", &state);
    assert_eq!(state.json()["state"], "finished");
    assert_eq!(state.json()["outcome"]["output"]["greeting"], "Hello, Ada!");
    // Late readers get the whole story too.
    assert_eq!(
        read_events(&target, &format!("/v1/runs/{id}/events"), Some(TOKEN))
            .await
            .len(),
        events.len()
    );

    // Another caller does not see it.
    for path in [format!("/v1/runs/{id}"), format!("/v1/runs/{id}/events")] {
        let a = get(&target, &path, Some(other)).await;
        assert_eq!(
            (a.status, a.json()["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("unknown_run"))
        );
    }
    let a = send(
        &target,
        request(Method::DELETE, &format!("/v1/runs/{id}"), Some(other), ""),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = send(
        &target,
        request(Method::DELETE, &format!("/v1/runs/{id}"), Some(TOKEN), ""),
    )
    .await
    .unwrap();
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished"))
    );

    // One that would sleep for a minute, cancelled while its events stream.
    let a = post(r#"{"action": "probe", "input": {"op": "sleep", "ms": 60000}}"#).await;
    let id = a.json()["run"].as_str().unwrap().to_owned();
    let reading = {
        let (target, path) = (target.clone(), format!("/v1/runs/{id}/events"));
        tokio::spawn(async move { read_events(&target, &path, Some(TOKEN)).await })
    };
    eventually("the run starts", async || {
        get(&target, &format!("/v1/runs/{id}"), Some(TOKEN))
            .await
            .json()["state"]
            == "running"
    })
    .await;
    let started = Instant::now();
    let a = send(
        &target,
        request(Method::DELETE, &format!("/v1/runs/{id}"), Some(TOKEN), ""),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::ACCEPTED);
    conforms(&openapi, "/v1/runs/{id}", "delete", &a);
    let events = reading.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelled at once"
    );
    let (last, outcome) = events.last().unwrap();
    assert_eq!(
        (last.as_str(), outcome["code"].as_str()),
        ("end", Some("cancelled")),
        "{outcome}"
    );
    let end = records(d)
        .into_iter()
        .find(|r| r["event"] == "run.end" && r["run"] == id.as_str())
        .unwrap();
    assert_eq!(end["outcome"], "cancelled");
    verify(d);
}

/// SIGTERM with a run that would outlast the grace: the run is cancelled,
/// its end says so, and the server exits 0 with the log sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cancels_what_outlasts_the_grace() {
    let dir = setup();
    let d = dir.path();
    let mut served = Served::start(d, &["--grace", "300ms"]);
    let target = served.target(0);
    let slow = sleep_in_background(&target, 60000);
    eventually("the run starts", async || runs_started(d) == 1).await;
    let started = Instant::now();
    let status = served.stop();
    assert!(
        status.success(),
        "{status:?}: {}",
        served.stderr.lock().unwrap()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let answer = slow.await.unwrap();
    assert_eq!(answer.json()["code"], "cancelled");
    let end = records(d)
        .into_iter()
        .find(|r| r["event"] == "run.end")
        .unwrap();
    assert_eq!(end["outcome"], "cancelled");
    verify(d);
}

/// A client that goes away in the middle of a run does not cut the run
/// short of its end; a run cancelled while it waits for a slot never
/// starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_end_whatever_their_callers_do() {
    let dir = setup();
    let d = dir.path();
    let served = Served::start(d, &["--concurrency", "1"]);
    let target = served.target(0);
    let gone = sleep_in_background(&target, 800);
    eventually("the run starts", async || runs_started(d) == 1).await;
    gone.abort();
    let _ = gone.await;
    eventually("the run of the client that went away ends", async || {
        records(d).iter().any(|r| r["event"] == "run.end")
    })
    .await;

    // One slot: a second run waits, and is cancelled while it does.
    let slow = send(
        &target,
        request(
            Method::POST,
            "/v1/runs",
            None,
            r#"{"action": "probe", "input": {"op": "sleep", "ms": 1500}}"#,
        ),
    )
    .await
    .unwrap()
    .json();
    eventually("the first holds the slot", async || runs_started(d) == 2).await;
    let queued = send(
        &target,
        request(
            Method::POST,
            "/v1/runs",
            None,
            r#"{"action": "hello", "input": {"name": "q"}}"#,
        ),
    )
    .await
    .unwrap()
    .json();
    let id = queued["run"].as_str().unwrap();
    assert_eq!(
        get(&target, &format!("/v1/runs/{id}"), None).await.json()["state"],
        "queued"
    );
    let a = send(
        &target,
        request(Method::DELETE, &format!("/v1/runs/{id}"), None, ""),
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let (last, outcome) = read_events_unix(&target, &format!("/v1/runs/{id}/events")).await;
    assert_eq!(
        (last.as_str(), outcome["code"].as_str()),
        ("end", Some("cancelled"))
    );
    assert!(outcome["run"].is_null(), "it never started: {outcome}");
    assert!(
        !records(d).iter().any(|r| r["run"] == id),
        "nothing of it is in the log"
    );
    let slow_id = slow["run"].as_str().unwrap();
    let (_, slow_outcome) = read_events_unix(&target, &format!("/v1/runs/{slow_id}/events")).await;
    assert_eq!(slow_outcome["status"], "ok");
    let metrics = String::from_utf8(get(&target, "/metrics", None).await.body.to_vec()).unwrap();
    assert!(metrics.contains("airlock_runs_in_flight 0\n"), "{metrics}");
    assert!(metrics.contains("airlock_queue_depth 0\n"), "{metrics}");
    drop(served);
    verify(d);
}

/// The last event of a run's stream over the Unix socket, and its data.
async fn read_events_unix(target: &Target, path: &str) -> (String, Value) {
    let Target::Unix(socket) = target else {
        unreachable!()
    };
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let response = sender
        .send_request(request(Method::GET, path, None, ""))
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    let event = last
        .lines()
        .find_map(|l| l.strip_prefix("event: "))
        .unwrap();
    let data = last.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    (event.to_owned(), serde_json::from_str(data).unwrap())
}
