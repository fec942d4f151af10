//! The server's counters, in the Prometheus text format (`GET /metrics`).

use airlock::report::Report;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the run duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0];

/// What the server has done since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
    /// Invocations being run now.
    pub in_flight: AtomicU64,
    /// Invocations waiting for a slot.
    pub queued: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    /// (action, status) → runs.
    runs: BTreeMap<(String, String), u64>,
    /// event → refusals during runs.
    denials: BTreeMap<String, u64>,
    /// Per bucket, then the sum and the count.
    durations: [u64; BUCKETS.len()],
    duration_sum: f64,
    duration_count: u64,
    /// code → requests answered with a problem.
    problems: BTreeMap<String, u64>,
}

impl Metrics {
    /// Count an invocation's outcome, under its action's name if the
    /// policy `knows` it (a caller's made-up names would make a label
    /// without end), else under `-`.
    pub fn ended(&self, report: &Report, knows: bool) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let action = match (&report.action, knows) {
            (Some(name), true) => name.clone(),
            _ => "-".to_owned(),
        };
        let status = serde_json::to_value(report.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *c.runs.entry((action, status)).or_default() += 1;
        for d in &report.denials {
            *c.denials.entry(d.event.to_string()).or_default() += 1;
        }
        if let Some(ms) = report.duration_ms {
            let seconds = ms / 1e3;
            for (bucket, bound) in c.durations.iter_mut().zip(BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
            c.duration_sum += seconds;
            c.duration_count += 1;
        }
    }

    /// Count a request answered with problem `code`.
    pub fn problem(&self, code: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.problems.entry(code.to_owned()).or_default() += 1;
    }

    /// The Prometheus text exposition of everything counted, and of the
    /// audit log's `timings`.
    pub fn render(&self, timings: airlock::audit::TimingsNow) -> String {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for sample in samples {
                let _ = writeln!(out, "{name}{sample}");
            }
        };
        family(
            "airlock_runs_total",
            "counter",
            "Invocations by action and status.",
            c.runs
                .iter()
                .map(|((action, status), n)| {
                    format!("{{action=\"{}\",status=\"{status}\"}} {n}", escape(action))
                })
                .collect(),
        );
        family(
            "airlock_denials_total",
            "counter",
            "Capabilities refused during runs, by event.",
            c.denials
                .iter()
                .map(|(event, n)| format!("{{event=\"{}\"}} {n}", escape(event)))
                .collect(),
        );
        let mut histogram: Vec<String> = c
            .durations
            .iter()
            .zip(BUCKETS)
            .map(|(n, bound)| format!("_bucket{{le=\"{bound}\"}} {n}"))
            .collect();
        histogram.push(format!("_bucket{{le=\"+Inf\"}} {}", c.duration_count));
        histogram.push(format!("_sum {}", c.duration_sum));
        histogram.push(format!("_count {}", c.duration_count));
        family(
            "airlock_run_duration_seconds",
            "histogram",
            "Wall-clock time of runs that started.",
            histogram,
        );
        family(
            "airlock_requests_refused_total",
            "counter",
            "Requests answered with a problem, by code.",
            c.problems
                .iter()
                .map(|(code, n)| format!("{{code=\"{}\"}} {n}", escape(code)))
                .collect(),
        );
        family(
            "airlock_audit_append_seconds",
            "summary",
            "Time appending audit records (under sync = \"always\", with the fsync).",
            vec![
                format!("_sum {}", timings.append_total.as_secs_f64()),
                format!("_count {}", timings.appends),
            ],
        );
        family(
            "airlock_audit_durable_wait_seconds",
            "summary",
            "Time waiting for an intent record's shared fsync under sync = \"group\".",
            vec![
                format!("_sum {}", timings.durable_total.as_secs_f64()),
                format!("_count {}", timings.durable_waits),
            ],
        );
        family(
            "airlock_runs_in_flight",
            "gauge",
            "Invocations being run now.",
            vec![format!(" {}", self.in_flight.load(Ordering::Relaxed))],
        );
        family(
            "airlock_queue_depth",
            "gauge",
            "Invocations waiting for a slot.",
            vec![format!(" {}", self.queued.load(Ordering::Relaxed))],
        );
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
