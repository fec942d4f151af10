//! The activity `airlock.invoke`: one airlock run per attempt, its outcome
//! mapped onto what Temporal does next. Every attempt leaves a record in
//! this worker's log: the run's, or a `run.refused` when there was nothing
//! to run (a malformed call, an action refused, an attempt cancelled or out
//! of time before it started).

use airlock::report::{Code, Report, Status};
use airlock::{Cancel, Failure, Host, Invocation, Outcome};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use temporalio_common::data_converters::RawValue;
use temporalio_macros::activities;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// What the workflow asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    action: String,
    input: Value,
    /// Shortens the grant's time limit (a longer one changes nothing).
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// How often a run heartbeats when the activity has no heartbeat timeout:
/// heartbeats are how a cancellation reaches a running activity.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The most of a malformed call's description that is recorded and
/// returned: the workflow wrote it.
const WHY_MAX: usize = 300;

/// The first fault of this worker's own (its audit log, its engine, its
/// mounts); the worker stops polling when there is one, so that healthy
/// workers take the activities.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    first: Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl Faults {
    fn fail(&self, why: &str) {
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(why.to_owned());
            // One waiter (the worker's watcher); the permit is kept if it
            // is not waiting yet.
            self.notify.notify_one();
        }
    }

    pub(crate) fn failure(&self) -> Option<String> {
        self.first.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) async fn failed(&self) {
        if self.failure().is_none() {
            self.notify.notified().await;
        }
    }
}

/// The runs in flight, so that a worker that stops for any reason ends
/// them (each end recorded) before it seals its log and exits.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    runs: Mutex<(u64, HashMap<u64, Cancel>)>,
    idle: tokio::sync::Notify,
}

/// One run's place in [`Inflight`], given up when dropped.
struct Entry<'a> {
    inflight: &'a Inflight,
    id: u64,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let mut runs = self.inflight.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.1.remove(&self.id);
        if runs.1.is_empty() {
            self.inflight.idle.notify_waiters();
        }
    }
}

impl Inflight {
    fn enter(&self, cancel: Cancel) -> Entry<'_> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.0 += 1;
        let id = runs.0;
        runs.1.insert(id, cancel);
        Entry { inflight: self, id }
    }

    /// Cancel every run in flight and wait, up to `patience`, until each
    /// has ended; whether they all did.
    pub(crate) async fn end_all(&self, patience: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.idle.notified();
                tokio::pin!(idle);
                idle.as_mut().enable();
                {
                    let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
                    if runs.1.is_empty() {
                        return;
                    }
                    runs.1.values().for_each(Cancel::cancel);
                }
                idle.await;
            }
        };
        tokio::time::timeout(patience, wait).await.is_ok()
    }
}

/// The activities a worker registers: one host, shared by every run.
pub(crate) struct AirlockActivities {
    host: Host,
    identity: String,
    faults: Arc<Faults>,
    inflight: Arc<Inflight>,
}

#[activities]
impl AirlockActivities {
    /// Run the call's action on its input once, fenced and recorded. The
    /// argument is taken raw, so that a malformed one is airlock's to
    /// refuse (on the record) rather than the SDK's.
    #[activity(name = "airlock.invoke")]
    // The macro also makes a marker constant per activity, for workflows
    // written in Rust to schedule it by; this crate schedules nothing.
    #[allow(dead_code)]
    pub(crate) async fn invoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: RawValue,
    ) -> Result<Value, ActivityError> {
        self.run(&ctx, call).await
    }
}

/// How a run that never started ends for Temporal.
enum NotRun {
    /// Nothing to run: not retried.
    BadInput,
    /// Cancelled before the run started.
    Cancelled,
    /// The attempt's time was up before the run started: retried, as
    /// Temporal's own timeout would be.
    OutOfTime,
}

impl AirlockActivities {
    pub(crate) fn new(
        host: Host,
        identity: String,
        faults: Arc<Faults>,
        inflight: Arc<Inflight>,
    ) -> AirlockActivities {
        AirlockActivities {
            host,
            identity,
            faults,
            inflight,
        }
    }

