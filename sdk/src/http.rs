//! HTTP requests, over the standard `wasi:http` interface.
//!
//! A small blocking client: build a request with [`get`], [`post`] or
//! [`Request::new`], add headers and a body, [`send`](Request::send) it, and
//! read the [`Response`]'s status, headers and body (up to a cap).
//!
//! ```no_run
//! use airlock_sdk::http;
//! use airlock_sdk::Secret;
//!
//! # fn main() -> Result<(), http::Error> {
//! // The token never enters the action: the host fills the placeholder,
//! // and only for a host in the secret's `send_to`.
//! let response = http::post("https://api.github.com/repos/acme/app/statuses/abc123")
//!     .header("authorization", format!("Bearer {}", Secret::placeholder("GITHUB_TOKEN")))
//!     .header("user-agent", "acme-status")
//!     .json(&serde_json::json!({ "state": "success", "context": "airlock" }))
//!     .send()?;
//! if !response.is_success() {
//!     return Err(http::Error::status(&response));
//! }
//! # Ok(()) }
//! ```
//!
//! Every request passes the host's network check: the origin must be
//! declared in the manifest's `network`, the name must not resolve to a
//! private address, placeholders are filled only for their secret's
//! audience. A refusal is an [`Error`] of kind [`ErrorKind::Denied`]; the
//! operator sees why in the run's refusals and the audit log. The host
//! follows no redirects: a `3xx` is a response like any other.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use std::fmt;

/// How many response body bytes [`Request::send`] reads unless told
/// otherwise with [`Request::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE: usize = 1 << 20;

/// A request to build and send.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    max_response: usize,
    invalid: Option<String>,
}

/// A `GET` of `url`.
pub fn get(url: impl Into<String>) -> Request {
    Request::new("GET", url)
}

/// A `POST` to `url`.
pub fn post(url: impl Into<String>) -> Request {
    Request::new("POST", url)
}

impl Request {
    /// A request with any method (`PUT`, `DELETE`, …) to `url`, which is
    /// `http://` or `https://`, a host, an optional port, path and query.
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            max_response: DEFAULT_MAX_RESPONSE,
            invalid: None,
        }
    }

    /// Add a header. The value may hold secret placeholders.
    pub fn header(mut self, name: &str, value: impl fmt::Display) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string().into_bytes()));
        self
    }

    /// Set the body. It may hold secret placeholders.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Set a JSON body and `content-type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Request {
        match serde_json::to_vec(value) {
            Ok(body) => self.body = body,
            Err(e) => self.invalid = Some(format!("cannot encode the JSON body: {e}")),
        }
        self.header("content-type", "application/json")
    }

    /// Read at most `limit` bytes of the response body; a longer one is an
    /// error of kind [`ErrorKind::ResponseTooLarge`]. The host has its own
    /// limit (`http_response_body`), which may be lower.
    pub fn max_response_bytes(mut self, limit: usize) -> Request {
        self.max_response = limit;
        self
    }

    /// Send the request and read the whole response.
    pub fn send(self) -> Result<Response, Error> {
        if let Some(why) = self.invalid {
            return Err(Error::new(ErrorKind::Request, why));
        }
        let (scheme, authority, path) = split_url(&self.url)?;
        if cfg!(not(target_arch = "wasm32")) {
            return Err(Error::new(ErrorKind::NoHost, crate::NO_HOST));
        }
        let headers = Fields::from_list(&self.headers)
            .map_err(|e| Error::new(ErrorKind::Request, format!("bad header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let bad = |what: &str| {
            Error::new(
                ErrorKind::Request,
                format!("invalid {what} in {}", self.url),
            )
        };
        request
            .set_method(&method(&self.method))
            .map_err(|()| bad("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| bad("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| bad("host"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| bad("path"))?;
        let body = request.body().map_err(|()| bad("body"))?;

        // Hand the request over first, then write the body: the host reads
        // it while it checks the request.
        let future = outgoing_handler::handle(request, None).map_err(Error::from_code)?;
        let written = write_body(body, &self.body);
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(Error::from_code(code)),
            _ => return Err(Error::new(ErrorKind::Network, "no response")),
        };
        written?;
        read_response(response, self.max_response)
    }
}

fn method(m: &str) -> Method {
    match m.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

/// `scheme://authority/path?query` → its parts; a fragment is dropped.
fn split_url(url: &str) -> Result<(Scheme, &str, &str), Error> {
    let bad = || {
        Error::new(
            ErrorKind::Request,
            format!("`{url}` is not an http:// or https:// URL"),
        )
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(bad()),
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = if path.is_empty() { "/" } else { path };
    if authority.is_empty() {
        return Err(bad());
    }
    Ok((scheme, authority, path))
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    let failed = |what: &str| Error::new(ErrorKind::Network, format!("sending the body: {what}"));
    {
        let stream = body.write().map_err(|()| failed("no stream"))?;
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| failed(&stream_error(e)))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(Error::from_code)
}

fn read_response(response: IncomingResponse, limit: usize) -> Result<Response, Error> {
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| Error::new(ErrorKind::Network, "the response has no body"))?;
    let mut body = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| Error::new(ErrorKind::Network, "the response has no body"))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => {
                    if body.len() + chunk.len() > limit {
                        return Err(Error::new(
                            ErrorKind::ResponseTooLarge,
                            format!(
                                "the response body is larger than {limit} bytes (max_response_bytes)"
                            ),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Err(StreamError::Closed) => break,
                Err(e) => {
                    let message = stream_error(e);
                    let kind = if message.contains("body size exceeds limit") {
                        ErrorKind::ResponseTooLarge
                    } else {
                        ErrorKind::Network
                    };
                    return Err(Error::new(kind, format!("reading the response: {message}")));
                }
            }
        }
    }
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the stream is closed".into(),
        StreamError::LastOperationFailed(e) => {
            match crate::bindings::wasi::http::types::http_error_code(&e) {
                Some(code) => format!("{code:?}"),
                None => e.to_debug_string(),
            }
        }
    }
}

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (any case), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Every header, as received.
    pub fn headers(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    /// The body.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::new(ErrorKind::Body, format!("the body is not UTF-8: {e}")))
    }

    /// The body decoded from JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                ErrorKind::Body,
                format!("the body is not the JSON expected: {e}"),
            )
        })
    }
}

