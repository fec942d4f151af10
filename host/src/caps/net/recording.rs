//! The recording protocol of a run's requests: each request is recorded
//! exactly once, by whoever takes its report out of the run's
//! [`InFlight`] — the request itself when it ends, the task `wasi:http`
//! runs beside an answered request's body, or [`NetHooks::finish`] at the
//! run's end, which records what is left (step 10 of [`super`]).

use super::record::{self, Report, Verdict};
use super::{NetHooks, RunNet};
use airlock_audit::{AuditError, Intent};
use std::collections::BTreeMap;
use std::time::Instant;

/// Requests started and not yet recorded; `closed` once the run is over.
#[derive(Default)]
pub(super) struct InFlight {
    pub(super) closed: bool,
    /// What is known of each request, and the verdict [`NetHooks::finish`]
    /// records if the run ends first: `Abandoned` until it is answered.
    pub(super) reports: BTreeMap<u64, (Report, Verdict)>,
    /// The durable intents of requests being sent.
    pub(super) intents: BTreeMap<u64, Intent>,
}

impl NetHooks {
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

impl RunNet {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep the latest state of request `id` for [`NetHooks::finish`].
    pub(super) fn publish(&self, id: u64, report: &Report, started: Instant) {
        let mut f = self.lock();
        if !f.closed {
            let mut report = report.clone();
            report.duration = started.elapsed();
            f.reports.insert(id, (report, Verdict::Abandoned));
        }
    }

    /// Record how answered request `id` ended, unless [`NetHooks::finish`]
    /// already has. `closing` stays held while the record is written, so a
    /// `finish` that comes meanwhile (and the run's end after it) waits for
    /// it, while the action's next request does not. A record that cannot
    /// be written fails the run (the recorder keeps the error).
    pub(super) fn close(&self, id: u64) {
        let _writing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
        let (taken, intent) = self.take(id);
        if let Some((report, verdict)) = taken {
            let _ = self.write(&report, &verdict, intent);
        }
    }

    /// Take request `id` out of `in_flight`, to record it: whoever gets its
    /// report writes its one record.
    pub(super) fn take(&self, id: u64) -> (Option<(Report, Verdict)>, Option<Intent>) {
        let mut f = self.lock();
        (f.reports.remove(&id), f.intents.remove(&id))
    }

    /// The record of a request that ended with `verdict`: the result that
    /// closes its intent, or a single record if it never had one.
    pub(super) fn write(
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
}
