//! Runs started without waiting for them (`POST /v1/runs`): their state,
//! their records as Server-Sent Events while they happen, cancelling, and
//! how long they are kept once finished.

use airlock::Cancel;
use airlock::report::Report;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Finished runs are kept this long for `GET /v1/runs/{id}`…
pub const KEEP_FOR: Duration = Duration::from_secs(600);
/// …and at most this many of each caller's (so that one caller's runs
/// never push out another's).
pub const KEEP_AT_MOST: usize = 256;
/// Events kept per run for late readers; past it, they are counted.
const EVENTS_KEPT: usize = 4096;

/// Where a run is.
#[derive(Clone, Debug)]
pub enum Phase {
    /// Waiting for a run slot.
    Queued,
    /// Running.
    Running,
    /// Ended, with its outcome.
    Finished(Box<Report>),
}

/// One run started by `POST /v1/runs`.
pub struct Run {
    pub id: String,
    pub action: String,
    /// Who started it: only they see it.
    pub caller: String,
    pub cancel: Cancel,
    phase: Mutex<Phase>,
    events: Mutex<Events>,
    /// Bumped on every event and on the end, for the readers waiting.
    changed: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Events {
    lines: Vec<Bytes>,
    dropped: u64,
}

impl Run {
    pub fn new(id: String, action: String, caller: String, cancel: Cancel) -> Run {
        Run {
            id,
            action,
            caller,
            cancel,
            phase: Mutex::new(Phase::Queued),
            events: Mutex::new(Events::default()),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_phase(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase;
        self.changed.send_modify(|n| *n += 1);
    }

    /// One of the run's records, as written (redacted).
    pub fn record(&self, seq: u64, fields: &serde_json::Map<String, serde_json::Value>) {
        let mut data = fields.clone();
        data.insert("seq".into(), seq.into());
        let line = sse("record", &serde_json::Value::Object(data));
        {
            let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            if events.lines.len() < EVENTS_KEPT {
                events.lines.push(line);
            } else {
                events.dropped += 1;
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// The events from the `from`th on, and the end once it is there.
    fn since(&self, from: usize) -> (Vec<Bytes>, Option<Bytes>) {
        let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let lines = events.lines.get(from..).unwrap_or_default().to_vec();
        let end = match self.phase() {
            Phase::Finished(report) => {
                let mut end = Vec::new();
                if events.dropped > 0 {
                    let dropped = serde_json::json!({ "dropped": events.dropped });
                    end.extend_from_slice(&sse("dropped", &dropped));
                }
                end.extend_from_slice(&sse(
                    "end",
                    &serde_json::to_value(&*report).unwrap_or_default(),
                ));
                Some(Bytes::from(end))
            }
            _ => None,
        };
        (lines, end)
    }

    /// The run's events as a stream of Server-Sent Events: those so far,
    /// then each as it happens, then `end` with the outcome.
    pub fn stream(self: Arc<Run>) -> tokio::sync::mpsc::Receiver<Bytes> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut changed = self.changed.subscribe();
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                changed.mark_unchanged();
                let (lines, end) = self.since(sent);
                sent += lines.len();
                for line in lines {
                    if tx.send(line).await.is_err() {
                        return;
                    }
                }
                if let Some(end) = end {
                    let _ = tx.send(end).await;
                    return;
                }
                if changed.changed().await.is_err() {
                    return;
                }
            }
        });
        rx
    }
}

fn sse(event: &str, data: &serde_json::Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// The runs started and not yet forgotten.
#[derive(Default)]
pub struct Runs {
    by_id: Mutex<HashMap<String, Arc<Run>>>,
    /// Each caller's finished runs, oldest first.
    finished: Mutex<HashMap<String, VecDeque<(Instant, String)>>>,
}

impl Runs {
    pub fn insert(&self, run: Arc<Run>) {
        self.forget_old();
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(run.id.clone(), run);
    }

    /// The run `id`, if `caller` started it.
    pub fn get(&self, id: &str, caller: &str) -> Option<Arc<Run>> {
        let runs = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(id).filter(|r| r.caller == caller).cloned()
    }

    /// `run` has ended: keep it for a while.
    pub fn finished(&self, run: &Run) {
        self.finished
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(run.caller.clone())
            .or_default()
            .push_back((Instant::now(), run.id.clone()));
        self.forget_old();
    }

    /// Forget finished runs past [`KEEP_FOR`], and each caller's past
    /// [`KEEP_AT_MOST`].
    fn forget_old(&self) {
        let mut finished = self.finished.lock().unwrap_or_else(|p| p.into_inner());
        let mut runs = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        for kept in finished.values_mut() {
            while let Some((at, id)) = kept.front() {
                if at.elapsed() < KEEP_FOR && kept.len() <= KEEP_AT_MOST {
                    break;
                }
                runs.remove(id);
                kept.pop_front();
            }
        }
        finished.retain(|_, kept| !kept.is_empty());
    }
}

/// A response body that is whatever `rx` yields, until it closes.
pub struct Channel(pub tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for Channel {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|next| next.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}
