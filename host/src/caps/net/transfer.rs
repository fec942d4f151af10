//! The bytes of one request and one response as the choke point handles
//! them: the action's request read whole (so it can be checked and its
//! placeholders filled), and the response handed back whole, cut at its
//! limit and with unexposed secrets' values taken out.

use super::client::Reply;
use super::headers;
use super::placeholder::{self, Found};
use super::record::Report;
use super::{RunSecret, Stop};
use crate::caps::secrets::Forms;
use airlock_rules::net::Destination;
use airlock_rules::units::ByteSize;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, HeaderValue, TRANSFER_ENCODING};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::task::{Context, Poll};
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// Read the action's request body, refusing it beyond `limit`, and unless
/// it is as long as the `Content-Length` the action `declared`
/// (wasi-http aborts a body that ends short of its declared length).
pub(super) async fn read_body(
    mut body: WasiBody,
    limit: ByteSize,
    declared: Option<u64>,
) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match headers::check_length(declared, out.len()) {
            Err(why) => Stop::deny(why, HttpError::HttpRequestDenied),
            Ok(()) => Stop::fail(
                format!("the action's request body failed: {e}"),
                HttpError::HttpProtocolError,
            ),
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not sent
        };
        if (out.len() + data.len()) as u64 > limit.0 {
            return Err(Stop::deny(
                format!("the request body is larger than the http_request_body limit of {limit}"),
                HttpError::HttpRequestBodySize(Some(limit.0)),
            ));
        }
        out.extend_from_slice(&data);
    }
    headers::check_length(declared, out.len())
        .map_err(|why| Stop::deny(why, HttpError::HttpRequestDenied))?;
    Ok(out)
}

