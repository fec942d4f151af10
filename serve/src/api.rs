//! The HTTP API: routing, authentication, admission and the handlers.

use crate::metrics::Metrics;
use crate::problem::{Body, full, json_response, problem, status_of};
use crate::runs::{Channel, Phase, Run, Runs};
use crate::{Peer, Tokens};
use airlock::report::{Code, Report};
use airlock::{Cancel, Host, Invocation, Policy};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// How long a client may take to send a request's body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// What every request is served with.
pub struct State {
    /// The host in force; replaced whole when the policy or lock changes.
    pub host: std::sync::RwLock<Host>,
    /// The policy file, read again on reload.
    pub policy: std::path::PathBuf,
    /// Why the last reload was refused, until one succeeds.
    pub reload_error: std::sync::Mutex<Option<String>>,
    /// One reload at a time.
    pub reloading: std::sync::Mutex<()>,
    /// Required of TCP callers, when given.
    pub tokens: Option<Tokens>,
    /// One permit per run at a time.
    pub slots: Arc<Semaphore>,
    /// Runs started by `POST /v1/runs`.
    pub runs: Runs,
    /// Every run in flight, to be cancelled if shutdown's grace runs out.
    pub live: std::sync::Mutex<std::collections::HashMap<String, Cancel>>,
    /// How many may wait for a slot before the next is told to come back.
    pub queue: u64,
    pub metrics: Metrics,
    /// Why the audit log takes no more runs, once a run found out.
    pub fault: std::sync::Mutex<Option<String>>,
    /// Set when shutdown's grace ran out: no queued run starts.
    pub closing: std::sync::atomic::AtomicBool,
}

impl State {
    /// The host in force now (its runs keep it while they last).
    pub fn host(&self) -> Host {
        self.host.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read the policy and its lock again and put a host for them in force;
    /// refused (and recorded) if either is malformed, the old host staying.
    pub fn reload(&self) -> Result<(), String> {
        let _one = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.host();
        let result = match Policy::load(&self.policy) {
            Err(e) => {
                let why = format!("the new policy was not taken: {e}");
                let _ = current.refuse_reload(&why);
                Err(why)
            }
            Ok(policy) => match current.reload(policy) {
                Ok(host) => {
                    *self.host.write().unwrap_or_else(|p| p.into_inner()) = host;
                    Ok(())
                }
                Err(e) => Err(format!(
                    "the new policy or lock was not taken: {}",
                    airlock::report::chain(&e)
                )),
            },
        };
        let mut error = self.reload_error.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(()) => {
                *error = None;
                tracing::info!(
                    "took the new policy and lock from {}",
                    self.policy.display()
                );
            }
            Err(why) => {
                tracing::error!("{why}; the policy and lock in force stay");
                *error = Some(why.clone());
            }
        }
        result
    }

    /// The largest request body accepted: the policy's `[limits] input`
    /// and room for the envelope.
    fn body_limit(&self, host: &Host) -> usize {
        usize::try_from(host.policy().limits.input.0)
            .unwrap_or(usize::MAX)
            .saturating_add(64 * 1024)
    }
}

/// A problem answered and counted.
fn refuse(state: &State, status: StatusCode, code: &str, detail: &str) -> Response<Body> {
    state.metrics.problem(code);
    problem(status, code, detail)
}

