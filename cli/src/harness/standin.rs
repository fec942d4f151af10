//! Stand-ins for the HTTP APIs an action under test calls: one plain and
//! one TLS listener on 127.0.0.1, a certificate authority made for the
//! session, and the exchanges of the case being run. The policy of each
//! run maps every stood-in host to these listeners (`[network.hosts]`) and
//! trusts the authority (`ca_certs`), so the action's requests keep their
//! origins and pass the same checks as in production.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most of a request a stand-in reads: more is answered 413.
const MAX_REQUEST: usize = 8 << 20;

/// One exchange a case expects: the request it answers, and the answer.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// `scheme://host[:port]`, as the action's manifest declares it.
    pub origin: String,
    /// The method (default GET).
    #[serde(default = "get")]
    pub method: String,
    /// The path and query the request must have.
    pub path: String,
    /// The answer's status (default 200).
    #[serde(default = "ok")]
    pub status: u16,
    /// The answer's body as text.
    #[serde(default)]
    pub body: Option<String>,
    /// The answer's body as JSON (sets `content-type: application/json`).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// The answer's headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Text the request (its headers or its body) must contain.
    #[serde(default)]
    pub request_contains: Vec<String>,
}

fn get() -> String {
    "GET".into()
}

fn ok() -> u16 {
    200
}

/// A request a stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `http` or `https`: which listener took it.
    pub scheme: &'static str,
    /// The `host` header, without a port.
    pub host: String,
    /// The method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// The head and the body, as text, for `request_contains`.
    pub text: String,
    /// The exchange that answered it, by index; `None` for none.
    pub answered_by: Option<usize>,
}

/// What the listeners share: the running case's exchanges, and what came.
#[derive(Default)]
struct State {
    exchanges: Vec<Exchange>,
    received: Vec<Received>,
}

/// The listeners, and the PEM file of the authority their TLS one uses.
pub struct StandIns {
    http: SocketAddr,
    https: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl StandIns {
    /// Listen on 127.0.0.1, with a TLS certificate for `names` from a new
    /// authority whose certificate is written to `ca_file`.
    pub fn start(names: &[String], ca_file: &std::path::Path) -> Result<StandIns, String> {
        let tls = tls_config(names, ca_file)?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let bind = || {
            TcpListener::bind("127.0.0.1:0")
                .map_err(|e| format!("cannot listen on 127.0.0.1 for the stand-ins: {e}"))
        };
        let (plain, secure) = (bind()?, bind()?);
        let addr = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
        let stand_ins = StandIns {
            http: addr(&plain)?,
            https: addr(&secure)?,
            state: state.clone(),
            stop: stop.clone(),
        };
        for (listener, tls) in [(plain, None), (secure, Some(tls))] {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || accept(&listener, tls.as_ref(), &state, &stop));
        }
        Ok(stand_ins)
    }

    /// The listener for origins of `scheme`.
    pub fn addr(&self, scheme: &str) -> SocketAddr {
        match scheme {
            "https" => self.https,
            _ => self.http,
        }
    }

    /// Answer with `exchanges` from now on; forget what came before.
    pub fn expect(&self, exchanges: Vec<Exchange>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.exchanges = exchanges;
        state.received.clear();
    }

    /// What came since [`expect`](Self::expect).
    pub fn received(&self) -> Vec<Received> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.received.clone()
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake each accept loop so it sees the flag.
        let _ = TcpStream::connect(self.http);
        let _ = TcpStream::connect(self.https);
    }
}

fn accept(
    listener: &TcpListener,
    tls: Option<&Arc<rustls::ServerConfig>>,
    state: &Arc<Mutex<State>>,
    stop: &AtomicBool,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (tls, state) = (tls.cloned(), state.clone());
        std::thread::spawn(move || {
            let _ = serve(stream, tls, &state);
        });
    }
}

fn serve(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    match tls {
        None => exchange(&mut { tcp }, "http", state),
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut stream, "https", state)?;
            stream.conn.send_close_notify();
            stream.flush()
        }
    }
}

/// Read one request, answer it from the exchanges, record it, close.
fn exchange(
    stream: &mut (impl Read + Write),
    scheme: &'static str,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let Some((head, body)) = read_request(stream)? else {
        return answer(stream, 413, &[], b"request too large for a stand-in");
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let target = first.next().unwrap_or_default().to_owned();
    let host = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.trim())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h).to_owned();
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let answered_by = state.exchanges.iter().position(|x| {
        x.method.eq_ignore_ascii_case(&method)
            && x.path == target
            && origin_parts(&x.origin).is_some_and(|(s, h)| s == scheme && h == host)
    });
    state.received.push(Received {
        scheme,
        host,
        method,
        target,
        text: format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&body)),
        answered_by,
    });
    let Some(x) = answered_by.map(|i| state.exchanges[i].clone()) else {
        drop(state);
        return answer(stream, 404, &[], b"no stand-in for this request");
    };
    drop(state);
    let mut headers: Vec<(String, String)> = x.headers.clone().into_iter().collect();
    let body = match (&x.json, &x.body) {
        (Some(json), _) => {
            headers.push(("content-type".into(), "application/json".into()));
            json.to_string().into_bytes()
        }
        (None, Some(text)) => text.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    answer(stream, x.status, &headers, &body)
}

/// The head (as text) and the body of one request; `None` when it is
/// larger than [`MAX_REQUEST`]. A chunked body is decoded.
fn read_request(stream: &mut impl Read) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_REQUEST {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let mut body = buf[head_end + 4..].to_vec();
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let complete = |body: &[u8]| match chunked {
        true => body.windows(5).any(|w| w == b"0\r\n\r\n"),
        false => body.len() >= length,
    };
    while !complete(&body) {
        if body.len() > MAX_REQUEST {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    Ok(Some((head, body)))
}

/// The data of a chunked body (as much of it as is well formed).
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|&s| s > 0) else {
            break;
        };
        let start = eol + 2;
        let Some(part) = raw.get(start..start + size) else {
            break;
        };
        data.extend_from_slice(part);
        raw = raw.get(start + size + 2..).unwrap_or_default();
    }
    data
}

fn answer(
    stream: &mut impl Write,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status} -\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// The scheme and host name of `scheme://host[:port]`.
pub fn origin_parts(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    let host = rest.split('/').next()?;
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    Some((scheme, host))
}

/// A TLS configuration with a certificate for `names`, from a new
/// authority whose certificate is written to `ca_file` as PEM.
fn tls_config(
    names: &[String],
    ca_file: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot make the stand-ins' certificates: {e}");
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| fail(&e))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "airlock test stand-ins");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(|e| fail(&e))?;
    let issuer = CertifiedIssuer::self_signed(params, ca_key).map_err(|e| fail(&e))?;
    std::fs::write(ca_file, pem(issuer.der())).map_err(|e| fail(&e))?;

    // A name is needed even when no case stands in for an HTTPS host.
    let names = match names.is_empty() {
        true => vec!["stand-in.invalid".to_owned()],
        false => names.to_vec(),
    };
    let key = KeyPair::generate().map_err(|e| fail(&e))?;
    let cert = CertificateParams::new(names)
        .and_then(|p| p.signed_by(&key, &issuer))
        .map_err(|e| fail(&e))?;
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| fail(&e))?;
    Ok(Arc::new(config))
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
