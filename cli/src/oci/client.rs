//! A small OCI distribution client: blobs and manifests over HTTP/1.1,
//! HTTPS with the web's roots (plain HTTP only to a loopback registry),
//! anonymous or with a registry's bearer token, every response bounded.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::rt::TokioIo;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The most a manifest, index or token response may be.
pub const MANIFEST_MAX: usize = 4 << 20;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a repository is: `oci://HOST[:PORT]/NAME` and a tag or digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port`.
    pub registry: String,
    /// The repository, like `acme/release-notes`.
    pub name: String,
    /// A tag, or a `sha256:…` digest.
    pub reference: String,
}

impl Reference {
    /// Parse `oci://HOST[:PORT]/NAME[:TAG|@sha256:HEX]`; `default_tag` when
    /// neither is given (`None`: one is required).
    pub fn parse(text: &str, default_tag: Option<&str>) -> Result<Reference, String> {
        let bad = |why: &str| {
            format!(
                "`{text}` is not an OCI reference like oci://registry.example.com/acme/action:1.0.0: {why}"
            )
        };
        let rest = text
            .strip_prefix("oci://")
            .ok_or_else(|| bad("it must start with oci://"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no repository name"))?;
        if registry.is_empty()
            || !registry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(bad("the registry is not a host name"));
        }
        let (name, reference) = match path.split_once('@') {
            Some((name, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("a digest is sha256:HEX"))?;
                if hex.len() != 64
                    || !hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
                {
                    return Err(bad("a digest is sha256: and 64 lowercase hex digits"));
                }
                (name, digest.to_owned())
            }
            None => match path.rsplit_once(':') {
                Some((name, tag)) => (name, tag.to_owned()),
                None => (
                    path,
                    default_tag
                        .ok_or_else(|| bad("name a tag (:TAG) or a digest (@sha256:HEX)"))?
                        .to_owned(),
                ),
            },
        };
        let name_ok = !name.is_empty()
            && name.len() <= 255
            && name.split('/').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !name_ok {
            return Err(bad(
                "the repository name is lowercase letters, digits, `.`, `_`, `-` and `/`",
            ));
        }
        let tag_ok = reference.starts_with("sha256:")
            || ((1..=128).contains(&reference.len())
                && reference
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
        if !tag_ok {
            return Err(bad("a tag is 1 to 128 letters, digits, `.`, `_` or `-`"));
        }
        Ok(Reference {
            registry: registry.to_owned(),
            name: name.to_owned(),
            reference,
        })
    }

    /// Whether it names a digest rather than a tag.
    pub fn is_digest(&self) -> bool {
        self.reference.starts_with("sha256:")
    }

    /// The same repository at `reference`.
    pub fn at(&self, reference: &str) -> Reference {
        Reference {
            reference: reference.to_owned(),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.is_digest() { '@' } else { ':' };
        write!(
            f,
            "oci://{}/{}{sep}{}",
            self.registry, self.name, self.reference
        )
    }
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A response: its status, headers and body.
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A registry, spoken to one connection per request.
pub struct Registry {
    host: String,
    port: u16,
    tls: Option<tokio_rustls::TlsConnector>,
    token: Option<String>,
}

impl Registry {
    /// The registry of `reference`: HTTPS, or plain HTTP when it is on a
    /// loopback address (`localhost`, `127.0.0.1`, `[::1]`).
    pub fn new(reference: &Reference) -> Result<Registry, String> {
        let (host, port) = match reference.registry.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (
                h.to_owned(),
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("`{p}` is not a port"))?,
                ),
            ),
            _ => (reference.registry.clone(), None),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let tls = if loopback {
            None
        } else {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("cannot set up TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        };
        let port = port.unwrap_or(if tls.is_some() { 443 } else { 80 });
        Ok(Registry {
            host,
            port,
            tls,
            token: None,
        })
    }

    fn base(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}", self.port)
    }

    /// Send one request to `path` (or an absolute URL on this registry),
    /// reading at most `limit` bytes of the answer; a `401` with a bearer
    /// challenge is answered with an anonymous token once.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        limit: usize,
    ) -> Result<Response, String> {
        let response = self
            .once(method.clone(), path, headers, body.clone(), limit)
            .await?;
        if response.status != StatusCode::UNAUTHORIZED || self.token.is_some() {
            return Ok(response);
        }
        let Some(challenge) = response.header("www-authenticate").map(str::to_owned) else {
            return Ok(response);
        };
        self.token = Some(self.anonymous_token(&challenge).await?);
        self.once(method, path, headers, body, limit).await
    }

    async fn once(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        limit: usize,
    ) -> Result<Response, String> {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base())
        };
        let uri: http::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
        // A Location may only lead back to this registry.
        if uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            != Some(self.host.as_str())
        {
            return Err(format!("the registry redirected to another host: {url}"));
        }
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header(header::HOST, format!("{}:{}", self.host, self.port))
            .header(
                header::USER_AGENT,
                concat!("airlock/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("cannot make a request: {e}"))?;
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| format!("cannot connect to {}:{}: {e}", self.host, self.port))?;
            let response = match &self.tls {
                None => exchange(TokioIo::new(tcp), request).await?,
                Some(tls) => {
                    let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                        .map_err(|_| format!("`{}` is not a TLS server name", self.host))?;
                    let stream = tls
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS with {} failed: {e}", self.host))?;
                    exchange(TokioIo::new(stream), request).await?
                }
            };
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    format!("cannot read the registry's answer (at most {limit} bytes): {e}")
                })?
                .to_bytes();
            Ok::<_, String>(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                format!(
                    "the registry did not answer within {}s",
                    REQUEST_TIMEOUT.as_secs()
                )
            })?
    }

    /// An anonymous token for a `Bearer realm=…,service=…,scope=…`
    /// challenge, from the realm on this registry's host or another HTTPS
    /// one.
    async fn anonymous_token(&self, challenge: &str) -> Result<String, String> {
        let params = challenge.strip_prefix("Bearer ").ok_or_else(|| {
            format!("the registry asks for credentials airlock does not have: {challenge}")
        })?;
        let mut realm = None;
        let mut query = Vec::new();
        for part in params.split(',') {
            let Some((key, value)) = part.trim().split_once('=') else {
                continue;
            };
            let value = value.trim_matches('"');
            match key {
                "realm" => realm = Some(value.to_owned()),
                "service" | "scope" => query.push(format!("{key}={}", value.replace(' ', "%20"))),
                _ => {}
            }
        }
        let realm = realm.ok_or("the registry's challenge names no realm")?;
        if !realm.starts_with("https://") {
            return Err(format!(
                "the registry's token service is not HTTPS: {realm}"
            ));
        }
        let url = format!("{realm}?{}", query.join("&"));
        let realm_ref = Reference {
            registry: realm
                .trim_start_matches("https://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            name: "token".into(),
            reference: "latest".into(),
        };
        let service = Registry::new(&realm_ref)?;
        let response = service
            .once(Method::GET, &url, &[], Bytes::new(), MANIFEST_MAX)
            .await?;
        if !response.status.is_success() {
            return Err(format!(
                "the registry's token service answered {}",
                response.status
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|_| "the registry's token service did not answer JSON".to_owned())?;
        json["token"]
            .as_str()
            .or_else(|| json["access_token"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| "the registry's token service gave no token".into())
    }
}

async fn exchange<S>(
    io: TokioIo<S>,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP with the registry failed: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("the registry's answer failed: {e}"))
}