/// Answer `request` from `peer`.
pub async fn handle(state: &Arc<State>, peer: &Peer, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let Some(segments) = segments(&path) else {
        return refuse(
            state,
            StatusCode::BAD_REQUEST,
            "bad_path",
            "the path has an empty, `.` or `..` segment, a percent-encoding or a character that \
             is not plain ASCII; action names are sent as they are",
        );
    };
    let method = request.method().clone();
    if segments == ["healthz"] {
        return only_get(state, &method, || {
            json_response(StatusCode::OK, &serde_json::json!({"alive": true}))
        });
    }
    let caller = match authenticate(state, peer, &request) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let host = state.host();
    match segments.as_slice() {
        ["readyz"] => only_get(state, &method, || ready(state, &host)),
        ["metrics"] => only_get(state, &method, || {
            let mut r = Response::new(full(state.metrics.render(host.audit_timings())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }),
        ["v1", "openapi.json"] => only_get(state, &method, || {
            let mut r = Response::new(full(Bytes::from_static(OPENAPI.as_bytes())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            r
        }),
        ["v1", "actions"] => only_get(state, &method, || actions(&host)),
        ["v1", "actions", name] => {
            if method != Method::GET && method != Method::HEAD {
                return not_allowed(state, "GET");
            }
            action(state, &host, name).await
        }
        ["v1", "runs"] => {
            if method != Method::POST {
                return not_allowed(state, "POST");
            }
            start(state, &host, caller, request).await
        }
        ["v1", "runs", id] => run_endpoint(state, &method, id, false, &caller),
        ["v1", "runs", id, "events"] => run_endpoint(state, &method, id, true, &caller),
        ["v1", "actions", name, "invoke"] => {
            if method != Method::POST {
                return not_allowed(state, "POST");
            }
            let name = (*name).to_owned();
            invoke(state, &host, &name, caller, request).await
        }
        _ => refuse(
            state,
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no such endpoint: {path} (GET /v1/openapi.json lists them)"),
        ),
    }
}

/// The path's segments, or `None` for a path that is not plain: a percent
/// sign, a dot segment, an empty segment, anything but printable ASCII.
fn segments(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix('/')?;
    if !rest.bytes().all(|b| b.is_ascii_graphic()) || rest.contains('%') {
        return None;
    }
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return None;
    }
    Some(segments)
}

fn only_get(
    state: &State,
    method: &Method,
    answer: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    if method == Method::GET || method == Method::HEAD {
        answer()
    } else {
        not_allowed(state, "GET")
    }
}

fn not_allowed(state: &State, allow: &'static str) -> Response<Body> {
    let mut r = refuse(
        state,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("this endpoint takes {allow}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    r
}

/// Who is asking: the peer's identity on a Unix socket (the socket's file
/// permission let them in), the token's name (and the certificate) on TCP.
fn authenticate<B>(
    state: &State,
    peer: &Peer,
    request: &Request<B>,
) -> Result<String, Box<Response<Body>>> {
    match peer {
        Peer::Unix { uid } => Ok(format!("unix:uid={uid}")),
        Peer::Tcp { certificate } => {
            let Some(tokens) = &state.tokens else {
                // Without tokens, TCP is only allowed with client
                // certificates, which the TLS handshake already checked.
                return certificate.clone().ok_or_else(|| {
                    let why = "no credentials";
                    Box::new(refuse(
                        state,
                        StatusCode::UNAUTHORIZED,
                        "unauthenticated",
                        why,
                    ))
                });
            };
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            let challenge = |detail: &str| {
                let mut r = refuse(state, StatusCode::UNAUTHORIZED, "unauthenticated", detail);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer realm=\"airlock\""),
                );
                Box::new(r)
            };
            let Some(presented) = presented else {
                return Err(challenge(
                    "send `Authorization: Bearer TOKEN` with a token from the server's --tokens file",
                ));
            };
            match tokens.check(presented.trim()) {
                Some(name) => Ok(match certificate {
                    Some(cert) => format!("{name} ({cert})"),
                    None => name.to_owned(),
                }),
                None => Err(challenge("the token is not one of the server's")),
            }
        }
    }
}

/// Ready when the audit log is there, no run found it unwritable or
/// changed behind the server's back (after which it takes no more runs),
/// and the last change to the policy or lock was taken.
fn ready(state: &State, host: &Host) -> Response<Body> {
    let fault = state
        .fault
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let fault = fault.or_else(|| {
        std::fs::metadata(host.audit_log()).err().map(|e| {
            format!(
                "the audit log {} cannot be read: {e}",
                host.audit_log().display()
            )
        })
    });
    if let Some(why) = fault {
        return refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            &why,
        );
    }
    let reload = state
        .reload_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(why) = reload {
        return refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "reload_failed",
            &why,
        );
    }
    json_response(
        StatusCode::OK,
        &serde_json::json!({"ready": true, "approved": host.lock().entries().count()}),
    )
}

fn actions(host: &Host) -> Response<Body> {
    let lock = host.lock();
    let list: Vec<serde_json::Value> = host
        .policy()
        .actions
        .keys()
        .map(|name| {
            let entry = lock.get(name);
            serde_json::json!({
                "name": name,
                "approved": entry.is_some(),
                "version": entry.map(|e| e.version.to_string()),
                "digest": entry.map(|e| e.digest.to_string()),
                "publisher": entry.map(|e| e.publisher.clone()),
            })
        })
        .collect();
    json_response(StatusCode::OK, &serde_json::json!({ "actions": list }))
}

/// One action, loaded and verified (off the threads that serve requests).
/// A name the policy does not have is answered without loading anything.
async fn action(state: &State, host: &Host, name: &str) -> Response<Body> {
    if !host.policy().actions.contains_key(name) {
        return refuse(
            state,
            StatusCode::NOT_FOUND,
            "unknown_action",
            &format!("unknown action `{name}`: the policy has no [actions.{name}]"),
        );
    }
    let loading = {
        let (host, name) = (host.clone(), name.to_owned());
        tokio::task::spawn_blocking(move || host.action(&name))
    };
    let loaded = match loading.await {
        Ok(loaded) => loaded,
        Err(e) => {
            let why = format!("loading failed: {e}");
            return refuse(state, StatusCode::INTERNAL_SERVER_ERROR, "host_error", &why);
        }
    };
    match loaded {
        Ok(action) => {
            let entry = host.lock().get(name);
            json_response(
                StatusCode::OK,
                &serde_json::json!({
                    "name": name,
                    "version": action.manifest().action.version.to_string(),
                    "digest": action.digest().to_string(),
                    "publisher": entry.map(|e| e.publisher.clone()),
                    "grant": action.grant(),
                }),
            )
        }
        Err(e) => {
            let report = Report::of_error(Some(name), &e, Some(host.audit_log()));
            let code = report.code.map(|c| c.to_string()).unwrap_or_default();
            let detail = report.message.clone().unwrap_or_default();
            refuse(state, status_of(&report), &code, &detail)
        }
    }
}

/// The body of `POST /v1/actions/{name}/invoke`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvokeBody {
    input: serde_json::Value,
    /// A shorter time limit than the grant's, as `10s` or `500ms`.
    timeout: Option<String>,
}

