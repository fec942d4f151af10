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
//!    ([`grant`]) — before any DNS; then the secret placeholders
//!    ([`placeholder`]) in the URL and headers: each must name a declared
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
//!    request whatever is granted; one in a blocked class ([`addr`]:
//!    loopback, private, link-local, …) refuses it unless the manifest
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
pub mod resolve;
mod sockets;
mod transfer;

pub use config::{NetConfig, NetSetupError};
pub use handler::OutgoingView;
pub(crate) use handler::link as link_outgoing_handler;
pub use sockets::{DeniedSockets, SocketsView};

use crate::caps::secrets::Forms;
use crate::caps::secrets::{Redactor, SecretValue, Secrets};
use airlock_audit::{AuditError, Intent, Recorder};
use airlock_rules::grant::{Grant, Limits};
use airlock_rules::net::{Destination, Origin};
use record::{Report, Stage, Verdict};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
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

/// Requests started and not yet recorded; `closed` once the run is over.
#[derive(Default)]
struct InFlight {
    closed: bool,
    /// What is known of each request, and the verdict [`NetHooks::finish`]
    /// records if the run ends first: `Abandoned` until it is answered.
    reports: BTreeMap<u64, (Report, Verdict)>,
    /// The durable intents of requests being sent.
    intents: BTreeMap<u64, Intent>,
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