/// A request on its way out: what the action wrote, then filled.
pub(super) struct Outgoing {
    method: http::Method,
    path_and_query: String,
    headers: http::HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Outgoing {
    pub(super) fn new(parts: &http::request::Parts, body: Vec<u8>) -> Outgoing {
        Outgoing {
            method: parts.method.clone(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned(),
            headers: parts.headers.clone(),
            body,
        }
    }

    /// The parts a placeholder may be in: (where, bytes).
    fn places(&self) -> impl Iterator<Item = (String, &[u8])> {
        let url = std::iter::once(("the URL".to_owned(), self.path_and_query.as_bytes()));
        let headers = self.headers.iter().flat_map(|(name, value)| {
            [
                (format!("header `{name}`"), name.as_str().as_bytes()),
                (format!("header `{name}`"), value.as_bytes()),
            ]
        });
        let body = std::iter::once(("the body".to_owned(), &self.body[..]));
        url.chain(headers).chain(body)
    }

    /// The names of the secrets whose placeholders the request carries,
    /// for its record, whatever else is wrong with it.
    pub(super) fn carried(&self) -> Vec<String> {
        placeholder::names(self.places().map(|(_, bytes)| bytes))
    }

    /// The names of the secrets whose placeholders the request holds,
    /// sorted, each once; an error for text that only looks like one.
    pub(super) fn placeholders(&self) -> Result<Vec<String>, String> {
        let mut names = BTreeSet::new();
        for (_, bytes) in self.places() {
            names.extend(placeholder::find(bytes)?.into_iter().map(|f| f.name));
        }
        Ok(names.into_iter().collect())
    }

    /// Fill every placeholder with `value(name)`.
    pub(super) fn substitute<'v>(
        &mut self,
        value: &dyn Fn(&str) -> &'v [u8],
    ) -> Result<(), String> {
        let fill = |bytes: &[u8], found: &[Found]| placeholder::substitute(bytes, found, value);
        let found = placeholder::find(self.path_and_query.as_bytes())?;
        if !found.is_empty() {
            let filled = fill(self.path_and_query.as_bytes(), &found);
            self.path_and_query = std::str::from_utf8(&filled)
                .ok()
                .filter(|pq| http::uri::PathAndQuery::try_from(*pq).is_ok())
                .ok_or_else(|| {
                    "a secret's value has characters a URL cannot carry: store it percent-encoded in the policy's source".to_owned()
                })?
                .to_owned();
        }
        for value_ref in self.headers.values_mut() {
            let found = placeholder::find(value_ref.as_bytes())?;
            if found.is_empty() {
                continue;
            }
            let mut filled = HeaderValue::from_bytes(&fill(value_ref.as_bytes(), &found))
                .map_err(|_| "a secret's value has characters a header cannot carry".to_owned())?;
            filled.set_sensitive(true);
            *value_ref = filled;
        }
        let found = placeholder::find(&self.body)?;
        if !found.is_empty() {
            self.body = fill(&self.body, &found).to_vec();
        }
        Ok(())
    }

    /// The first form of `forms` in the request, and where.
    pub(super) fn find(&self, forms: &Forms) -> Option<(&'static str, String)> {
        self.places()
            .find_map(|(place, bytes)| forms.find_in(bytes).map(|form| (form, place)))
    }

    /// The request as it goes on the wire: origin-form URI, `Host` from
    /// the checked destination, the length of the body as it is now.
    pub(super) fn into_request(self, dest: &Destination) -> Result<http::Request<Bytes>, Stop> {
        let mut builder = http::Request::builder()
            .method(self.method)
            .uri(self.path_and_query);
        let headers = builder.headers_mut();
        if let Some(headers) = headers {
            for (name, value) in &self.headers {
                if ![HOST, CONTENT_LENGTH, TRANSFER_ENCODING].contains(name) {
                    headers.append(name.clone(), value.clone());
                }
            }
            if let Ok(host) = HeaderValue::try_from(dest.authority()) {
                headers.insert(HOST, host);
            }
        }
        builder.body(Bytes::from(self.body)).map_err(|e| {
            Stop::deny(
                format!("the request cannot be sent: {e}"),
                HttpError::HttpRequestUriInvalid,
            )
        })
    }
}

/// The response as the action gets it: body cut at `cap` (with an error
/// after the data), unexposed secrets' values taken out, the length
/// header matching what is delivered.
pub(super) fn deliver(
    reply: Reply,
    cap: ByteSize,
    secrets: &BTreeMap<String, RunSecret>,
    report: &mut Report,
) -> http::Response<WasiBody> {
    let Reply {
        address,
        mut head,
        mut body,
        cut,
    } = reply;
    report.address = Some(address);
    report.status = Some(head.status.as_u16());
    for (name, secret) in secrets {
        let Some(forms) = secret.forms.as_ref().filter(|_| !secret.expose) else {
            continue;
        };
        let mut found = false;
        if let Some(clean) = forms.scrub(&body) {
            body = Bytes::from(clean);
            found = true;
        }
        for value in head.headers.values_mut() {
            if let Some(clean) = forms.scrub(value.as_bytes()) {
                *value = HeaderValue::from_bytes(&clean)
                    .unwrap_or_else(|_| HeaderValue::from_static("[redacted]"));
                found = true;
            }
        }
        if found {
            report.redacted.push(name.clone());
        }
    }
    headers::strip(&mut head.headers);
    head.headers.remove(CONTENT_LENGTH);
    if !cut {
        head.headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    report.bytes_in = body.len() as u64;
    report.cut_at = cut.then_some(cap.0);
    let body = Delivered {
        data: Some(body),
        cut_at: cut.then_some(cap.0),
    };
    http::Response::from_parts(head, body.boxed_unsync())
}

/// A response body read whole: its data, then — when it was cut — the
/// error that says so.
struct Delivered {
    data: Option<Bytes>,
    cut_at: Option<u64>,
}

impl Body for Delivered {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        if let Some(data) = self.data.take().filter(|d| !d.is_empty()) {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.cut_at
                .take()
                .map(|limit| Err(HttpError::HttpResponseBodySize(Some(limit)))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && self.cut_at.is_none()
    }
}