/// The body of `POST /v1/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    action: String,
    input: serde_json::Value,
    timeout: Option<String>,
}

/// The body of `request`, read within the limits, as `T`; or the problem.
async fn read_body<T: serde::de::DeserializeOwned>(
    state: &State,
    host: &Host,
    request: Request<Incoming>,
    shape: &str,
) -> Result<T, Box<Response<Body>>> {
    let body_limit = state.body_limit(host);
    let body = Limited::new(request.into_body(), body_limit);
    let problem = |status, code, detail: &str| Box::new(refuse(state, status, code, detail));
    let bytes = match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Err(_) => {
            let within = humantime::format_duration(BODY_TIMEOUT);
            let why = format!("the body did not arrive within {within}");
            return Err(problem(StatusCode::REQUEST_TIMEOUT, "body_timeout", &why));
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let why = format!(
                "the body is larger than {body_limit} bytes, the most this server accepts (the \
                 policy's [limits] input, and room for the envelope)"
            );
            return Err(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                &why,
            ));
        }
        Ok(Err(e)) => {
            let why = format!("cannot read the body: {e}");
            return Err(problem(StatusCode::BAD_REQUEST, "bad_body", &why));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        let why = format!("the body is not {shape}: {e}");
        problem(StatusCode::BAD_REQUEST, "bad_json", &why)
    })
}

/// How a run is asked for: by `caller`, with a `timeout` if given.
fn invocation(
    state: &State,
    caller: String,
    timeout: Option<&str>,
) -> Result<Invocation, Box<Response<Body>>> {
    let how = Invocation::default().caller(caller);
    match timeout.map(humantime::parse_duration) {
        None => Ok(how),
        Some(Ok(t)) => Ok(how.timeout(t)),
        Some(Err(e)) => Err(Box::new(refuse(
            state,
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!(
                "timeout `{}` is not a duration like 10s or 500ms: {e}",
                timeout.unwrap_or_default()
            ),
        ))),
    }
}

