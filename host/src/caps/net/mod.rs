//! The network: `wasi:http` is the only surface, and every request passes
//! [`NetHooks::send_request`], the one place a request is decided, enforced
//! and recorded. Raw sockets and name lookup are refused ([`SocketsView`]).
//!
//! # The order of the checks
//!
//! The grant is judged before any limit, so that a refusal says what the
//! grant lacks (an undeclared host, a secret sent outside its audience)
//! rather than only that a limit was reached; and every refusal's record
//! names the destination and the secrets whose placeholders the request
//! carries (names only), as far as they are known when it is refused.
//!
//! 1. The grant: the URL's scheme, host and port against the grant
//!    ([`airlock_rules::net::origin`]) — before any DNS; then the secret
//!    placeholders ([`placeholder`]) in the URL and headers: each must name a declared
//!    secret whose `send_to` holds the destination and which has a value,
//!    or the request is refused, never sent with the placeholder.
//! 2. The request's form: a user in the URL, a percent-encoded host, a
//!    port written with leading zeros or an IPv4 address in an unusual
//!    form is refused rather than guessed at (in step 1, as the URL is
//!    read); so is a hop-by-hop header, or a `Host` or `Content-Length`
//!    that disagrees with the request ([`headers`]), and a host name that
//!    carries a secret's value (DNS would leak it).
//! 3. The request body is read, up to `http_request_body`, and held to the
//!    `Content-Length` the action declared; its placeholders are judged
//!    as in step 1.
//! 4. At most `http_requests` requests per run.
//! 5. The host is resolved once ([`resolve`]; the policy's
//!    `[network.hosts]` first).
//! 6. Every resolved address is checked: an unspecified one (`0.0.0.0`,
//!    `::`) or one of a kind the policy's `forbid` names refuses the
//!    request whatever is granted; one in a blocked class
//!    ([`airlock_rules::net::addr`]: loopback, private, link-local, …)
//!    refuses it unless the manifest
//!    grants that address or block explicitly, or the policy's
//!    `allow_private` names it.
//! 7. The placeholders are filled in.
//! 8. For a destination outside a secret's audience, the request is searched
//!    for its value (best effort; exposed or not, since an unexposed value
//!    can reach an action through a file) and refused if it is there.
//! 9. The request goes to an address checked in 6 ([`client`]), with TLS on
//!    the host name. Redirects are not followed. The response body is read
//!    up to `http_response_body` (cut there, with an error after the
//!    data), and values of unexposed secrets are taken out of it before
//!    the action sees it.
//! 10. One `net.request` record tells what happened ([`record`]). A refusal
//!     or failure is recorded before the action hears of it. An answered
//!     request's record is written beside the response instead of before
//!     it: by the task `wasi:http` runs alongside the response body, or by
//!     [`NetHooks::finish`] if the run ends first, and always before the
//!     run's end (`finish` waits for a record being written). A failed
//!     write fails the run.
//!
//! A refusal is a `deny` record whose reason names what would allow it, and
//! an `ErrorCode` for the action (`HttpRequestDenied`, or the closest code).

mod checks;
pub mod client;
mod config;
mod handler;
pub mod headers;
pub mod placeholder;
pub mod record;
mod recording;
mod request;
pub mod resolve;
mod sockets;
mod transfer;

pub use config::{NetConfig, NetSetupError};
pub use handler::OutgoingView;
pub(crate) use handler::link as link_outgoing_handler;
pub use sockets::{DeniedSockets, SocketsView};

use crate::caps::secrets::Forms;
use crate::caps::secrets::{Redactor, SecretValue, Secrets};
use airlock_audit::Recorder;
use airlock_rules::grant::{Grant, Limits};
use airlock_rules::net::Origin;
use record::Verdict;
use recording::InFlight;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

type IoFuture = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;
type ResponseFuture = Box<
    dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)>> + Send,
>;

