//! The activity `airlock.invoke`: one airlock run per attempt, its outcome
//! mapped onto what Temporal does next.

use airlock::report::{Code, Report, Status};
use airlock::{Cancel, Failure, Host, Invocation, Outcome};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
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

/// The first audit-log failure under a run; the worker stops polling when
/// there is one.
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

/// The activities a worker registers: one host, shared by every run.
pub(crate) struct AirlockActivities {
    host: Host,
    identity: String,
    faults: Arc<Faults>,
}

#[activities]
impl AirlockActivities {
    /// Run `call.action` on `call.input` once, fenced and recorded.
    #[activity(name = "airlock.invoke")]
    // The macro also makes a marker constant per activity, for workflows
    // written in Rust to schedule it by; this crate schedules nothing.
    #[allow(dead_code)]
    pub(crate) async fn invoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        call: Value,
    ) -> Result<Value, ActivityError> {
        self.run(&ctx, call).await
    }
}

impl AirlockActivities {
    pub(crate) fn new(host: Host, identity: String, faults: Arc<Faults>) -> AirlockActivities {
        AirlockActivities {
            host,
            identity,
            faults,
        }
    }

    async fn run(&self, ctx: &ActivityContext, call: Value) -> Result<Value, ActivityError> {
        let call: Call = match serde_json::from_value(call) {
            Ok(call) => call,
            Err(e) => {
                let why = format!(
                    "the activity's input is not {{\"action\": NAME, \"input\": JSON, \
                     \"timeout_ms\": optional}}: {e}"
                );
                // On the record, as every attempt on the workflow's history
                // is; nothing was chosen to run.
                let how = self.attempt(ctx, Invocation::default());
                let report = match self.host.refuse_request(&how, &why) {
                    Ok(()) => Report::not_run(None, Code::BadInput, &why),
                    Err(e) => Report::of_error(None, &e, Some(self.host.audit_log())),
                };
                return Err(self.fail(&report, None));
            }
        };
        let cancel = Cancel::default();
        let run = Invocation::new_run_id();
        let how = self
            .invocation(ctx, &call)
            .run_id(run.clone())
            .cancel(cancel.clone());
        let log = self.host.audit_log();

        // Loading (and compiling) blocks: not on the runtime's threads.
        let loading = {
            let (host, name, how) = (self.host.clone(), call.action.clone(), how.clone());
            tokio::task::spawn_blocking(move || host.action_for(&name, &how))
        };
        let action = match loading.await {
            Ok(Ok(action)) => action,
            Ok(Err(e)) => {
                return Err(self.fail(&Report::of_error(Some(&call.action), &e, Some(log)), None));
            }
            Err(e) => {
                let why = format!("loading failed: {e}");
                return Err(self.fail(
                    &Report::not_run(Some(&call.action), Code::HostError, &why),
                    None,
                ));
            }
        };

        let input = call.input.to_string();
        let invoke = action.invoke_with(&input, &how);
        tokio::pin!(invoke);
        let every = ctx
            .info()
            .heartbeat_timeout
            .map_or(HEARTBEAT, |t| (t / 2).max(Duration::from_millis(100)));
        // Runs shorter than the interval never heartbeat.
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let details = json!({ "airlock_run": run, "worker": self.identity });
        let result = loop {
            tokio::select! {
                result = &mut invoke => break result,
                // Cancelled by the workflow, by a timeout, or by the
                // worker's shutdown grace: the run ends now, recorded.
                () = ctx.cancelled(), if !cancel.is_cancelled() => cancel.cancel(),
                _ = beat.tick() => {
                    if let Err(e) = ctx.record_heartbeat(details.clone()).await {
                        tracing::warn!("cannot record a heartbeat: {e}");
                    }
                }
            }
        };
        match result {
            Ok(outcome) => {
                let report = Report::of_outcome(&outcome, log);
                match report.status {
                    Status::Ok => Ok(report.output.unwrap_or(Value::Null)),
                    _ => Err(self.fail(&report, Some(&outcome))),
                }
            }
            Err(e) => Err(self.fail(&Report::of_error(Some(&call.action), &e, Some(log)), None)),
        }
    }

    /// The run as Temporal names it: who asked, the attempt's identifiers,
    /// and the smaller of the activity's deadline and the call's timeout.
    fn invocation(&self, ctx: &ActivityContext, call: &Call) -> Invocation {
        let how = self.attempt(ctx, Invocation::default());
        let left = ctx.info().deadline.map(|d| {
            d.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
        let asked = call.timeout_ms.map(Duration::from_millis);
        match left.into_iter().chain(asked).min() {
            Some(timeout) => how.timeout(timeout),
            None => how,
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

    /// The activity's failure for `report`, which did not end `ok`.
    fn fail(&self, report: &Report, outcome: Option<&Outcome>) -> ActivityError {
        let code = report.code.unwrap_or(Code::HostError);
        let details = serde_json::to_value(report).unwrap_or(Value::Null);
        if code == Code::Cancelled {
            return ActivityError::cancelled_with_details(details);
        }
        let message = report.message.clone().unwrap_or_else(|| code.to_string());
        if matches!(
            code,
            Code::AuditBusy | Code::AuditTampered | Code::AuditUnavailable
        ) {
            tracing::error!("{message}; stopping");
            self.faults.fail(&message);
        }
        let says = match outcome.map(|o| &o.result) {
            Some(Err(Failure::Action(message))) => action_says_retryable(message),
            _ => None,
        };
        ActivityError::application(
            ApplicationFailure::builder(message)
                .type_name(code.to_string())
                .non_retryable(!retryable(code, says))
                .details(details)
                .build(),
        )
    }
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
        for (code, say) in [
            (Code::ActionFailed, false),
            (Code::NotApproved, true),
            (Code::Timeout, true),
        ] {
            assert!(
                !retryable(code, Some(say)) || code == Code::ActionFailed,
                "{code}"
            );
        }
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
}
