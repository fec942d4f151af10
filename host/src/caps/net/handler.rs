//! `wasi:http/outgoing-handler` as airlock links it: wasmtime-wasi-http's
//! own `handle`, wrapped so that a request it refuses before
//! [`NetHooks::send_request`](super::NetHooks) is called is recorded too —
//! a `Content-Length` that promises a body the request does not have, a
//! method or URL it cannot build. The refusal the
//! action sees is wasi-http's; the `net.request` deny record says what
//! was refused and why.
//!
//! The setters of `outgoing-request` (`set-method`, `set-scheme`,
//! `set-authority`, `set-path-with-query`) are wrapped the same way: a
//! value wasi-http refuses there (a host with a space, a scheme that is
//! not a token) is recorded as a refused request, since that request can
//! no longer be sent as the action wrote it. A header name or value that
//! is not valid HTTP is refused by `fields` before it belongs to any
//! request, and is not recorded (see `docs/security-notes/network.md`).

use super::placeholder;
use super::record::{Report, Verdict};
use super::{NetHooks, RunNet};
use airlock_rules::net::Destination;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Lift, Linker, LinkerInstance, Resource, ResourceTable};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::p2::{HttpError, HttpResult};
use wasmtime_wasi_http::{RequestOptions, WasiHttpCtx, WasiHttpCtxView};

/// The instance whose `handle` airlock replaces: the version of
/// `wasi:http` wasmtime-wasi-http links (guests importing an older 0.2
/// version are matched to it by the linker).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// The instance whose `outgoing-request` setters airlock wraps.
const TYPES: &str = "wasi:http/types@0.2.12";

/// Replace `handle` of `wasi:http/outgoing-handler` and the setters of
/// `outgoing-request` in `linker` (which already holds wasmtime-wasi-http's)
/// with ones that record what wasi-http refuses; `view` borrows a run's
/// state.
pub fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> OutgoingView<'_>,
) -> wasmtime::Result<()> {
    let mut setters = linker.instance(TYPES)?;
    setter(
        &mut setters,
        "set-method",
        view,
        "method",
        |v, r, m: types::Method| types::HostOutgoingRequest::set_method(v, r, m),
        |m| method_name(m).to_owned(),
    )?;
    setter(
        &mut setters,
        "set-scheme",
        view,
        "scheme",
        |v, r, s: Option<types::Scheme>| types::HostOutgoingRequest::set_scheme(v, r, s),
        |s| scheme_name(s.as_ref()).to_owned(),
    )?;
    setter(
        &mut setters,
        "set-authority",
        view,
        "host",
        |v, r, a: Option<String>| types::HostOutgoingRequest::set_authority(v, r, a),
        |a| a.clone().unwrap_or_default(),
    )?;
    setter(
        &mut setters,
        "set-path-with-query",
        view,
        "path",
        |v, r, p: Option<String>| types::HostOutgoingRequest::set_path_with_query(v, r, p),
        |p| {
            p.as_deref()
                .map_or("", |p| p.split('?').next().unwrap_or(p))
                .to_owned()
        },
    )?;
    linker.instance(OUTGOING_HANDLER)?.func_wrap(
        "handle",
        move |mut store: StoreContextMut<'_, T>,
              (request, options): (
            Resource<HostOutgoingRequest>,
            Option<Resource<RequestOptions>>,
        )| {
            match view(store.data_mut()).handle(request, options) {
                Ok(response) => Ok((Ok(response),)),
                Err(error) => error.downcast().map(|code| (Err(code),)),
            }
        },
    )
}

/// wasi-http's setter of one part of an `outgoing-request`.
type Setter<A> = fn(
    &mut WasiHttpCtxView<'_>,
    Resource<HostOutgoingRequest>,
    A,
) -> wasmtime::Result<Result<(), ()>>;

/// A setter of `outgoing-request` that records a refused value: the
/// request is refused there, before it can be handed over.
fn setter<T: Send + 'static, A: ComponentType + Lift + Send + Sync + 'static>(
    instance: &mut LinkerInstance<'_, T>,
    method: &str,
    view: fn(&mut T) -> OutgoingView<'_>,
    what: &'static str,
    set: Setter<A>,
    show: fn(&A) -> String,
) -> wasmtime::Result<()> {
    instance.func_wrap(
        &format!("[method]outgoing-request.{method}"),
        move |mut store: StoreContextMut<'_, T>,
              (request, value): (Resource<HostOutgoingRequest>, A)| {
            let mut v = view(store.data_mut());
            let shown = show(&value);
            let known = v.http.table.get(&request).ok().map(report);
            let set = set(&mut v.http, request, value)?;
            if let (Err(()), Some(report)) = (set, known) {
                let reason = format!(
                    "the request was refused before it was checked: its {what} `{}` is not valid in a URL",
                    shown.escape_debug()
                );
                v.deny(&report, reason)?;
            }
            Ok((set,))
        },
    )
}

