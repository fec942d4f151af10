//! `wasi:http/outgoing-handler` as airlock links it: wasmtime-wasi-http's
//! own `handle`, wrapped so that a request it refuses before
//! [`NetHooks::send_request`](super::NetHooks) is called is recorded too —
//! a `Content-Length` that is not a number, one that promises a body the
//! request does not have, a method or URL it cannot build. The refusal the
//! action sees is wasi-http's; the `net.request` deny record says what
//! was refused and why.
//!
//! What wasi-http refuses earlier still, while the action builds the
//! request (`set-scheme`, `set-authority`, `set-path-with-query`, and
//! header names or values that are not valid HTTP), is an error the
//! action gets from that call; no request exists yet, and it is not
//! recorded (see `docs/security-notes/network.md`).

use super::grant::Destination;
use super::record::{Report, Verdict};
use super::{NetHooks, RunNet};
use std::sync::Arc;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::p2::{HttpError, HttpResult};
use wasmtime_wasi_http::{RequestOptions, WasiHttpCtx, WasiHttpCtxView};

/// The instance whose `handle` airlock replaces: the version of
/// `wasi:http` wasmtime-wasi-http links (guests importing an older 0.2
/// version are matched to it by the linker).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// Replace `handle` of `wasi:http/outgoing-handler` in `linker` (which
/// already holds wasmtime-wasi-http's) with one that records what
/// wasi-http refuses; `view` borrows a run's state.
pub fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> OutgoingView<'_>,
) -> wasmtime::Result<()> {
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
        let reason = refusal(code);
        if self
            .run
            .write(&report, &Verdict::Denied(reason), None)
            .is_err()
        {
            return Err(HttpError::trap(wasmtime::format_err!(
                "the audit log cannot be written"
            )));
        }
        handled
    }
}

/// What is known of a request wasi-http has not built yet.
fn report(request: &HostOutgoingRequest) -> Report {
    let method = match &request.method {
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
    };
    let scheme = match &request.scheme {
        None | Some(types::Scheme::Https) => "https",
        Some(types::Scheme::Http) => "http",
        Some(types::Scheme::Other(s)) => s.as_str(),
    };
    let authority = request.authority.as_deref().unwrap_or("");
    let path = request
        .path_with_query
        .as_deref()
        .map_or("/", |p| p.split('?').next().unwrap_or(p));
    Report {
        method: method.to_owned(),
        url: format!("{scheme}://{authority}{path}"),
        destination: Destination::parse(scheme, authority).ok(),
        path: path.to_owned(),
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
