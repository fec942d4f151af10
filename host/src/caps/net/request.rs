//! One request's life: the checks of [`super`]'s steps 1 to 9 in their
//! order, then the exchange, bounded by `http_timeout` as a whole.

use super::record::{self, Report, Stage, Verdict};
use super::{IoFuture, RunNet, Stop, client, headers, transfer};
use airlock_audit::AuditError;
use airlock_rules::net::Destination;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

impl RunNet {
    pub(super) async fn handle(
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
        self.carried(&out, report);

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
        self.carried(&out, report);
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
                let told = match e {
                    AuditError::OverBudget(_) => "the run is past its budget of refusals",
                    _ => "the audit log cannot be written",
                };
                Stop::fail(e.to_string(), HttpError::InternalError(Some(told.into())))
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

impl RunNet {
    /// Name in `report` the secrets whose placeholders `out` carries: the
    /// declared ones by name; of the rest, which the action makes up, only
    /// how many and the first, cut, so that a request cannot make its
    /// record as large as its body.
    fn carried(&self, out: &transfer::Outgoing, report: &mut Report) {
        let (declared, undeclared): (Vec<String>, Vec<String>) = out
            .carried()
            .into_iter()
            .partition(|name| self.secrets.contains_key(name));
        report.secrets = declared;
        report.undeclared = undeclared.len();
        report.undeclared_first = undeclared
            .first()
            .map(|name| crate::caps::secrets::undeclared(name));
    }
}

/// The grant's timeout, or the action's if it asked for less.
fn shorter(grant: std::time::Duration, asked: Option<std::time::Duration>) -> std::time::Duration {
    asked.map_or(grant, |a| a.min(grant))
}
