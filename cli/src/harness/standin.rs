//! Stand-ins for the HTTP APIs an action under test calls: one plain and
//! one TLS listener on a loopback address of their own (`127.a.b.c`, not
//! `127.0.0.1`, so that allowing it reaches nothing but them), a
//! certificate authority made for the session, and the exchanges of the
//! case being run. The policy of each run maps every declared host to
//! these listeners (`[network.hosts]`) and trusts the authority
//! (`ca_certs`), so the action's requests keep their origins and pass the
//! same checks as in production.

use airlock::rules::net::{HostPattern, Origin, Scheme};
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
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

/// What the listeners share: the running case's exchanges, what came, and
/// which case it is (a connection of an earlier case is not this one's).
#[derive(Default)]
struct State {
    exchanges: Vec<Exchange>,
    received: Vec<Received>,
    case: u64,
}

/// The listeners.
pub struct StandIns {
    ip: Ipv4Addr,
    http: SocketAddr,
    https: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl StandIns {
    /// Listen on a loopback address of their own, with a TLS certificate
    /// for `names` from a new authority whose certificate is written to
    /// `ca_file`.
    pub fn start(names: &[String], ca_file: &std::path::Path) -> Result<StandIns, String> {
        let tls = tls_config(names, ca_file)?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            .to_le_bytes();
        // 127.100.0.0 to 127.199.255.254: away from 127.0.0.1, where local
        // services listen.
        let ip = Ipv4Addr::new(127, 100 + random[0] % 100, random[1], random[2].max(1));
        let bind = || {
            TcpListener::bind((ip, 0))
                .map_err(|e| format!("cannot listen on {ip} for the stand-ins: {e}"))
        };
        let (plain, secure) = (bind()?, bind()?);
        let addr = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
        let stand_ins = StandIns {
            ip,
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

    /// The address they listen on.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The listener for origins of `scheme`.
    pub fn addr(&self, scheme: Scheme) -> SocketAddr {
        match scheme {
            Scheme::Https => self.https,
            Scheme::Http => self.http,
        }
    }

    /// Answer with `exchanges` from now on; forget what came before, and
    /// ignore the connections of earlier cases.
    pub fn expect(&self, exchanges: Vec<Exchange>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.exchanges = exchanges;
        state.received.clear();
        state.case += 1;
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
        let case = state.lock().unwrap_or_else(|p| p.into_inner()).case;
        std::thread::spawn(move || {
            let _ = serve(stream, tls, &state, case);
        });
    }
}

fn serve(
    tcp: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: &Mutex<State>,
    case: u64,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    match tls {
        None => exchange(&mut { tcp }, Scheme::Http, state, case),
        Some(config) => {
            let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut stream, Scheme::Https, state, case)?;
            stream.conn.send_close_notify();
            stream.flush()
        }
    }
}

/// Read one request, answer it from the exchanges of case `case`, record
/// it, close.
fn exchange(
    stream: &mut (impl Read + Write),
    scheme: Scheme,
    state: &Mutex<State>,
    case: u64,
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
    let host = host_name(host);
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if state.case != case {
        // A connection of an earlier case: neither answered nor counted.
        drop(state);
        return answer(stream, 503, &[], b"this case is over");
    }
    let answered_by = state.exchanges.iter().position(|x| {
        x.method.eq_ignore_ascii_case(&method)
            && x.path == target
            && Origin::parse(&x.origin).is_ok_and(|o| {
                o.scheme == scheme && matches!(&o.host, HostPattern::Name(n) if *n == host)
            })
    });
    state.received.push(Received {
        scheme: scheme.as_str(),
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
    loop {
        let done = match chunked {
            true => match dechunk(&body) {
                Chunked::Done(data) => return Ok(Some((head, data))),
                Chunked::Malformed => return Ok(Some((head, Vec::new()))),
                Chunked::Partial => false,
            },
            false => body.len() >= length,
        };
        if done {
            body.truncate(length);
            return Ok(Some((head, body)));
        }
        if body.len() > MAX_REQUEST {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// A chunked body so far.
#[derive(Debug, PartialEq)]
enum Chunked {
    /// Whole: its data.
    Done(Vec<u8>),
    /// More is to come.
    Partial,
    /// Not chunked encoding.
    Malformed,
}

/// Decode `raw` from its start: chunks, the last (empty) chunk, trailers,
/// and the empty line that ends them.
fn dechunk(raw: &[u8]) -> Chunked {
    let line_end = |from: usize| {
        raw.get(from..)?
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| from + i)
    };
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let Some(eol) = line_end(at) else {
            return Chunked::Partial;
        };
        let size = std::str::from_utf8(&raw[at..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return Chunked::Malformed;
        };
        at = eol + 2;
        if size == 0 {
            // Trailers, each a line, until an empty one.
            loop {
                let Some(eol) = line_end(at) else {
                    return Chunked::Partial;
                };
                if eol == at {
                    return Chunked::Done(data);
                }
                at = eol + 2;
            }
        }
        let Some(end) = at.checked_add(size) else {
            return Chunked::Malformed;
        };
        match raw.get(end..end + 2) {
            None => return Chunked::Partial,
            Some(b"\r\n") => {}
            Some(_) => return Chunked::Malformed,
        }
        data.extend_from_slice(&raw[at..end]);
        at = end + 2;
    }
}

/// The host name of a `host` header: without its port, and without the
/// brackets of an IPv6 address.
fn host_name(header: &str) -> String {
    let host = match header.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => header.rsplit_once(':').map_or(header, |(h, _)| h),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded_whole_or_waited_for() {
        let cases: [(&[u8], Chunked); 7] = [
            (b"5\r\nhello\r\n0\r\n\r\n", Chunked::Done(b"hello".to_vec())),
            // Data that looks like the last chunk is data.
            (
                b"7\r\n0\r\n\r\nab\r\n0\r\n\r\n",
                Chunked::Done(b"0\r\n\r\nab".to_vec()),
            ),
            (
                b"a;ext=1\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n",
                Chunked::Done(b"0123456789".to_vec()),
            ),
            (b"5\r\nhel", Chunked::Partial),
            (b"5\r\nhello\r\n0\r\nx-trailer: 1\r\n", Chunked::Partial),
            (b"zz\r\nhello\r\n", Chunked::Malformed),
            (b"ffffffffffffffff\r\nx\r\n", Chunked::Malformed),
        ];
        for (raw, want) in cases {
            assert_eq!(dechunk(raw), want, "{}", String::from_utf8_lossy(raw));
        }
        assert_eq!(dechunk(b"3\r\nhelloXX"), Chunked::Malformed);
    }

    #[test]
    fn host_headers_name_the_host() {
        for (header, host) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.com:8443", "api.example.com"),
            ("api.example.com.", "api.example.com"),
            ("[::1]", "::1"),
            ("[::1]:80", "::1"),
        ] {
            assert_eq!(host_name(header), host, "{header}");
        }
    }
}
