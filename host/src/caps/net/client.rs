//! Sending one checked request: a TCP connection to an address that was
//! checked (never a second lookup), TLS with the request's host name for SNI
//! and certificate checks, HTTP/1.1, and one response read up to its cap.
//! No redirects, no retries, no connection reuse: a redirect is a response
//! like any other, and the action's next request is checked on its own.

use airlock_rules::net::{Destination, Host, Scheme};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, ServerName};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;

/// The TLS client configuration of a host: the Mozilla roots of
/// `webpki-roots` and the operator's `ca_certs`.
#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tls")
    }
}

impl Tls {
    /// Trust the public roots and `extra`.
    pub fn new(extra: Vec<CertificateDer<'static>>) -> Result<Tls, rustls::Error> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for cert in extra {
            roots.add(cert)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

/// How long each step may take; the whole request has its own limit.
#[derive(Copy, Clone, Debug)]
pub struct Timeouts {
    /// TCP connect and TLS handshake, per address tried.
    pub connect: Duration,
    /// From sending the request to the response's head.
    pub first_byte: Duration,
}

/// A response, read whole (or up to the cap).
#[derive(Debug)]
pub struct Reply {
    /// The address the request went to.
    pub address: SocketAddr,
    /// Status and headers.
    pub head: http::response::Parts,
    /// The body, at most the cap.
    pub body: Bytes,
    /// Whether the body was longer than the cap and cut there.
    pub cut: bool,
}

/// Why a request that was allowed did not get a response.
#[derive(Debug)]
pub enum SendError {
    /// No address accepted a connection; the last error.
    Connect(SocketAddr, std::io::Error),
    /// Connecting (or the TLS handshake) took longer than allowed.
    ConnectTimeout(SocketAddr),
    /// The TLS handshake failed.
    Tls(std::io::Error),
    /// The HTTP exchange failed.
    Http(hyper::Error),
    /// The response's head did not arrive in time.
    FirstByteTimeout,
}

impl SendError {
    /// The `wasi:http` error code the action sees.
    pub fn code(&self) -> wasmtime_wasi_http::Error {
        use wasmtime_wasi_http::Error as E;
        match self {
            SendError::Connect(_, e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                E::ConnectionRefused
            }
            SendError::Connect(..) => E::DestinationUnavailable,
            SendError::ConnectTimeout(_) => E::ConnectionTimeout,
            SendError::Tls(e) => {
                let certificate = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                    .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
                if certificate {
                    E::TlsCertificateError
                } else {
                    E::TlsProtocolError
                }
            }
            SendError::Http(e) if e.is_incomplete_message() => E::HttpResponseIncomplete,
            SendError::Http(_) => E::HttpProtocolError,
            SendError::FirstByteTimeout => E::ConnectionReadTimeout,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Connect(addr, e) => write!(f, "cannot connect to {addr}: {e}"),
            SendError::ConnectTimeout(addr) => write!(f, "connecting to {addr} timed out"),
            SendError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            SendError::Http(e) => write!(f, "HTTP exchange failed: {e}"),
            SendError::FirstByteTimeout => f.write_str("no response in time"),
        }
    }
}

/// Send `request` (its URI in origin form, its `Host` header set) to the
/// first of `addrs` that accepts a connection, and read the response body
/// up to `cap` bytes.
pub async fn send(
    tls: &Tls,
    dest: &Destination,
    addrs: &[SocketAddr],
    request: http::Request<Bytes>,
    timeouts: Timeouts,
    cap: usize,
) -> Result<Reply, SendError> {
    let (address, tcp) = connect(addrs, timeouts.connect).await?;
    match dest.scheme {
        Scheme::Http => exchange(address, tcp, request, timeouts, cap).await,
        Scheme::Https => {
            let name = match &dest.host {
                Host::Name(name) => ServerName::try_from(name.clone()).map_err(|e| {
                    SendError::Tls(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
                })?,
                Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
            };
            let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
            let stream = tokio::time::timeout(timeouts.connect, connector.connect(name, tcp))
                .await
                .map_err(|_| SendError::ConnectTimeout(address))?
                .map_err(SendError::Tls)?;
            exchange(address, stream, request, timeouts, cap).await
        }
    }
}

async fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(SocketAddr, TcpStream), SendError> {
    let mut last = None;
    for &addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok((addr, stream)),
            Ok(Err(e)) => last = Some(SendError::Connect(addr, e)),
            Err(_) => last = Some(SendError::ConnectTimeout(addr)),
        }
    }
    Err(last.unwrap_or_else(|| {
        SendError::Connect(
            SocketAddr::from(([0, 0, 0, 0], 0)),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        )
    }))
}

async fn exchange<S>(
    address: SocketAddr,
    stream: S,
    request: http::Request<Bytes>,
    timeouts: Timeouts,
    cap: usize,
) -> Result<Reply, SendError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(SendError::Http)?;
    let request = request.map(Full::new);
    let read = async move {
        let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
            .await
            .map_err(|_| SendError::FirstByteTimeout)?
            .map_err(SendError::Http)?;
        let (head, mut incoming) = response.into_parts();
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(frame) = incoming.frame().await {
            let Ok(data) = frame.map_err(SendError::Http)?.into_data() else {
                continue; // trailers are not passed on
            };
            let room = cap - body.len();
            if data.len() > room {
                body.extend_from_slice(&data[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&data);
        }
        Ok(Reply {
            address,
            head,
            body: Bytes::from(body),
            cut,
        })
    };
    // The connection future does the I/O; the exchange reads what it
    // delivers. When the connection ends first, the exchange still finishes
    // (with what arrived, or an error).
    let mut read = std::pin::pin!(read);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        biased;
        reply = &mut read => reply,
        ended = &mut conn => match read.await {
            Ok(reply) => Ok(reply),
            Err(e) => Err(ended.err().map(SendError::Http).unwrap_or(e)),
        },
    }
}
