//! [`Recorder`]: the records of one run, single and write-ahead.

use super::log::{AuditError, AuditLog};
use super::record::{Decision, Event, Phase};
use super::{Denial, RunInfo};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Writes the records of one run, and remembers its refusals and whether
/// any record failed — a run with a failed record has failed, even where the
/// host call could only refuse and not trap.
#[derive(Clone, Debug)]
pub struct Recorder {
    log: Arc<AuditLog>,
    info: Arc<RunInfo>,
    track: Arc<Mutex<Track>>,
}

#[derive(Debug, Default)]
struct Track {
    denials: Vec<Denial>,
    failure: Option<AuditError>,
}

/// A side effect recorded as about to happen. Close it with
/// [`Recorder::result`] once it was attempted, or [`Recorder::aborted`] if
/// it never was; dropped unclosed (a cancelled host call), it records a
/// result whose outcome is unknown.
#[derive(Debug)]
#[must_use = "an intent must be closed with a result or aborted record"]
pub struct Intent {
    seq: u64,
    kind: String,
    recorder: Option<Recorder>,
}

impl Intent {
    /// The intent record's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl Drop for Intent {
    fn drop(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            let event = Event::new_owned(&self.kind)
                .phase(Phase::Result)
                .field("intent", self.seq)
                .field("outcome", "unknown")
                .field(
                    "reason",
                    "the host call was cancelled (the run was stopped) after its intent",
                );
            recorder.record_closing(event);
        }
    }
}

impl Recorder {
    /// A recorder for the run described by `info`.
    pub fn new(log: Arc<AuditLog>, info: RunInfo) -> Recorder {
        Recorder {
            log,
            info: Arc::new(info),
            track: Arc::default(),
        }
    }

    /// Append `event` as a single record; an error means it is not
    /// recorded and the caller must not go on with what it was about to do.
    pub fn record(&self, event: Event) -> Result<u64, AuditError> {
        let denial = denial_of(&event);
        let result = self.log.append(Some(&self.info), event);
        self.note(&result, denial);
        result
    }

    /// Append `event` as an intent and return once it is durable: the host
    /// may now perform the effect, and must not if this fails.
    pub fn intent(&self, event: Event) -> Result<Intent, AuditError> {
        let kind = event.kind().to_owned();
        let result = self
            .log
            .append_durable(Some(&self.info), event.phase(Phase::Intent));
        self.note(&result, None);
        Ok(Intent {
            seq: result?,
            kind,
            recorder: Some(self.clone()),
        })
    }

    /// Close `intent` with what happened. `event` describes the outcome (its
    /// decision, error, sizes). If it cannot be written, it is kept and
    /// written first once the log takes writes again; the error still fails
    /// the run.
    pub fn result(&self, mut intent: Intent, event: Event) -> Result<u64, AuditError> {
        intent.recorder = None;
        let event = event.phase(Phase::Result).field("intent", intent.seq);
        self.close(event)
    }

    /// Close `intent`: the effect was not attempted, because of `reason`.
    pub fn aborted(
        &self,
        mut intent: Intent,
        reason: impl Into<String>,
    ) -> Result<u64, AuditError> {
        intent.recorder = None;
        let event = Event::new_owned(&intent.kind)
            .phase(Phase::Aborted)
            .field("intent", intent.seq)
            .field("reason", reason.into());
        self.close(event)
    }

    fn close(&self, event: Event) -> Result<u64, AuditError> {
        let denial = denial_of(&event);
        let result = self.log.append_event(Some(&self.info), &event);
        if result.is_err() {
            self.log.owe(Some(&self.info), event);
        }
        self.note(&result, denial);
        result
    }

    fn record_closing(&self, event: Event) {
        let _ = self.close(event);
    }

    fn note(&self, result: &Result<u64, AuditError>, denial: Option<Denial>) {
        let mut track = self.track.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(_) => track.denials.extend(denial),
            Err(e) => {
                track.failure.get_or_insert_with(|| e.clone());
            }
        }
    }

    /// The run this recorder writes for.
    pub fn info(&self) -> &RunInfo {
        &self.info
    }

    /// The log this recorder writes to.
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }

    /// The refusals recorded so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.track
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .denials
            .clone()
    }

    /// The first record that could not be written, if any.
    pub fn failure(&self) -> Option<AuditError> {
        self.track
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure
            .clone()
    }
}

fn denial_of(event: &Event) -> Option<Denial> {
    (event.decision_of() == Some(Decision::Deny)).then(|| {
        let text = |key: &str| {
            event
                .fields
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Denial {
            event: text("event"),
            target: text("target"),
            reason: text("reason"),
        }
    })
}