    async fn run(&self, ctx: &ActivityContext, call: RawValue) -> Result<Value, ActivityError> {
        let call = match decode(call) {
            Ok(call) => call,
            Err(why) => return Err(self.not_run(ctx, None, NotRun::BadInput, &why).await),
        };
        if let Err(why) = airlock::rules::manifest::check_action_name(&call.action) {
            return Err(self.not_run(ctx, None, NotRun::BadInput, &why).await);
        }
        let action_name = call.action.as_str();
        let cancel = Cancel::default();
        let _entry = self.inflight.enter(cancel.clone());
        let run = Invocation::new_run_id();
        let how = self
            .attempt(ctx, Invocation::default())
            .run_id(run.clone())
            .cancel(cancel.clone());
        let log = self.host.audit_log();
        let every = match ctx.info().heartbeat_timeout {
            // An activity without one has it as zero.
            Some(t) if !t.is_zero() => (t / 2).max(Duration::from_millis(100)),
            _ => HEARTBEAT,
        };
        // Runs shorter than the interval never heartbeat.
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let details = json!({ "airlock_run": run, "worker": self.identity });

        // Loading (and compiling) blocks: not on the runtime's threads;
        // heartbeating meanwhile, and cancelled if the attempt is.
        let loading = {
            let (host, name, how) = (self.host.clone(), call.action.clone(), how.clone());
            tokio::task::spawn_blocking(move || host.action_for(&name, &how))
        };
        tokio::pin!(loading);
        let loaded = loop {
            tokio::select! {
                biased;
                () = ctx.cancelled() => break None,
                loaded = &mut loading => break Some(loaded),
                _ = beat.tick() => heartbeat(ctx, &details).await,
            }
        };
        let action = match loaded {
            None => {
                let why = "the attempt was cancelled before its run started";
                return Err(self
                    .not_run(ctx, Some(action_name), NotRun::Cancelled, why)
                    .await);
            }
            Some(Ok(Ok(action))) => action,
            Some(Ok(Err(e))) => {
                let report = Report::of_error(Some(action_name), &e, Some(log));
                return Err(self.fail(&report, None, false));
            }
            Some(Err(e)) => {
                let why = format!("loading failed: {e}");
                let report = Report::not_run(Some(action_name), Code::HostError, &why);
                return Err(self.fail(&report, None, false));
            }
        };

        // The smallest of the grant's limit, the call's and what is left of
        // the attempt, measured now that the action is loaded. When the
        // attempt's deadline is the one that ends the run, Temporal retries
        // it, as it would its own timeout.
        let grant = action.grant().limits.timeout;
        let asked = call.timeout_ms.map(Duration::from_millis);
        let left = ctx.info().deadline.map(|d| {
            d.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
        if left.is_some_and(|l| l.is_zero()) {
            let why = "the attempt's time was up before its run could start";
            return Err(self
                .not_run(ctx, Some(action_name), NotRun::OutOfTime, why)
                .await);
        }
        if ctx.is_cancelled() {
            let why = "the attempt was cancelled before its run started";
            return Err(self
                .not_run(ctx, Some(action_name), NotRun::Cancelled, why)
                .await);
        }
        let deadline_binds = left.is_some_and(|l| l < grant && asked.is_none_or(|asked| l < asked));
        let how = match asked.into_iter().chain(left).min() {
            Some(limit) => how.timeout(limit),
            None => how,
        };

        let input = call.input.to_string();
        let invoke = action.invoke_with(&input, &how);
        tokio::pin!(invoke);
        let result = loop {
            tokio::select! {
                biased;
                // Cancelled by the workflow, by a timeout, or by the
                // worker's shutdown grace: the run ends now, recorded.
                () = ctx.cancelled(), if !cancel.is_cancelled() => cancel.cancel(),
                result = &mut invoke => break result,
                _ = beat.tick() => heartbeat(ctx, &details).await,
            }
        };
        match result {
            Ok(outcome) => {
                let report = Report::of_outcome(&outcome, log);
                match report.status {
                    Status::Ok => Ok(report.output.unwrap_or(Value::Null)),
                    _ => Err(self.fail(&report, Some(&outcome), deadline_binds)),
                }
            }
            // Refused before the run started (an input over the policy's
            // limit, a mount that cannot be opened): on the record too.
            Err(e) => {
                let code = Code::of_error(&e);
                if !matches!(
                    code,
                    Code::AuditBusy | Code::AuditTampered | Code::AuditUnavailable
                ) {
                    let why = airlock::report::chain(&e);
                    if let Err(record) = self.refuse_request(&how, why).await {
                        let report = Report::of_error(Some(action_name), &record, Some(log));
                        return Err(self.fail(&report, None, false));
                    }
                }
                let report = Report::of_error(Some(action_name), &e, Some(log));
                Err(self.fail(&report, None, false))
            }
        }
    }

    /// Record an attempt that started no run, and how it ends for Temporal.
    async fn not_run(
        &self,
        ctx: &ActivityContext,
        action: Option<&str>,
        how: NotRun,
        why: &str,
    ) -> ActivityError {
        let why = cut(&airlock::rules::doc::one_line(why), WHY_MAX);
        let invocation = self.attempt(ctx, Invocation::default());
        if let Err(e) = self.refuse_request(&invocation, why.clone()).await {
            let report = Report::of_error(action, &e, Some(self.host.audit_log()));
            return self.fail(&report, None, false);
        }
        match how {
            NotRun::BadInput => {
                self.fail(&Report::not_run(action, Code::BadInput, &why), None, false)
            }
            NotRun::Cancelled => {
                let report = Report::not_run(action, Code::Cancelled, &why);
                self.fail(&report, None, false)
            }
            NotRun::OutOfTime => {
                self.fail(&Report::not_run(action, Code::Timeout, &why), None, true)
            }
        }
    }

    /// [`Host::refuse_request`], off the runtime's threads (it syncs).
    async fn refuse_request(&self, how: &Invocation, why: String) -> Result<(), airlock::Error> {
        let (host, how) = (self.host.clone(), how.clone());
        match tokio::task::spawn_blocking(move || host.refuse_request(&how, &why)).await {
            Ok(recorded) => recorded,
            // Never aborted: only a panic ends it early, and it goes on.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// `how` with the caller and Temporal's names for this attempt.
    fn attempt(&self, ctx: &ActivityContext, how: Invocation) -> Invocation {
        let info = ctx.info();
        let mut how = how
            .caller(format!("temporal:{}", self.identity))
            .context("temporal.namespace", &info.namespace);
        let optional = [
            ("temporal.workflow_id", &info.workflow_id),
            ("temporal.workflow_run_id", &info.workflow_run_id),
            ("temporal.workflow_type", &info.workflow_type),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                how = how.context(key, value);
            }
        }
        how.context("temporal.activity_id", &info.activity_id)
            .context("temporal.attempt", info.attempt.to_string())
            .context("temporal.task_queue", &info.task_queue)
            .context("temporal.worker", &self.identity)
    }

    /// The activity's failure for `report`, which did not end `ok`;
    /// `deadline_binds`: the attempt's own deadline set the time limit.
    fn fail(
        &self,
        report: &Report,
        outcome: Option<&Outcome>,
        deadline_binds: bool,
    ) -> ActivityError {
        let code = report.code.unwrap_or(Code::HostError);
        let details = serde_json::to_value(report).unwrap_or(Value::Null);
        if code == Code::Cancelled {
            return ActivityError::cancelled_with_details(details);
        }
        let message = report.message.clone().unwrap_or_else(|| code.to_string());
        if code.status() == Status::HostFault {
            tracing::error!("{message}; this worker stops taking activities");
            self.faults.fail(&message);
        }
        let says = match outcome.map(|o| &o.result) {
            Some(Err(Failure::Action(message))) => action_says_retryable(message),
            _ => None,
        };
        let retry = retryable(code, says) || (code == Code::Timeout && deadline_binds);
        ActivityError::application(
            ApplicationFailure::builder(message)
                .type_name(code.to_string())
                .non_retryable(!retry)
                .details(details)
                .build(),
        )
    }
}

async fn heartbeat(ctx: &ActivityContext, details: &Value) {
    if let Err(e) = ctx.record_heartbeat(details.clone()).await {
        tracing::warn!("cannot record a heartbeat: {e}");
    }
}

/// The call in the activity's one JSON argument, or why it is not one
/// (without repeating what the workflow sent).
fn decode(raw: RawValue) -> Result<Call, String> {
    const SHAPE: &str = "the activity's argument is not {\"action\": NAME, \"input\": JSON} \
                         (with \"timeout_ms\" optional)";
    let [payload] = raw.payloads.as_slice() else {
        return Err(format!(
            "{SHAPE}: it has {} arguments, not one",
            raw.payloads.len()
        ));
    };
    let encoding = payload.metadata.get("encoding").map(Vec::as_slice);
    if encoding != Some(b"json/plain".as_slice()) {
        return Err(format!("{SHAPE}: it is not encoded as JSON"));
    }
    serde_json::from_slice(&payload.data).map_err(|e| {
        // serde's message can quote the workflow's values: only its kind.
        let kind = match e.classify() {
            serde_json::error::Category::Data => "the fields are not those of a call",
            _ => "it is not JSON",
        };
        format!("{SHAPE}: {kind}")
    })
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Whether Temporal should try `code` again: an action's error when the
/// action does not say otherwise, and a host fault (on another worker, as
/// this one stops); never a refusal, a bad input or a limit, which would
/// end the same way.
fn retryable(code: Code, action_says: Option<bool>) -> bool {
    match code.status() {
        Status::ActionError => action_says.unwrap_or(true),
        Status::HostFault => true,
        Status::Ok | Status::Refused | Status::Limit => false,
    }
}

/// What an action's error message says of retrying: a JSON object with a
/// boolean `"retryable"` says it; anything else says nothing.
fn action_says_retryable(message: &str) -> Option<bool> {
    serde_json::from_str::<Value>(message)
        .ok()?
        .get("retryable")?
        .as_bool()
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::Payload;

    #[test]
    fn only_action_errors_and_host_faults_are_retried() {
        for code in Code::ALL {
            let expected = matches!(
                code,
                Code::ActionFailed
                    | Code::AuditBusy
                    | Code::AuditTampered
                    | Code::AuditUnavailable
                    | Code::HostError
            );
            assert_eq!(retryable(*code, None), expected, "{code}");
        }
        // Only an action's error heeds what the action says.
        for code in [Code::NotApproved, Code::Timeout, Code::Trap] {
            assert!(!retryable(code, Some(true)), "{code}");
        }
        assert!(retryable(Code::AuditUnavailable, Some(false)));
        assert!(!retryable(Code::ActionFailed, Some(false)));
        assert!(retryable(Code::ActionFailed, Some(true)));
    }

    #[test]
    fn an_action_says_retryable_only_with_a_json_boolean() {
        let says = action_says_retryable;
        assert_eq!(
            says(r#"{"retryable": false, "message": "bad card"}"#),
            Some(false)
        );
        assert_eq!(says(r#"{"retryable": true}"#), Some(true));
        for silent in [
            "upstream returned 503",
            r#"{"retryable": "no"}"#,
            r#"{"message": "x"}"#,
            r#"[{"retryable": false}]"#,
            r#"{"retryable": false"#,
            "",
        ] {
            assert_eq!(says(silent), None, "{silent}");
        }
    }

    fn payload(encoding: &str, data: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), encoding.as_bytes().to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Payload::default()
        }
    }

    #[test]
    fn a_call_is_one_json_argument_and_a_bad_one_is_not_echoed() {
        let call = decode(RawValue::new(vec![payload(
            "json/plain",
            r#"{"action": "hello", "input": {"name": "Ada"}, "timeout_ms": 500}"#,
        )]))
        .unwrap();
        assert_eq!(
            (call.action.as_str(), call.timeout_ms),
            ("hello", Some(500))
        );
        let secret = "sk_live_do_not_echo";
        let bad = [
            (vec![], "has 0 arguments"),
            (
                vec![payload("json/plain", "{}"), payload("json/plain", "{}")],
                "has 2 arguments",
            ),
            (vec![payload("binary/plain", "x")], "not encoded as JSON"),
            (
                vec![payload("json/plain", &format!("\"{secret}\""))],
                "not those of a call",
            ),
            (
                vec![payload(
                    "json/plain",
                    &format!(r#"{{"action": "x", "{secret}": 1}}"#),
                )],
                "not those of a call",
            ),
            (vec![payload("json/plain", r#"{"action": "x""#)], "not JSON"),
        ];
        for (payloads, expected) in bad {
            let why = decode(RawValue::new(payloads)).unwrap_err();
            assert!(why.contains(expected), "{why}");
            assert!(!why.contains(secret), "{why}");
        }
    }

    #[tokio::test]
    async fn ending_all_runs_cancels_each_and_waits_for_it() {
        let inflight = Arc::new(Inflight::default());
        assert!(
            inflight.end_all(Duration::from_millis(10)).await,
            "none: at once"
        );
        let cancels: Vec<Cancel> = (0..3).map(|_| Cancel::default()).collect();
        let mut tasks = Vec::new();
        for cancel in &cancels {
            let (inflight, cancel) = (inflight.clone(), cancel.clone());
            let (entered, ready) = tokio::sync::oneshot::channel();
            tasks.push(tokio::spawn(async move {
                let _entry = inflight.enter(cancel.clone());
                entered.send(()).unwrap();
                cancel.cancelled().await;
            }));
            ready.await.unwrap();
        }
        assert!(inflight.end_all(Duration::from_secs(10)).await);
        assert!(cancels.iter().all(Cancel::is_cancelled));
        for task in tasks {
            task.await.unwrap();
        }
        // One that never ends is waited for no longer than asked.
        let stuck = Cancel::default();
        let _entry = inflight.enter(stuck.clone());
        assert!(!inflight.end_all(Duration::from_millis(50)).await);
        assert!(stuck.is_cancelled());
    }
}