/// What kind of failure an [`Error`] is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request could not be built: a bad URL, header or body.
    Request,
    /// The host refused the request: an undeclared origin, a private
    /// address, a secret sent outside its audience, a limit reached.
    Denied,
    /// The request was allowed but failed: DNS, connect, TLS, HTTP.
    Network,
    /// The response body is larger than the action's or the host's limit.
    ResponseTooLarge,
    /// The body is not what was expected (not UTF-8, not the JSON asked for).
    Body,
    /// The server answered with a status that is not a success.
    Status,
    /// There is no airlock host: the code runs natively (a `cargo test`),
    /// not in a component. The request was checked, not sent.
    NoHost,
}

/// Why a request did not produce the response wanted.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// An error for a response whose status is not what was wanted.
    pub fn status(response: &Response) -> Error {
        Error::new(
            ErrorKind::Status,
            format!("the server answered {}", response.status()),
        )
    }

    fn from_code(code: ErrorCode) -> Error {
        let denied = |why: &str| {
            Error::new(
                ErrorKind::Denied,
                format!("the host refused the request: {why}"),
            )
        };
        match code {
            ErrorCode::HttpRequestDenied => {
                denied("its destination or content is not allowed (the run's refusals say why)")
            }
            ErrorCode::DestinationIpProhibited => {
                denied("its host resolves to an address actions may not reach")
            }
            ErrorCode::ConnectionLimitReached => denied("the run's http_requests limit is reached"),
            ErrorCode::HttpRequestBodySize(limit) => denied(&format!(
                "the body is larger than the http_request_body limit ({} bytes)",
                limit.unwrap_or_default()
            )),
            other => Error::new(ErrorKind::Network, format!("{other:?}")),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natively_send_checks_the_request_then_is_an_error_not_an_abort() {
        let err = post("https://api.example.com/x")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoHost, "{err}");
        let err = get("api.example.com/x").send().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Request, "{err}");
    }

    #[test]
    fn urls_split_into_parts() {
        let (s, a, p) = split_url("https://hooks.example.com/services/x?y=1#frag").unwrap();
        assert!(matches!(s, Scheme::Https));
        assert_eq!((a, p), ("hooks.example.com", "/services/x?y=1"));
        let (s, a, p) = split_url("HTTP://127.0.0.1:8080").unwrap();
        assert!(matches!(s, Scheme::Http));
        assert_eq!((a, p), ("127.0.0.1:8080", "/"));
        let (_, a, p) = split_url("http://h?q").unwrap();
        assert_eq!((a, p), ("h", "?q"));
        for bad in ["hooks.example.com/x", "ftp://x", "https:///path"] {
            assert_eq!(
                split_url(bad).unwrap_err().kind(),
                ErrorKind::Request,
                "{bad}"
            );
        }
    }
}
