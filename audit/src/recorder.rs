//! [`Recorder`]: the records of one run, single and write-ahead.

use super::log::AuditLog;
use super::record::{Decision, Event, Phase, Scrub};
use super::{Denial, RunInfo};
use crate::AuditError;
use crate::EventKind;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// Writes the records of one run, and remembers its refusals and whether
/// any record failed — a run with a failed record has failed, even where the
/// host call could only refuse and not trap.
///
/// Every record it writes passes through one [`Scrub`] (the run's
/// redactor) first, whatever wrote it: no field of any record can carry a
/// value the redactor knows, and the refusals it hands back are the
/// redacted ones.
#[derive(Clone)]
pub struct Recorder {
    log: Arc<AuditLog>,
    info: Arc<RunInfo>,
    scrub: Option<Arc<dyn Scrub>>,
    track: Arc<Mutex<Track>>,
    observer: Option<Observer>,
}

/// Told of each record of a run once it is written: its `seq` and its
/// fields ([`Event::to_json`]), redacted as recorded.
pub type Observer = Arc<dyn Fn(u64, &serde_json::Map<String, Value>) + Send + Sync>;

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("run", &self.info.run)
            .field("scrubbed", &self.scrub.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct Track {
    denials: Vec<Denial>,
    failure: Option<AuditError>,
    /// The first and last sequence numbers written for the run.
    records: Option<(u64, u64)>,
    /// Refusals that may still be written one by one.
    budget: u32,
    /// Refusals past the budget: counted, not written.
    over: Option<Overflow>,
}

impl Default for Track {
    fn default() -> Track {
        Track {
            denials: Vec::new(),
            failure: None,
            records: None,
            budget: u32::MAX,
            over: None,
        }
    }
}

/// The refusals of a run past its budget, as its summary record tells them.
#[derive(Debug, Default)]
struct Overflow {
    count: u64,
    /// (event, reason) → how many; at most [`OVERFLOW_KINDS`] pairs, the
    /// rest under `("*", "*")`.
    by: std::collections::BTreeMap<(&'static str, String), u64>,
    first: Option<Denial>,
    last: Option<Denial>,
}

/// Distinct (event, reason) pairs a summary counts one by one.
const OVERFLOW_KINDS: usize = 32;

/// A side effect recorded as about to happen. Close it with
/// [`Recorder::result`] once it was attempted, or [`Recorder::aborted`] if
/// it never was; dropped unclosed (a cancelled host call), it records a
/// result whose outcome is unknown.
#[derive(Debug)]
#[must_use = "an intent must be closed with a result or aborted record"]
pub struct Intent {
    seq: u64,
    kind: EventKind,
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
            let event = Event::new(self.kind)
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
            scrub: None,
            track: Arc::default(),
            observer: None,
        }
    }

    /// Pass every record through `scrub` before it is written.
    pub fn scrubbing(mut self, scrub: Arc<dyn Scrub>) -> Recorder {
        self.scrub = Some(scrub);
        self
    }

    /// Tell `observer` of each record once it is written.
    pub fn observing(mut self, observer: Observer) -> Recorder {
        self.observer = Some(observer);
        self
    }

    /// What the observer is shown of `event`, if there is one.
    fn view(&self, event: &Event) -> Option<serde_json::Map<String, Value>> {
        self.observer.as_ref().map(|_| event.to_json())
    }

    fn tell(&self, result: &Result<u64, AuditError>, view: Option<serde_json::Map<String, Value>>) {
        if let (Some(observer), Ok(seq), Some(view)) = (&self.observer, result, view) {
            observer(*seq, &view);
        }
    }

    /// Write at most `budget` refusals one by one (single records: the
    /// result that closes an intent is always written); past it, refusals
    /// are only counted, [`exhausted`](Self::exhausted) turns true (the run
    /// must end), and [`summarise`](Self::summarise) writes one record of
    /// what was left out.
    pub fn refusal_budget(self, budget: u32) -> Recorder {
        self.track_mut().budget = budget;
        self
    }

    /// Whether the run has had more refusals than its budget.
    pub fn exhausted(&self) -> bool {
        self.track_mut().over.is_some()
    }

    /// The refusal budget this recorder was given.
    pub fn budget(&self) -> u32 {
        self.track_mut().budget
    }

    /// Write the one record of the refusals past the budget, if there were
    /// any: how many, by event and reason, and the first and the last.
    pub fn summarise(&self) -> Result<(), AuditError> {
        let (over, budget) = {
            let mut track = self.track_mut();
            (track.over.take(), track.budget)
        };
        // Past the budget only with a closing record (which is written),
        // the run ends with nothing dropped, and nothing to summarise.
        let Some(over) = over.filter(|o| o.count > 0) else {
            return Ok(());
        };
        let by: Vec<Value> = over
            .by
            .into_iter()
            .map(|((event, reason), count)| {
                serde_json::json!({ "event": event, "reason": reason, "count": count })
            })
            .collect();
        let denial = |d: Option<Denial>| {
            d.map(
                |d| serde_json::json!({ "event": d.event, "target": d.target, "reason": d.reason }),
            )
        };
        let event = Event::new(EventKind::RefusalsDropped)
            .field("budget", budget)
            .field("count", over.count)
            .field("by", by)
            .field("first", denial(over.first))
            .field("last", denial(over.last));
        let event = self.seal(event);
        let view = self.view(&event);
        let result = self.log.append(Some(&self.info), event);
        self.note(&result, None);
        self.tell(&result, view);
        result.map(drop)
    }

    fn track_mut(&self) -> std::sync::MutexGuard<'_, Track> {
        self.track.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn seal(&self, event: Event) -> Event {
        event.seal(self.scrub.as_deref())
    }

    /// Count `denial` against the budget: `true` if it may be written.
    /// A closing record (`closes`) is written whatever the budget, to close
    /// its intent, but going past the budget with it ends the run all the
    /// same.
    fn admit(&self, denial: &Denial, closes: bool) -> bool {
        let mut track = self.track_mut();
        let written = u32::try_from(track.denials.len()).unwrap_or(u32::MAX);
        if written < track.budget && track.over.is_none() {
            return true;
        }
        let over = track.over.get_or_insert_with(Overflow::default);
        if closes {
            return true;
        }
        over.count += 1;
        let mut key = (denial.event.as_str(), cut(&denial.reason, 200));
        if !over.by.contains_key(&key) && over.by.len() >= OVERFLOW_KINDS {
            key = ("*", "*".into());
        }
        *over.by.entry(key).or_default() += 1;
        if over.first.is_none() {
            over.first = Some(denial.clone());
        }
        over.last = Some(denial.clone());
        false
    }

    /// Append `event` as a single record and return its `seq`; `None` for
    /// a refusal past the run's budget, counted instead of written (see
    /// [`refusal_budget`](Self::refusal_budget)). An error means it is not
    /// recorded and the caller must not go on with what it was about to do.
    pub fn record(&self, event: Event) -> Result<Option<u64>, AuditError> {
        let event = self.seal(event);
        let denial = denial_of(&event);
        if let Some(denial) = &denial
            && !self.admit(denial, false)
        {
            return Ok(None);
        }
        let view = self.view(&event);
        let result = self.log.append(Some(&self.info), event);
        self.note(&result, denial);
        self.tell(&result, view);
        result.map(Some)
    }

    /// Append `event` as an intent and return once it is durable: the host
    /// may now perform the effect, and must not if this fails.
    ///
    /// A run past its refusal budget is ending: it gets no new intent.
    pub fn intent(&self, event: Event) -> Result<Intent, AuditError> {
        if self.exhausted() {
            let why = format!(
                "the run is past its budget of {} refused host calls, and is being stopped",
                self.budget()
            );
            let event = self.seal(event);
            let target = event.fields.get("target").and_then(Value::as_str);
            self.admit(
                &Denial {
                    event: event.kind(),
                    target: target.unwrap_or_default().to_owned(),
                    reason: why.clone(),
                },
                false,
            );
            return Err(AuditError::OverBudget(why));
        }
        let kind = event.kind();
        let event = self.seal(event.phase(Phase::Intent));
        let view = self.view(&event);
        let result = self.log.append_durable(Some(&self.info), event);
        self.note(&result, None);
        self.tell(&result, view);
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
        let event = Event::new(intent.kind)
            .phase(Phase::Aborted)
            .field("intent", intent.seq)
            .field("reason", reason.into());
        self.close(event)
    }

    fn close(&self, event: Event) -> Result<u64, AuditError> {
        let event = self.seal(event);
        let denial = denial_of(&event);
        if let Some(denial) = &denial {
            self.admit(denial, true);
        }
        let result = self.log.append_event(Some(&self.info), &event);
        self.tell(&result, self.view(&event));
        if result.is_err() {
            self.log.owe(Some(&self.info), event);
        }
        self.note(&result, denial);
        result
    }

    /// Append a run's last record. If it cannot be written, it is kept and
    /// written first once the log takes writes again (marked `late`); the
    /// error still fails the run.
    pub fn end(&self, event: Event) -> Result<u64, AuditError> {
        self.close(event)
    }

    fn record_closing(&self, event: Event) {
        let _ = self.close(event);
    }

    fn note(&self, result: &Result<u64, AuditError>, denial: Option<Denial>) {
        let mut track = self.track_mut();
        match result {
            Ok(seq) => {
                track.denials.extend(denial);
                let (first, last) = track.records.unwrap_or((*seq, *seq));
                track.records = Some((first.min(*seq), last.max(*seq)));
            }
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

    /// The sequence numbers of the first and the last record written for
    /// the run so far; `None` before any. Records of other runs may lie
    /// between them.
    pub fn records(&self) -> Option<std::ops::RangeInclusive<u64>> {
        let track = self.track.lock().unwrap_or_else(|p| p.into_inner());
        track.records.map(|(first, last)| first..=last)
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

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max)].to_owned()
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
            event: event.kind(),
            target: text("target"),
            reason: text("reason"),
        }
    })
}