/// wasi-http's view of a run, and the run's network to record with.
pub struct OutgoingView<'a> {
    run: Arc<RunNet>,
    http: WasiHttpCtxView<'a>,
}

impl<'a> OutgoingView<'a> {
    /// The view of one run's `wasi:http` state and its choke point.
    pub fn new(
        ctx: &'a mut WasiHttpCtx,
        table: &'a mut ResourceTable,
        net: &'a mut NetHooks,
    ) -> OutgoingView<'a> {
        OutgoingView {
            run: net.run.clone(),
            http: WasiHttpCtxView {
                ctx,
                table,
                hooks: net,
            },
        }
    }
}

impl OutgoingView<'_> {
    /// wasi-http's `handle`, and a deny record when it refuses.
    fn handle(
        &mut self,
        request: Resource<HostOutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> HttpResult<Resource<HostFutureIncomingResponse>> {
        let report = self.http.table.get(&request).ok().map(report);
        let handled = outgoing_handler::Host::handle(&mut self.http, request, options);
        let (Err(error), Some(report)) = (&handled, report) else {
            return handled;
        };
        let Some(code) = error.downcast_ref() else {
            return handled; // a trap: the run fails, and its end is recorded
        };
        self.deny(&report, refusal(code)).map_err(HttpError::trap)?;
        handled
    }

    /// Record a request refused before airlock's checks; it counts toward
    /// `http_requests` like any request, and one beyond it, or a record
    /// that cannot be written, fails the run.
    fn deny(&self, report: &Report, reason: String) -> wasmtime::Result<()> {
        let limit = self.run.grant.limits.http_requests;
        if self.run.requests.fetch_add(1, Ordering::Relaxed) >= limit {
            return Err(wasmtime::format_err!(
                "the action made more than {limit} HTTP requests, its http_requests limit"
            ));
        }
        self.run
            .write(report, &Verdict::Denied(reason), None)
            .map(|_| ())
            .map_err(|_| wasmtime::format_err!("the audit log cannot be written"))
    }
}

fn method_name(method: &types::Method) -> &str {
    match method {
        types::Method::Get => "GET",
        types::Method::Head => "HEAD",
        types::Method::Post => "POST",
        types::Method::Put => "PUT",
        types::Method::Delete => "DELETE",
        types::Method::Connect => "CONNECT",
        types::Method::Options => "OPTIONS",
        types::Method::Trace => "TRACE",
        types::Method::Patch => "PATCH",
        types::Method::Other(m) => m.as_str(),
    }
}

/// The scheme as a URL writes it; https when none is set.
fn scheme_name(scheme: Option<&types::Scheme>) -> &str {
    match scheme {
        None | Some(types::Scheme::Https) => "https",
        Some(types::Scheme::Http) => "http",
        Some(types::Scheme::Other(s)) => s.as_str(),
    }
}

/// What is known of a request wasi-http has not built yet.
fn report(request: &HostOutgoingRequest) -> Report {
    let scheme = scheme_name(request.scheme.as_ref());
    let authority = request.authority.as_deref().unwrap_or("");
    let path = request
        .path_with_query
        .as_deref()
        .map_or("/", |p| p.split('?').next().unwrap_or(p));
    // Its body is not read yet: the secrets its URL and headers carry.
    let url = std::iter::once(request.path_with_query.as_deref().unwrap_or("").as_bytes());
    let headers = request.headers.values().map(|v| v.as_bytes());
    Report {
        method: method_name(&request.method).to_owned(),
        url: format!("{scheme}://{authority}{path}"),
        destination: Destination::parse(scheme, authority).ok(),
        path: path.to_owned(),
        secrets: placeholder::names(url.chain(headers)),
        ..Report::default()
    }
}

/// Why wasi-http refused a request before airlock's checks, in words.
fn refusal(code: &types::ErrorCode) -> String {
    let why = match code {
        types::ErrorCode::HttpRequestBodySize(Some(0)) => {
            "it declares a content-length but has no body".to_owned()
        }
        types::ErrorCode::HttpRequestMethodInvalid => "its method is not a valid token".to_owned(),
        types::ErrorCode::HttpRequestUriInvalid => {
            "its scheme, host and path do not make a URL".to_owned()
        }
        types::ErrorCode::HttpProtocolError => "its scheme is not one a URL may have".to_owned(),
        types::ErrorCode::InternalError(Some(m)) => m.clone(),
        other => format!("{other:?}"),
    };
    format!("the request was refused before it was checked: {why}")
}
