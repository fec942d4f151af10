//! `probe`: a test action that performs the operations its input lists and
//! reports what each one returned, so tests can watch the host refuse,
//! allow and record. It has no manifest of its own; tests pack one.

use airlock_sdk::http;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum Op {
    Read {
        path: String,
    },
    Write {
        path: String,
        data: String,
    },
    /// Open for writing without truncating, and append.
    Append {
        path: String,
        data: String,
    },
    /// What a path names (its metadata, following symlinks): `"file"`,
    /// `"dir"` or `"other"`.
    Stat {
        path: String,
    },
    Readlink {
        path: String,
    },
    /// A hard link `to` naming the file `from`.
    Link {
        from: String,
        to: String,
    },
    Remove {
        path: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Mkdir {
        path: String,
    },
    List {
        path: String,
    },
    Secret {
        name: String,
    },
    SecretLength {
        name: String,
    },
    Config {
        name: String,
    },
    Print {
        stdout: String,
        stderr: String,
    },
    Log {
        message: String,
    },
    Alloc {
        mib: u64,
    },
    Spin,
    Sleep {
        ms: u64,
    },
    Output {
        bytes: usize,
    },
    Env,
    Counter,
    Http {
        url: String,
        #[serde(default = "get")]
        method: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
        #[serde(default)]
        body: String,
        #[serde(default)]
        max: Option<usize>,
        /// Follow up to this many redirects, each a new request.
        #[serde(default)]
        follow: u8,
    },
    /// A request built with the raw `wasi:http` calls, so a test can send
    /// what the SDK would refuse to build; each step's refusal is reported.
    RawHttp {
        scheme: String,
        authority: String,
        #[serde(default = "root")]
        path: String,
        #[serde(default = "get")]
        method: String,
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// No body at all when absent.
        #[serde(default)]
        body: Option<String>,
    },
    /// Run `ops`, then look through everything they returned for a value
    /// given only by its SHA-256 and length — so the value itself is never
    /// in the probe unless something handed it over.
    Scan {
        sha256: String,
        len: usize,
        ops: Vec<Op>,
    },
    Tcp {
        addr: String,
    },
    Dns {
        host: String,
    },
    /// Read exposed secret `name`, then run `ops` with `{{value}}`,
    /// `{{upper}}`, `{{lower}}`, `{{hex}}` and `{{pct}}` (every byte
    /// percent-encoded) in their strings replaced by those forms of it.
    WithSecret {
        name: String,
        ops: Vec<Op>,
    },
    Panic {
        message: String,
    },
    Fail {
        message: String,
    },
    /// Count this call in the file `path` (on a read-write mount) and fail
    /// while the count is at most `failures`: a flaky upstream, for retries.
    Flaky {
        path: String,
        failures: u64,
    },
    Many {
        ops: Vec<Op>,
    },
}

/// Survives between calls only if the instance does.
static CALLS: AtomicU64 = AtomicU64::new(0);

fn io<T: Into<Value>>(r: std::io::Result<T>) -> Value {
    match r {
        Ok(v) => json!({ "ok": v.into() }),
        Err(e) => json!({ "err": e.to_string(), "kind": format!("{:?}", e.kind()) }),
    }
}

fn run(op: Op) -> Result<Value, String> {
    CALLS.fetch_add(1, Ordering::SeqCst);
    apply(op)
}

fn apply(op: Op) -> Result<Value, String> {
    Ok(match op {
        Op::Read { path } => io(std::fs::read_to_string(path)),
        Op::Write { path, data } => io(std::fs::write(path, data).map(|()| Value::Null)),
        Op::Append { path, data } => io(std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, data.as_bytes()))
            .map(|()| Value::Null)),
        Op::Stat { path } => io(std::fs::metadata(path).map(|m| {
            if m.is_file() {
                "file"
            } else if m.is_dir() {
                "dir"
            } else {
                "other"
            }
        })),
        Op::Readlink { path } => io(std::fs::read_link(path).map(|p| p.display().to_string())),
        Op::Link { from, to } => io(std::fs::hard_link(from, to).map(|()| Value::Null)),
        Op::Remove { path } => io(std::fs::remove_file(path).map(|()| Value::Null)),
        Op::Rename { from, to } => io(std::fs::rename(from, to).map(|()| Value::Null)),
        Op::Mkdir { path } => io(std::fs::create_dir(path).map(|()| Value::Null)),
        Op::List { path } => io(std::fs::read_dir(path).and_then(|entries| {
            let mut names = entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()?;
            names.sort();
            Ok(names)
        })),
        Op::Secret { name } => match airlock_sdk::secrets::get(&name) {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "err": e.to_string() }),
        },
        Op::SecretLength { name } => match airlock_sdk::secrets::get(&name) {
            Ok(v) => json!({ "ok": v.len() }),
            Err(e) => json!({ "err": e.to_string() }),
        },
        Op::Config { name } => match airlock_sdk::config::get(&name) {
            Ok(v) => json!({ "ok": v }),
            Err(e) => json!({ "err": e.to_string() }),
        },
        Op::Print { stdout, stderr } => {
            print!("{stdout}");
            eprint!("{stderr}");
            Value::Null
        }
        Op::Log { message } => {
            airlock_sdk::log::info(&message);
            Value::Null
        }
        Op::Alloc { mib } => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for i in 0..mib {
                blocks.push(vec![i as u8; 1 << 20]);
            }
            json!({ "ok": blocks.len() })
        }
        Op::Spin => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        Op::Sleep { ms } => {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Value::Null
        }
        Op::Output { bytes } => Value::String("x".repeat(bytes)),
        Op::Env => json!({
            "vars": std::env::vars().collect::<Vec<_>>(),
            "args": std::env::args().collect::<Vec<_>>(),
            "cwd": std::env::current_dir().ok().map(|p| p.display().to_string()),
            "root": std::fs::read_dir("/").map(|d| d.count()).map_err(|e| e.to_string()),
        }),
        Op::Counter => json!({ "ok": CALLS.load(Ordering::SeqCst) }),
        Op::Http {
            url,
            method,
            headers,
            body,
            max,
            follow,
        } => send(&url, &method, &headers, body, max, follow),
        Op::RawHttp {
            scheme,
            authority,
            path,
            method,
            headers,
            body,
        } => raw_http(&scheme, &authority, &path, &method, &headers, body),
        Op::Scan { sha256, len, ops } => {
            let results = Value::Array(ops.into_iter().map(apply).collect::<Result<_, _>>()?);
            let received = results.to_string();
            json!({ "found": holds(received.as_bytes(), &sha256, len), "results": results })
        }
        Op::Tcp { addr } => io(std::net::TcpStream::connect(addr).map(|_| Value::Null)),
        Op::Dns { host } => {
            io(std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 80)).map(|a| a.count()))
        }
        Op::WithSecret { name, ops } => {
            let value = airlock_sdk::secrets::get(&name).map_err(|e| e.to_string())?;
            let pct: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
            let text = serde_json::to_string(&ops)
                .map_err(|e| e.to_string())?
                .replace("{{value}}", &value)
                .replace("{{upper}}", &value.to_uppercase())
                .replace("{{lower}}", &value.to_lowercase())
                .replace("{{hex}}", &hex)
                .replace("{{pct}}", &pct);
            let ops: Vec<Op> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            Value::Array(ops.into_iter().map(apply).collect::<Result<_, _>>()?)
        }
        Op::Panic { message } => panic!("{message}"),
        Op::Fail { message } => return Err(message),
        Op::Flaky { path, failures } => {
            let count = |e: std::io::Error| format!("flaky: cannot count calls in {path}: {e}");
            std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"."))
                .map_err(count)?;
            let calls = std::fs::metadata(&path).map_err(count)?.len();
            if calls <= failures {
                return Err(format!(
                    "flaky: call {calls} fails (the first {failures} do)"
                ));
            }
            json!({ "ok": calls })
        }
        Op::Many { ops } => Value::Array(ops.into_iter().map(apply).collect::<Result<_, _>>()?),
    })
}

