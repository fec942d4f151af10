//! One run: a fresh store and instance, the grant's capabilities, the
//! limits, and a record of everything from `run.start` to `run.end`.

use super::EPOCH_TICK;
use super::bindings::ActionPre;
use super::limits::{LimitExceeded, RunLimiter};
use super::state::RunState;
use crate::Error;
use crate::caps::config::Values;
use crate::caps::fs::{FsState, Mounts};
use crate::caps::log::{Capture, Captured, LogState};
use crate::caps::net::{NetConfig, NetGrant, NetHooks};
use crate::caps::secrets::{Redactor, Secrets};
use crate::outcome::{Failure, Outcome};
use crate::{Cancel, Invocation};
use airlock_audit::EventKind;
use airlock_audit::{AuditError, AuditLog, Canonical, Checkpointer, Event, Recorder, RunInfo};
use airlock_rules::grant::{Grant, SecretGrant};
use airlock_rules::manifest::Manifest;
use airlock_rules::policy::SyncPolicy;
use airlock_rules::provenance::Digest;
use airlock_rules::units::ByteSize;
use serde::de::IgnoredAny;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;

/// An action compiled, pre-linked and granted: everything a run needs that
/// does not change between runs.
pub struct Prepared {
    /// The validated manifest.
    pub manifest: Manifest,
    /// The component's digest.
    pub digest: Digest,
    /// What the action gets.
    pub grant: Grant,
    pub(crate) secrets: Arc<BTreeMap<String, SecretGrant>>,
    pub(crate) config: Arc<Values>,
    pub(crate) net: Arc<NetGrant>,
    pub(crate) pre: ActionPre<RunState>,
    /// `name@version`, formatted once.
    pub(crate) label: String,
    /// Loaded as a development run (`Host::load_dev`): its `run.start`
    /// and `run.end` say so.
    pub dev: bool,
    /// The Sigstore attestation it was approved with, which every
    /// `run.start` records.
    pub attestation: Option<airlock_rules::provenance::sigstore::Attestation>,
    /// The grant's canonical JSON, as every `run.start` records it:
    /// serialised once, when the action is loaded (and the hash of what
    /// precedes it in those records, once the first is written).
    pub(crate) grant_json: Arc<Canonical>,
}

impl Prepared {
    /// Everything a run of `manifest`'s action with `grant` needs that does
    /// not change between runs.
    pub(crate) fn new(
        manifest: Manifest,
        digest: Digest,
        grant: Grant,
        pre: ActionPre<RunState>,
        dev: bool,
        attestation: Option<airlock_rules::provenance::sigstore::Attestation>,
    ) -> Result<Prepared, Error> {
        let label = format!("{}@{}", manifest.action.name, manifest.action.version);
        // The grant is strings, lists and integers within the canonical
        // subset; one that is not would leave runs without their record.
        let grant_json = serde_json::to_value(&grant)
            .ok()
            .and_then(|v| Canonical::of(&v))
            .ok_or_else(|| {
                Error::runtime(
                    format!("the grant of {label} cannot be written to the audit log"),
                    None,
                )
            })?;
        Ok(Prepared {
            secrets: Arc::new(grant.secrets.clone()),
            config: Arc::new(Values::of(&manifest, &grant)),
            net: Arc::new(NetGrant::new(&grant)),
            grant_json: Arc::new(grant_json),
            label,
            grant,
            manifest,
            digest,
            pre,
            dev,
            attestation,
        })
    }

    /// `name@version`.
    pub fn label(&self) -> String {
        self.label.clone()
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("action", &self.label())
            .field("digest", &self.digest)
            .finish()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    airlock_rules::provenance::hex(&Sha256::digest(bytes))
}

/// What the host needs to run any action.
pub struct Runner<'a> {
    /// The host's engine.
    pub engine: &'a Engine,
    /// The host's opened mounts.
    pub mounts: &'a Mounts,
    /// The largest input accepted.
    pub max_input: ByteSize,
    /// How the host reaches the network.
    pub net: &'a Arc<NetConfig>,
    /// The host's audit log.
    pub audit: &'a Arc<AuditLog>,
    /// The host's checkpoint thread, which seals a run's end under `sync =
    /// "group"` and `"none"`.
    pub checkpointer: &'a Checkpointer,
}