    /// End the run's network: record every request not yet recorded (as
    /// abandoned, or as answered if only its record was left to write), and
    /// send nothing more.
    pub fn finish(&self) -> Result<(), AuditError> {
        let _closed_first = self.run.closing.lock().unwrap_or_else(|p| p.into_inner());
        let (left, mut intents) = {
            let mut f = self.run.lock();
            f.closed = true;
            (
                std::mem::take(&mut f.reports),
                std::mem::take(&mut f.intents),
            )
        };
        for (id, (report, verdict)) in &left {
            self.run.write(report, verdict, intents.remove(id))?;
        }
        Ok(())
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

impl RunNet {
    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep the latest state of request `id` for [`NetHooks::finish`].
    fn publish(&self, id: u64, report: &Report, started: Instant) {
        let mut f = self.lock();
        if !f.closed {
            let mut report = report.clone();
            report.duration = started.elapsed();
            f.reports.insert(id, (report, Verdict::Abandoned));
        }
    }

    async fn handle(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> wasmtime_wasi_http::Result<(http::Response<WasiBody>, IoFuture)> {
        let started = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (parts, body) = request.into_parts();
        let mut report = Report {
            method: parts.method.to_string(),
            url: format!(
                "{}://{}{}",
                parts.uri.scheme_str().unwrap_or("https"),
                parts.uri.authority().map_or("", |a| a.as_str()),
                parts.uri.path()
            ),
            path: parts.uri.path().to_owned(),
            ..Report::default()
        };
        self.publish(id, &report, started);
        let total = self.grant.limits.http_timeout;
        let exchange = self.exchange(id, started, parts, body, options, &mut report);
        let outcome = tokio::time::timeout(total, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(Stop::fail(
                    format!(
                        "the request took longer than http_timeout ({})",
                        humantime::format_duration(total)
                    ),
                    HttpError::HttpResponseTimeout,
                ))
            });
        report.duration = started.elapsed();
        // Whoever takes the report out of `in_flight` records it: this
        // request, or `finish` when the run ended first. A request that was
        // sent closes its intent; a refused one is a single record.
        let stop = match outcome {
            Ok(response) => {
                {
                    let mut f = self.lock();
                    let Some(entry) = f.reports.get_mut(&id) else {
                        // The run ended first, and recorded it abandoned.
                        return Err(HttpError::HttpRequestDenied);
                    };
                    *entry = (report, Verdict::Done);
                }
                // The action reads the response while its record is
                // written (step 10): under `sync = "always"` that record's
                // fsync no longer stands between the two.
                let run = self.clone();
                let record: IoFuture = Box::new(async move {
                    run.close(id);
                    Ok(())
                });
                return Ok((response, record));
            }
            Err(stop) => stop,
        };
        let (taken, intent) = self.take(id);
        if taken.is_none() {
            return Err(HttpError::HttpRequestDenied);
        }
        if self.write(&report, &stop.verdict, intent).is_err() {
            return Err(HttpError::InternalError(Some(
                "the audit log cannot be written".into(),
            )));
        }
        Err(stop.code)
    }

    /// Record how answered request `id` ended, unless [`NetHooks::finish`]
    /// already has. `closing` stays held while the record is written, so a
    /// `finish` that comes meanwhile (and the run's end after it) waits for
    /// it, while the action's next request does not. A record that cannot
    /// be written fails the run (the recorder keeps the error).
    fn close(&self, id: u64) {
        let _writing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
        let (taken, intent) = self.take(id);
        if let Some((report, verdict)) = taken {
            let _ = self.write(&report, &verdict, intent);
        }
    }

    /// Take request `id` out of `in_flight`, to record it: whoever gets its
    /// report writes its one record.
    fn take(&self, id: u64) -> (Option<(Report, Verdict)>, Option<Intent>) {
        let mut f = self.lock();
        (f.reports.remove(&id), f.intents.remove(&id))
    }

    /// The record of a request that ended with `verdict`: the result that
    /// closes its intent, or a single record if it never had one.
    fn write(
        &self,
        report: &Report,
        verdict: &Verdict,
        intent: Option<Intent>,
    ) -> Result<(), AuditError> {
        let event = record::event(report, verdict, &self.redactor);
        match intent {
            Some(intent) => self.recorder.result(intent, event).map(drop),
            None => self.recorder.record(event).map(drop),
        }
    }

    /// Step 1: `dest` is an origin the grant holds.
    fn judge_origin(&self, dest: &Destination) -> Result<(), Stop> {
        if self.grant.origins.iter().any(|o| o.matches(dest)) {
            return Ok(());
        }
        Err(Stop::deny(
            format!(
                "{} is not a declared origin: the manifest would need network = [\"{}\"] in [capabilities]",
                dest.as_grant(),
                dest.as_grant()
            ),
            HttpError::HttpRequestDenied,
        ))
    }

    /// Steps 1 to 9 of the module documentation.
    async fn exchange(
        &self,
        id: u64,
        started: Instant,
        parts: http::request::Parts,
        body: WasiBody,
        options: Option<RequestOptions>,
        report: &mut Report,
    ) -> Result<http::Response<WasiBody>, Stop> {
        let limits = &self.grant.limits;
        // Every request counts toward the limit, refused or not; it is
        // judged in step 4, after the grant.
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        // Named in the record however the request ends, as far as known.
        let mut out = transfer::Outgoing::new(&parts, Vec::new());
        report.secrets = out.carried();

        let dest = Destination::parse(
            parts.uri.scheme_str().unwrap_or("https"),
            parts.uri.authority().map_or("", |a| a.as_str()),
        )
        .map_err(|why| Stop::deny(why, HttpError::HttpRequestDenied))?;
        report.destination = Some(dest.clone());
        self.judge_origin(&dest)?;
        self.judge_secrets(&dest, &out)?;

        let declared = headers::check(&parts.headers, &dest)
            .map_err(|why| Stop::deny(why, HttpError::HttpRequestDenied))?;
        self.scan_host(&dest)?;

        out.body = transfer::read_body(body, limits.http_request_body, declared).await?;
        report.secrets = out.carried();
        self.judge_secrets(&dest, &out)?;

        if n > limits.http_requests {
            return Err(Stop::deny(
                format!(
                    "the run already made {} HTTP requests, its http_requests limit",
                    limits.http_requests
                ),
                HttpError::ConnectionLimitReached,
            ));
        }

        let (addrs, source) = tokio::time::timeout(
            limits.http_connect_timeout,
            self.config.resolver.resolve(&dest.host, dest.port),
        )
        .await
        .map_err(|_| {
            Stop::fail(
                format!("resolving {} timed out", dest.host),
                HttpError::DnsTimeout,
            )
        })?
        .map_err(|e| {
            let code = HttpError::DnsError {
                rcode: Some(e.clone()),
                info_code: None,
            };
            Stop::fail(e, code)
        })?;
        report.resolved = addrs.clone();
        report.resolved_by = Some(source.as_str());
        self.publish(id, report, started);
        for addr in &addrs {
            self.check_address(&dest, *addr)?;
        }

        self.fill(&mut out)?;
        self.scan(&dest, &out, report)?;
        report.bytes_out = out.body.len() as u64;
        let request = out.into_request(&dest)?;

        // Write ahead: the request, with the names of the secrets it fills
        // in, is on record before a byte of it leaves. If that cannot be
        // done, it does not leave.
        let intent = self
            .recorder
            .intent(record::intent(report, &self.redactor))
            .map_err(|e| {
                Stop::fail(
                    e.to_string(),
                    HttpError::InternalError(Some("the audit log cannot be written".into())),
                )
            })?;
        {
            let mut f = self.lock();
            if f.closed {
                drop(f);
                let reason = "the run ended before the request was sent";
                let _ = self.recorder.aborted(intent, reason);
                return Err(Stop::deny(reason.into(), HttpError::HttpRequestDenied));
            }
            report.stage = Stage::Sending;
            report.duration = started.elapsed();
            f.reports.insert(id, (report.clone(), Verdict::Abandoned));
            f.intents.insert(id, intent);
        }
        let timeouts = client::Timeouts {
            connect: shorter(
                limits.http_connect_timeout,
                options.and_then(|o| o.connect_timeout),
            ),
            first_byte: shorter(
                limits.http_first_byte_timeout,
                options.and_then(|o| o.first_byte_timeout),
            ),
        };
        let cap = limits.http_response_body;
        let reply = client::send(
            &self.config.tls,
            &dest,
            &addrs,
            request,
            timeouts,
            cap.as_usize(),
        )
        .await
        .map_err(|e| Stop::fail(e.to_string(), e.code()))?;
        Ok(transfer::deliver(reply, cap, &self.secrets, report))
    }
}

/// The grant's timeout, or the action's if it asked for less.
fn shorter(grant: std::time::Duration, asked: Option<std::time::Duration>) -> std::time::Duration {
    asked.map_or(grant, |a| a.min(grant))
}