fn get() -> String {
    "GET".into()
}

fn root() -> String {
    "/".into()
}

/// A request through the raw `wasi:http` calls: `{"status": …}`, or the
/// step that was refused (`header`, `scheme`, `authority`, `path`,
/// `method`, `handle`, `body`, `response`) and its error.
fn raw_http(
    scheme: &str,
    authority: &str,
    path: &str,
    method: &str,
    headers: &[(String, String)],
    body: Option<String>,
) -> Value {
    use airlock_sdk::bindings::wasi::http::outgoing_handler;
    use airlock_sdk::bindings::wasi::http::types::{
        Fields, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    let refused = |step: &str, err: String| json!({ "step": step, "err": err });
    let fields = Fields::new();
    for (name, value) in headers {
        if let Err(e) = fields.append(name, value.as_bytes()) {
            return refused("header", format!("{e:?}"));
        }
    }
    let request = OutgoingRequest::new(fields);
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        other => Method::Other(other.to_owned()),
    };
    if request.set_method(&method).is_err() {
        return refused("method", String::new());
    }
    if request.set_scheme(Some(&scheme)).is_err() {
        return refused("scheme", String::new());
    }
    if request.set_authority(Some(authority)).is_err() {
        return refused("authority", String::new());
    }
    if request.set_path_with_query(Some(path)).is_err() {
        return refused("path", String::new());
    }
    let outgoing = match body {
        Some(_) => request.body().ok(),
        None => None,
    };
    let future = match outgoing_handler::handle(request, None) {
        Ok(future) => future,
        Err(code) => return refused("handle", format!("{code:?}")),
    };
    let mut finished = Ok(());
    if let (Some(outgoing), Some(text)) = (outgoing, body) {
        if let Ok(stream) = outgoing.write() {
            let _ = stream.blocking_write_and_flush(text.as_bytes());
        }
        finished = OutgoingBody::finish(outgoing, None);
    }
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => json!({ "status": response.status() }),
        Some(Ok(Err(code))) => refused("response", format!("{code:?}")),
        _ => match finished {
            Err(code) => refused("body", format!("{code:?}")),
            Ok(()) => refused("response", "no response".into()),
        },
    }
}