impl Runner<'_> {
    /// Run `action` once on `input`, as `how` asks.
    pub async fn invoke(
        &self,
        action: &Prepared,
        input: &str,
        how: &Invocation,
    ) -> Result<Outcome, Error> {
        if input.len() as u64 > self.max_input.0 {
            return Err(Error::InputTooLarge {
                max: self.max_input,
            });
        }
        serde_json::from_str::<IgnoredAny>(input)
            .map_err(|e| Error::Input(airlock_rules::doc::one_line(&e.to_string())))?;
        let mut limits = action.grant.limits.clone();
        if let Some(shorter) = how.timeout {
            limits.timeout = limits.timeout.min(shorter);
        }
        let limits = &limits;
        let secrets = Secrets::resolve(action.secrets.clone());
        let redactor = secrets.redactor();
        let recorder = Recorder::new(
            self.audit.clone(),
            RunInfo {
                run: how.run.clone().unwrap_or_else(Invocation::new_run_id),
                action: action.label(),
                digest: action.digest,
            },
        )
        .scrubbing(Arc::new(redactor.clone()))
        .refusal_budget(limits.refusals);
        let recorder = match &how.observer {
            Some(observer) => recorder.observing(observer.clone()),
            None => recorder,
        };
        let preopens = self
            .mounts
            .preopens(&action.grant.mounts)
            .map_err(|e| Error::io("cannot open a mount for the run", e))?;

        let mut start = how
            .describe(Event::new(EventKind::RunStart))
            .allow()
            .canonical_field("grant", action.grant_json.clone())
            .field("input_sha256", sha256_hex(input.as_bytes()))
            .field("input_bytes", input.len());
        if action.dev {
            start = start.field("dev", true);
        }
        if let Some(attestation) = &action.attestation {
            let json = serde_json::to_value(attestation).unwrap_or_default();
            start = start.field("attestation", json);
        }
        if limits.timeout < action.grant.limits.timeout {
            start = start.field(
                "timeout_ms",
                u64::try_from(limits.timeout.as_millis()).unwrap_or(u64::MAX),
            );
        }
        recorder.record(start)?;
        let started = Instant::now();

        let stdout = Capture::new(limits.stdio.as_usize());
        let stderr = Capture::new(limits.stdio.as_usize());
        // The defaults deny everything else: no environment, no arguments,
        // no stdin, no preopens of wasmtime-wasi's own, no socket addresses.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let state = RunState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            net: NetHooks::new(
                self.net.clone(),
                action.net.clone(),
                &secrets,
                recorder.clone(),
                redactor.clone(),
            ),
            fs: FsState {
                preopens,
                locations: Default::default(),
            },
            secrets,
            config: action.config.clone(),
            log: LogState::new(limits.log_records),
            limiter: RunLimiter::new(limits.memory),
            recorder: recorder.clone(),
            redactor: redactor.clone(),
        };
        let mut store = Store::new(self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Each epoch tick, the run is stopped if it is past its time or
        // past its refusal budget (the host call that went past it has
        // returned its refusal; the action gets no further).
        let deadline = Instant::now() + limits.timeout + EPOCH_TICK;
        let watched = recorder.clone();
        store.set_epoch_deadline(1);
        let cancel = how.cancel.clone();
        store.epoch_deadline_callback(move |_| {
            if watched.exhausted() {
                Err(LimitExceeded::Refusals(watched.budget()).into())
            } else if cancel.as_ref().is_some_and(Cancel::is_cancelled) {
                Err(wasmtime::Error::new(Cancelled))
            } else if Instant::now() >= deadline {
                Err(wasmtime::Trap::Interrupt.into())
            } else {
                Ok(wasmtime::UpdateDeadline::Continue(1))
            }
        });

        // The epoch deadline stops guest code; the wall-clock timeout also
        // stops a run that is blocked in the host (a sleep, a slow request).
        let call = async {
            let instance = action.pre.instantiate_async(&mut store).await?;
            instance.call_run(&mut store, input).await
        };
        let called = tokio::select! {
            called = tokio::time::timeout(limits.timeout, call) => Some(called),
            () = cancelled(how.cancel.as_ref()) => None,
        };
        let duration = started.elapsed();

        let state = store.data_mut();
        let err_captured = stderr.take();
        let result = match called {
            None => Err(Failure::Cancelled),
            Some(Err(_elapsed)) => Err(Failure::Limit(LimitExceeded::Timeout(limits.timeout))),
            Some(Ok(Err(trap))) => Err(classify(
                &trap,
                state.limiter.exceeded(),
                limits.timeout,
                &err_captured,
                &redactor,
            )),
            Some(Ok(Ok(Err(message)))) => Err(Failure::Action(cut(
                &redactor.redact(&message),
                limits.output,
            ))),
            Some(Ok(Ok(Ok(output)))) => check_output(output, limits.output, &redactor, &recorder),
        };
        // Past its refusal budget a run has failed, however it ended.
        let result = match recorder.exhausted() {
            true => Err(Failure::Limit(LimitExceeded::Refusals(limits.refusals))),
            false => result,
        };

        let mut recorded = state
            .net
            .finish()
            .and_then(|()| {
                record_stdio(
                    "stdout",
                    stdout.take(),
                    &mut state.log,
                    &redactor,
                    &recorder,
                )
            })
            .and_then(|()| {
                record_stdio("stderr", err_captured, &mut state.log, &redactor, &recorder)
            })
            .and_then(|()| state.log.finish(&recorder))
            .and_then(|()| recorder.summarise());
        let peak_memory = state.limiter.peak();
        drop(store);

        // A run any of whose records could not be written has failed, and
        // its end says so.
        let result = match (&recorded, recorder.failure()) {
            (_, Some(e)) => Err(Failure::Host(e)),
            (Err(e), None) => Err(Failure::Host(e.clone())),
            (Ok(()), None) => result,
        };
        let mut end = Event::new(EventKind::RunEnd)
            .field("outcome", outcome_name(&result))
            .field(
                "duration_ms",
                u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            )
            .field("peak_memory", peak_memory);
        if action.dev {
            end = end.field("dev", true);
        }
        end = match &result {
            Ok(output) => end
                .field("output_sha256", sha256_hex(output.as_bytes()))
                .field("output_bytes", output.len()),
            Err(failure) => end.guest_text("error", &failure.to_string()),
        };
        // If the log cannot take the end now (a full volume), it is kept and
        // written first once it can: no run is left without its end.
        recorded = recorded.and(recorder.end(end).map(drop));
        // The run's end is sealed by a checkpoint: now under `always`; under
        // `group` and `none` by the checkpoint thread, together with every
        // other run that ended meanwhile (see `audit::seal`).
        if self.audit.sync_policy() == SyncPolicy::Always {
            recorded = recorded.and(self.audit.checkpoint().map(drop));
        } else if recorded.is_ok() {
            self.checkpointer.wake();
        }

        let result = match (recorded, recorder.failure()) {
            (_, Some(e)) | (Err(e), None) => Err(Failure::Host(e)),
            (Ok(()), None) => result,
        };
        Ok(Outcome {
            run: recorder.info().run.clone(),
            action: action.label(),
            digest: action.digest,
            result,
            duration,
            peak_memory,
            denials: recorder.denials(),
            records: recorder.records(),
        })
    }
}

