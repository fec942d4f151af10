//! `probe`: a test action that performs the operations its input lists and
//! reports what each one returned, so tests can watch the host refuse,
//! allow and record. It has no manifest of its own; tests pack one.

use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
enum Op {
    Read { path: String },
    Write { path: String, data: String },
    Remove { path: String },
    Rename { from: String, to: String },
    Mkdir { path: String },
    List { path: String },
    Secret { name: String },
    SecretLength { name: String },
    Print { stdout: String, stderr: String },
    Log { message: String },
    Alloc { mib: u64 },
    Spin,
    Sleep { ms: u64 },
    Output { bytes: usize },
    Env,
    Counter,
    Http { url: String },
    Tcp { addr: String },
    Dns { host: String },
    Panic { message: String },
    Fail { message: String },
    Many { ops: Vec<Op> },
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
        Op::Http { url } => http_get(&url),
        Op::Tcp { addr } => io(std::net::TcpStream::connect(addr).map(|_| Value::Null)),
        Op::Dns { host } => io(std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), 80)).map(|a| a.count())),
        Op::Panic { message } => panic!("{message}"),
        Op::Fail { message } => return Err(message),
        Op::Many { ops } => Value::Array(ops.into_iter().map(apply).collect::<Result<_, _>>()?),
    })
}

/// A GET through `wasi:http`, reporting the status or the error code.
fn http_get(url: &str) -> Value {
    use airlock_sdk::bindings::wasi::http::outgoing_handler;
    use airlock_sdk::bindings::wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "http" { Scheme::Http } else { Scheme::Https };
    if request.set_scheme(Some(&scheme)).is_err()
        || request.set_authority(Some(authority)).is_err()
        || request.set_path_with_query(Some(path)).is_err()
    {
        return json!({ "err": "invalid url" });
    }
    match outgoing_handler::handle(request, None) {
        Err(e) => json!({ "err": format!("{e:?}") }),
        Ok(future) => {
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(response))) => json!({ "ok": response.status() }),
                Some(Ok(Err(e))) => json!({ "err": format!("{e:?}") }),
                other => json!({ "err": format!("{other:?}") }),
            }
        }
    }
}

airlock_sdk::export_run!(run);