/// A request through `airlock_sdk::http`, reporting status, headers and
/// body, or the error; redirects are followed only as new requests.
fn send(
    url: &str,
    method: &str,
    headers: &[(String, String)],
    body: String,
    max: Option<usize>,
    follow: u8,
) -> Value {
    let mut request = http::Request::new(method, url).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    if let Some(max) = max {
        request = request.max_response_bytes(max);
    }
    match request.send() {
        Err(e) => json!({ "err": e.to_string(), "kind": format!("{:?}", e.kind()) }),
        Ok(r) => {
            let headers: Vec<(String, String)> = r
                .headers()
                .iter()
                .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            let mut out = json!({
                "status": r.status(),
                "headers": headers,
                "body": String::from_utf8_lossy(r.bytes()),
            });
            if let (true, Some(location)) = (follow > 0, r.header("location")) {
                out["next"] = send(location, "GET", &[], String::new(), max, follow - 1);
            }
            out
        }
    }
}

/// Whether any `len`-byte window of `bytes` has the SHA-256 `sha256` (hex).
fn holds(bytes: &[u8], sha256: &str, len: usize) -> bool {
    len > 0
        && bytes.len() >= len
        && bytes.windows(len).any(|w| {
            let digest = Sha256::digest(w);
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                == sha256
        })
}

airlock_sdk::export_run!(run);