fn busy(state: &State) -> Response<Body> {
    let mut r = refuse(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "busy",
        "every run slot is taken and the queue is full: retry after a moment",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    r
}

async fn invoke(
    state: &Arc<State>,
    host: &Host,
    name: &str,
    caller: String,
    request: Request<Incoming>,
) -> Response<Body> {
    let shape = "{\"input\": JSON, \"timeout\"?: \"10s\"}";
    let body: InvokeBody = match read_body(state, host, request, shape).await {
        Ok(body) => body,
        Err(problem) => return *problem,
    };
    let how = match invocation(state, caller, body.timeout.as_deref()) {
        Ok(how) => how,
        Err(problem) => return *problem,
    };
    let Some(ticket) = Ticket::take(state) else {
        return busy(state);
    };
    // On a task of its own: a client that goes away mid-run (a timeout of
    // its own, a reset stream) does not stop the run before its end is
    // recorded.
    let (task_state, name, input) = (state.clone(), name.to_owned(), body.input.to_string());
    let run = tokio::spawn(async move { run_once(&task_state, ticket, &name, &input, how).await });
    match run.await {
        Ok(report) => json_response(status_of(&report), &report),
        Err(e) => refuse(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "host_error",
            &format!("the run's task failed: {e}"),
        ),
    }
}

/// Run `name` once when `ticket` gets a slot, and count what came of it.
/// A run cancelled while it waited, or still waiting when shutdown's grace
/// ran out, does not start.
async fn run_once(
    state: &Arc<State>,
    ticket: Ticket,
    name: &str,
    input: &str,
    how: Invocation,
) -> Report {
    let (_slot, _flight) = ticket.slot().await;
    let cancel = how.cancel.clone().unwrap_or_default();
    if cancel.is_cancelled() || state.closing.load(Ordering::Acquire) {
        let why = match cancel.is_cancelled() {
            true => "cancelled before it started",
            false => "the server is shutting down; the run did not start",
        };
        return Report::not_run(Some(name), Code::Cancelled, why);
    }
    let how = how.cancel(cancel.clone());
    let id = how.run.clone().unwrap_or_else(Invocation::new_run_id);
    let how = how.run_id(id.clone());
    let live = Live::enter(state, id, cancel);
    // The host in force once the run has its slot: a withdrawal taken
    // while it waited counts. Loading (and compiling) blocks: not on the
    // threads that serve requests.
    let host = state.host();
    let loading = {
        let (host, name, how) = (host.clone(), name.to_owned(), how.clone());
        tokio::task::spawn_blocking(move || host.action_for(&name, &how))
    };
    let log = host.audit_log();
    let report = match loading.await {
        Ok(Ok(action)) => match action.invoke_with(input, &how).await {
            Ok(outcome) => Report::of_outcome(&outcome, log),
            Err(e) => Report::of_error(Some(name), &e, Some(log)),
        },
        Ok(Err(e)) => Report::of_error(Some(name), &e, Some(log)),
        Err(e) => Report::not_run(Some(name), Code::HostError, &format!("loading failed: {e}")),
    };
    drop(live);
    let known = host.policy().actions.contains_key(name);
    state.metrics.ended(&report, known);
    if matches!(
        report.code,
        Some(Code::AuditTampered | Code::AuditUnavailable)
    ) {
        let why = report.message.clone().unwrap_or_default();
        tracing::error!("{why}");
        *state.fault.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }
    report
}

/// A run in flight, cancellable by shutdown, for as long as it lives.
struct Live<'a> {
    state: &'a State,
    id: String,
}