fn outcome_name(result: &Result<String, Failure>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Failure::Action(_)) => "action-error",
        Err(Failure::Limit(_)) => "limit",
        Err(Failure::Trap(_)) => "trap",
        Err(Failure::Host(_)) => "host-error",
        Err(Failure::Cancelled) => "cancelled",
    }
}

/// The error an epoch tick stops a cancelled run with.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run was cancelled by its caller")
    }
}

impl std::error::Error for Cancelled {}

/// Completes when `cancel` is cancelled; never without one.
async fn cancelled(cancel: Option<&Cancel>) {
    match cancel {
        Some(cancel) => cancel.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Turn a trap into the failure the operator should see.
fn classify(
    trap: &wasmtime::Error,
    exceeded: Option<&LimitExceeded>,
    timeout: std::time::Duration,
    stderr: &Captured,
    redactor: &Redactor,
) -> Failure {
    if let Some(limit) = exceeded {
        return Failure::Limit(limit.clone());
    }
    if trap.downcast_ref::<Cancelled>().is_some() {
        return Failure::Cancelled;
    }
    if let Some(limit) = trap.downcast_ref::<LimitExceeded>() {
        return Failure::Limit(limit.clone());
    }
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return Failure::Limit(LimitExceeded::Timeout(timeout));
    }
    if let Some(audit) = trap.downcast_ref::<AuditError>() {
        return Failure::Host(audit.clone());
    }
    let reason = trap
        .downcast_ref::<wasmtime::Trap>()
        .map(|t| t.to_string())
        .unwrap_or_else(|| airlock_rules::doc::one_line(&format!("{trap}")));
    let text = String::from_utf8_lossy(&stderr.bytes);
    let message = match panic_message(&text) {
        Some(panic) => format!("{reason}; {panic}"),
        None => reason,
    };
    Failure::Trap(airlock_rules::doc::one_line(&redactor.redact(&message)))
}

/// What a guest printed when it panicked: Rust's `panicked at FILE:LINE:`
/// and the message lines after it, or else the last line of stderr.
fn panic_message(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(at) = lines.iter().rposition(|l| l.contains("panicked at")) {
        let rest = lines[at..]
            .iter()
            .take_while(|l| !l.starts_with("note: run with"));
        return Some(rest.copied().collect::<Vec<_>>().join(" "));
    }
    lines.last().map(|l| format!("last stderr line: {l}"))
}

/// Cut a message the action returned to the output limit.
fn cut(message: &str, limit: ByteSize) -> String {
    message[..message.floor_char_boundary(limit.as_usize())].to_owned()
}

/// Enforce the output limit, keep secrets out, and insist on JSON.
fn check_output(
    output: String,
    limit: ByteSize,
    redactor: &Redactor,
    recorder: &Recorder,
) -> Result<String, Failure> {
    if output.len() as u64 > limit.0 {
        return Err(Failure::Limit(LimitExceeded::Output {
            limit,
            size: output.len() as u64,
        }));
    }
    let redacted = redactor.redact(&output);
    if redacted != output {
        let _ =
            recorder.record(Event::new(EventKind::SecretLeak).target("output").deny(
                "the output contained a secret's value; it was redacted before leaving the run",
            ));
    }
    if serde_json::from_str::<IgnoredAny>(&redacted).is_err() {
        return Err(Failure::Action(
            "the action's output is not a JSON document".into(),
        ));
    }
    Ok(redacted.into_owned())
}

fn record_stdio(
    level: &'static str,
    captured: Captured,
    log: &mut LogState,
    redactor: &Redactor,
    recorder: &Recorder,
) -> Result<(), AuditError> {
    let text = String::from_utf8_lossy(&captured.bytes);
    for line in text.lines() {
        log.line(level, line, redactor, recorder)?;
    }
    if captured.dropped > 0 {
        recorder.record(
            Event::new(EventKind::StdioDropped)
                .field("stream", level)
                .field("bytes", captured.dropped),
        )?;
    }
    Ok(())
}
