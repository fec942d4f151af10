//! The checks that follow records over time: intents closed, checkpoints
//! in time.

use super::{Failure, Known, Reason, Record};
use crate::EventKind;
use crate::record::Phase;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

struct Open {
    run: Option<String>,
    event: String,
}

/// Intents opened and not yet closed, and the runs that ended.
#[derive(Default)]
pub(super) struct Intents {
    open: BTreeMap<u64, Open>,
}

fn text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.fields.get(key).and_then(Value::as_str)
}

impl Intents {
    /// Take in one record.
    pub(super) fn take(&mut self, record: &Record) -> Result<(), (Reason, String)> {
        let run = text(record, "run").map(str::to_owned);
        let event = text(record, "event").unwrap_or_default().to_owned();
        match text(record, "phase").and_then(Phase::parse) {
            Some(Phase::Intent) => {
                self.open.insert(
                    record.seq,
                    Open {
                        run: run.clone(),
                        event: event.clone(),
                    },
                );
            }
            Some(Phase::Result | Phase::Aborted) => {
                let named = record.fields.get("intent").and_then(Value::as_u64);
                match named.and_then(|i| self.open.get(&i).map(|o| (i, o))) {
                    Some((i, o)) if o.run == run && o.event == event => {
                        self.open.remove(&i);
                    }
                    _ => {
                        return Err((
                            Reason::UnmatchedResult,
                            format!(
                                "this {event} record closes intent {}, which is not an open {event} intent of its run",
                                named.map_or("(none)".into(), |i| i.to_string())
                            ),
                        ));
                    }
                }
            }
            Some(Phase::Single) => {}
            None => return Err((Reason::Malformed, "the record has no valid phase".into())),
        }
        if event == EventKind::AuditRecover.as_str() {
            // The host reopened the log: it closes what a crash left open,
            // and anything it does not name was forgotten.
            let closed: Vec<u64> = record
                .fields
                .get("intents")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            for i in &closed {
                self.open.remove(i);
            }
            if let Some((&seq, o)) = self.open.iter().next() {
                return Err(orphan(
                    seq,
                    o,
                    "the host recovered the log without closing it",
                ));
            }
        }
        if event == EventKind::RunEnd.as_str()
            && let Some((&seq, o)) = self.open.iter().find(|(_, o)| o.run == run)
        {
            return Err(orphan(seq, o, "its run ended without closing it"));
        }
        Ok(())
    }

    /// The intents still open at the end.
    pub(super) fn finish(self) -> Result<Vec<u64>, Failure> {
        Ok(self.open.into_keys().collect())
    }
}

fn orphan(seq: u64, o: &Open, why: &str) -> (Reason, String) {
    (
        Reason::OrphanIntent,
        format!(
            "intent {seq} ({}) has no result or aborted record: {why}",
            o.event
        ),
    )
}

/// Every record covered by a checkpoint within the maximum gap.
pub(super) struct Gaps {
    gap: Duration,
    /// (size, time) of the checkpoints, by size.
    cps: Vec<(u64, Option<SystemTime>)>,
    next: usize,
    /// The oldest record not covered by any checkpoint.
    uncovered: Option<(u64, SystemTime)>,
}

impl Gaps {
    pub(super) fn new(gap: Duration, sorted: &[&Known]) -> Gaps {
        Gaps {
            gap,
            cps: sorted
                .iter()
                .map(|k| (k.cp.size, k.cp.system_time()))
                .collect(),
            next: 0,
            uncovered: None,
        }
    }

    pub(super) fn take(&mut self, record: &Record) -> Result<(), String> {
        let time = text(record, "time")
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .ok_or_else(|| "the record has no valid time".to_owned())?;
        while self.next < self.cps.len() && self.cps[self.next].0 <= record.seq {
            self.next += 1;
        }
        match self.cps.get(self.next) {
            Some(&(size, cp_time)) => {
                let cp_time =
                    cp_time.ok_or_else(|| format!("the checkpoint of size {size} has no time"))?;
                let waited = cp_time.duration_since(time).unwrap_or_default();
                if waited > self.gap {
                    return Err(format!(
                        "the first checkpoint covering this record came {} after it, more than the maximum gap of {}",
                        humantime::format_duration(trim(waited)),
                        humantime::format_duration(self.gap)
                    ));
                }
            }
            None => {
                self.uncovered.get_or_insert((record.seq, time));
            }
        }
        Ok(())
    }

    pub(super) fn finish(&self, now: SystemTime) -> Result<(), Failure> {
        if let Some((seq, time)) = self.uncovered {
            let age = now.duration_since(time).unwrap_or_default();
            if age > self.gap {
                return Err(Failure {
                    seq,
                    file: None,
                    line: 0,
                    reason: Reason::Stale,
                    detail: format!(
                        "no checkpoint covers this record, written {} ago (maximum gap {}): \
                         checkpoints stopped, or records were added later",
                        humantime::format_duration(trim(age)),
                        humantime::format_duration(self.gap)
                    ),
                });
            }
        }
        Ok(())
    }
}

fn trim(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