/// What one action may do on the network, parsed once when it is loaded.
#[derive(Debug)]
pub struct NetGrant {
    origins: Vec<Origin>,
    limits: Limits,
}

impl NetGrant {
    /// The network part of `grant`.
    pub fn new(grant: &Grant) -> NetGrant {
        NetGrant {
            origins: grant.network.clone(),
            limits: grant.limits.clone(),
        }
    }
}

/// A declared secret as the network sees it.
struct RunSecret {
    send_to: Vec<Origin>,
    expose: bool,
    value: Option<SecretValue>,
    /// Why it has no value, in a refusal's words, when it has none.
    missing: Option<String>,
    forms: Option<Arc<Forms>>,
}

/// The HTTP choke point of one run.
pub struct NetHooks {
    run: Arc<RunNet>,
}

impl std::fmt::Debug for NetHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetHooks").finish_non_exhaustive()
    }
}

struct RunNet {
    config: Arc<NetConfig>,
    grant: Arc<NetGrant>,
    secrets: BTreeMap<String, RunSecret>,
    recorder: Recorder,
    redactor: Redactor,
    requests: AtomicU32,
    next_id: AtomicU64,
    in_flight: Mutex<InFlight>,
    /// Held while an answered request's record is written beside its
    /// response ([`RunNet::close`]); [`NetHooks::finish`] takes it first, so
    /// the run's end waits for that record. Taken before `in_flight`.
    closing: Mutex<()>,
}

/// Why a request did not get a response: the record's verdict and the
/// action's error code.
struct Stop {
    verdict: Verdict,
    code: HttpError,
}

impl Stop {
    fn deny(reason: String, code: HttpError) -> Stop {
        Stop {
            verdict: Verdict::Denied(reason),
            code,
        }
    }

    fn fail(error: String, code: HttpError) -> Stop {
        Stop {
            verdict: Verdict::Failed(error),
            code,
        }
    }
}

impl NetHooks {
    /// The choke point of one run of an action with `grant`, on a host with
    /// `config`; `secrets` are the run's, values read.
    pub fn new(
        config: Arc<NetConfig>,
        grant: Arc<NetGrant>,
        secrets: &Secrets,
        recorder: Recorder,
        redactor: Redactor,
    ) -> NetHooks {
        let secrets = secrets
            .entries()
            .map(|entry| {
                let secret = RunSecret {
                    send_to: entry.grant.send_to.clone(),
                    expose: entry.grant.expose,
                    forms: entry.forms.cloned(),
                    value: entry.value.cloned(),
                    missing: entry.missing(),
                };
                (entry.name.to_owned(), secret)
            })
            .collect();
        NetHooks {
            run: Arc::new(RunNet {
                config,
                grant,
                secrets,
                recorder,
                redactor,
                requests: AtomicU32::new(0),
                next_id: AtomicU64::new(0),
                in_flight: Mutex::default(),
                closing: Mutex::default(),
            }),
        }
    }
}

impl WasiHttpHooks for NetHooks {
    /// airlock sets `Host` itself, from the destination it checked.
    fn set_host_header(&mut self) -> bool {
        false
    }

    /// Every header the action sets reaches [`NetHooks::send_request`],
    /// where a hop-by-hop one refuses the request with a record
    /// ([`headers`]); responses lose theirs before the action sees them.
    fn is_forbidden_header(&mut self, _name: &http::HeaderName) -> bool {
        false
    }

    fn forbidden_header_filter(&mut self) -> wasmtime_wasi_http::ForbiddenHeaderFilter {
        Arc::new(|_| false)
    }

    /// Every scheme reaches [`NetHooks::send_request`], which refuses all
    /// but http and https with a record.
    fn is_supported_scheme(&mut self, _scheme: &http::uri::Scheme) -> bool {
        true
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> ResponseFuture {
        let run = self.run.clone();
        Box::new(async move { run.handle(request, options).await })
    }
}