impl<'a> Live<'a> {
    fn enter(state: &'a State, id: String, cancel: Cancel) -> Live<'a> {
        let mut live = state.live.lock().unwrap_or_else(|p| p.into_inner());
        live.insert(id.clone(), cancel);
        Live { state, id }
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        let mut live = self.state.live.lock().unwrap_or_else(|p| p.into_inner());
        live.remove(&self.id);
    }
}

/// `POST /v1/runs`: queue a run and answer at once with its id.
async fn start(
    state: &Arc<State>,
    host: &Host,
    caller: String,
    request: Request<Incoming>,
) -> Response<Body> {
    let shape = "{\"action\": NAME, \"input\": JSON, \"timeout\"?: \"10s\"}";
    let body: StartBody = match read_body(state, host, request, shape).await {
        Ok(body) => body,
        Err(problem) => return *problem,
    };
    let how = match invocation(state, caller.clone(), body.timeout.as_deref()) {
        Ok(how) => how,
        Err(problem) => return *problem,
    };
    let Some(ticket) = Ticket::take(state) else {
        return busy(state);
    };
    let id = Invocation::new_run_id();
    let run = Arc::new(Run::new(
        id.clone(),
        body.action.clone(),
        caller,
        Cancel::default(),
    ));
    state.runs.insert(run.clone());
    let observer: airlock::audit::Observer = {
        let run = run.clone();
        Arc::new(move |seq, fields| run.record(seq, fields))
    };
    let how = how
        .run_id(id.clone())
        .observer(observer)
        .cancel(run.cancel.clone());
    let task_state = state.clone();
    tokio::spawn(async move {
        let state = task_state;
        let report = if run.cancel.is_cancelled() {
            drop(ticket);
            Report::not_run(
                Some(&run.action),
                Code::Cancelled,
                "cancelled before it started",
            )
        } else {
            let input = body.input.to_string();
            let started = {
                let run = run.clone();
                async move {
                    run.set_phase(Phase::Running);
                }
            };
            let ticket = ticket.then(started);
            run_once(&state, ticket, &run.action, &input, how).await
        };
        run.set_phase(Phase::Finished(Box::new(report)));
        state.runs.finished(&run);
    });
    let mut r = json_response(
        StatusCode::ACCEPTED,
        &serde_json::json!({ "run": id, "state": "queued" }),
    );
    if let Ok(location) = http::HeaderValue::from_str(&format!("/v1/runs/{id}")) {
        r.headers_mut().insert(header::LOCATION, location);
    }
    r
}

fn unknown_run(state: &State, id: &str) -> Response<Body> {
    refuse(
        state,
        StatusCode::NOT_FOUND,
        "unknown_run",
        &format!(
            "no run {id} started by this caller is kept (finished runs are kept for {}, at most \
             {} of each caller's)",
            humantime::format_duration(crate::runs::KEEP_FOR),
            crate::runs::KEEP_AT_MOST
        ),
    )
}

fn run_state(run: &Run) -> serde_json::Value {
    let (state, outcome) = match run.phase() {
        Phase::Queued => ("queued", None),
        Phase::Running => ("running", None),
        Phase::Finished(report) => ("finished", Some(report)),
    };
    serde_json::json!({
        "run": run.id,
        "action": run.action,
        "state": state,
        "cancelled": run.cancel.is_cancelled(),
        "outcome": outcome,
    })
}

/// `GET`, `DELETE /v1/runs/{id}` and `GET /v1/runs/{id}/events`.
fn run_endpoint(
    state: &State,
    method: &Method,
    id: &str,
    events: bool,
    caller: &str,
) -> Response<Body> {
    let Some(run) = state.runs.get(id, caller) else {
        return unknown_run(state, id);
    };
    match (method.clone(), events) {
        (Method::GET, false) => json_response(StatusCode::OK, &run_state(&run)),
        (Method::GET, true) => {
            let mut r = Response::new(Channel(run.stream()).boxed());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            r
        }
        (Method::DELETE, false) => {
            if matches!(run.phase(), Phase::Finished(_)) {
                return refuse(
                    state,
                    StatusCode::CONFLICT,
                    "run_finished",
                    &format!("run {id} has finished already; nothing to cancel"),
                );
            }
            run.cancel.cancel();
            json_response(StatusCode::ACCEPTED, &run_state(&run))
        }
        (_, true) => not_allowed(state, "GET"),
        _ => not_allowed(state, "GET, DELETE"),
    }
}

/// A place in the queue for a run slot, taken before the request is
/// answered `429` or accepted.
pub struct Ticket {
    state: Arc<State>,
    then: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Ticket {
    /// A place, if the runs waiting are fewer than the free slots and the
    /// queue's room together.
    fn take(state: &Arc<State>) -> Option<Ticket> {
        let waiting = state.metrics.queued.fetch_add(1, Ordering::AcqRel);
        let room = state.queue + state.slots.available_permits() as u64;
        if waiting >= room {
            state.metrics.queued.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Ticket {
            state: state.clone(),
            then: None,
        })
    }

    /// Do `then` once the slot is had.
    fn then(mut self, then: impl Future<Output = ()> + Send + 'static) -> Ticket {
        self.then = Some(Box::pin(then));
        self
    }

    /// Wait for the slot; the run counts as in flight (and no longer as
    /// queued) from then until the [`Flight`] is dropped.
    async fn slot(mut self) -> (Option<tokio::sync::OwnedSemaphorePermit>, Flight) {
        let permit = self.state.slots.clone().acquire_owned().await.ok();
        let flight = Flight::new(&self.state);
        if let Some(then) = self.then.take() {
            then.await;
        }
        (permit, flight)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.state.metrics.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A run counted in flight.
struct Flight(Arc<State>);

impl Flight {
    fn new(state: &Arc<State>) -> Flight {
        state.metrics.in_flight.fetch_add(1, Ordering::AcqRel);
        Flight(state.clone())
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.0.metrics.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn only_plain_paths_are_routed() {
        assert_eq!(
            segments("/v1/actions/a/invoke"),
            Some(vec!["v1", "actions", "a", "invoke"])
        );
        for bad in [
            "/v1/actions/../invoke",
            "/v1/actions/./a",
            "/v1//actions",
            "/v1/actions/%61",
            "/v1/actions/a%2Finvoke",
            "/v1/actions/é",
            "/v1/actions/a b",
            "/v1/",
            "v1",
        ] {
            assert_eq!(segments(bad), None, "{bad}");
        }
    }
}
