//! What a run produced.

use crate::runtime::limits::LimitExceeded;
use airlock_audit::{AuditError, Denial};
use airlock_rules::provenance::Digest;
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The result of one invocation that ran.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The run's identifier, as in every audit record of the run.
    pub run: String,
    /// `name@version` of the action.
    pub action: String,
    /// The component's digest.
    pub digest: Digest,
    /// The action's JSON output, or why there is none.
    pub result: Result<String, Failure>,
    /// Wall-clock time from instantiation to the end of `run`.
    pub duration: Duration,
    /// The most linear memory the run had at once, in bytes.
    pub peak_memory: u64,
    /// What was refused during the run, in the order it happened.
    pub denials: Vec<Denial>,
    /// The sequence numbers of the run's first and last records in the
    /// audit log (records of other runs may lie between them); `None` if
    /// none could be written.
    pub records: Option<RangeInclusive<u64>>,
}

/// Why a run produced no output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The action's `run` returned an error message.
    Action(String),
    /// A limit ended the run.
    Limit(LimitExceeded),
    /// The action trapped: a panic, an `unreachable`, a stack overflow.
    Trap(String),
    /// The host could not keep its guarantees (the audit log could not be
    /// written), so the run was stopped. The error's kind says whether to
    /// retry, fail over or page a person.
    Host(AuditError),
    /// The caller cancelled the run ([`Cancel`]) before it ended.
    Cancelled,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Action(message) => write!(f, "the action failed: {message}"),
            Failure::Limit(limit) => write!(f, "{limit}"),
            Failure::Trap(message) => write!(f, "the action trapped: {message}"),
            Failure::Host(message) => write!(f, "{message}"),
            Failure::Cancelled => write!(f, "the run was cancelled by its caller"),
        }
    }
}

/// How one invocation differs from the defaults
/// ([`Action::invoke_with`](crate::Action::invoke_with)).
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Invocation {
    /// Who asked for the run (a token's name, a certificate's subject),
    /// recorded in its `run.start` as `caller`.
    pub caller: Option<String>,
    /// A time limit shorter than the grant's (a longer one changes
    /// nothing); recorded in `run.start` as `timeout_ms`.
    pub timeout: Option<Duration>,
    /// The run's id, chosen ahead ([`Invocation::new_run_id`]) so that a
    /// caller can name the run before it starts.
    pub run: Option<String>,
    /// Told of each of the run's records as it is written.
    pub observer: Option<airlock_audit::Observer>,
    /// Stops the run when cancelled.
    pub cancel: Option<Cancel>,
    /// Where the run comes from in the caller's own terms (a workflow's id,
    /// an activity's attempt), recorded in its `run.start` — or its
    /// `run.refused` — as the object `context`, so that an auditor can join
    /// the log with the caller's history.
    pub context: Vec<(String, String)>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("caller", &self.caller)
            .field("timeout", &self.timeout)
            .field("run", &self.run)
            .field("observed", &self.observer.is_some())
            .field("cancel", &self.cancel)
            .field("context", &self.context)
            .finish()
    }
}

impl Invocation {
    /// Record `caller` as who asked for the run.
    pub fn caller(mut self, caller: impl Into<String>) -> Invocation {
        self.caller = Some(caller.into());
        self
    }

    /// End the run after `timeout` if the grant allows longer.
    pub fn timeout(mut self, timeout: Duration) -> Invocation {
        self.timeout = Some(timeout);
        self
    }

    /// Give the run the id `run`, from [`Invocation::new_run_id`].
    pub fn run_id(mut self, run: String) -> Invocation {
        self.run = Some(run);
        self
    }

    /// Tell `observer` of each record of the run as it is written.
    pub fn observer(mut self, observer: airlock_audit::Observer) -> Invocation {
        self.observer = Some(observer);
        self
    }

    /// Stop the run when `cancel` is cancelled.
    pub fn cancel(mut self, cancel: Cancel) -> Invocation {
        self.cancel = Some(cancel);
        self
    }

    /// Add `key = value` to the run's `context`. At most
    /// [`CONTEXT_ENTRIES`](Self::CONTEXT_ENTRIES) entries are recorded;
    /// a key is cut to 64 bytes and a value to 256.
    pub fn context(mut self, key: impl Into<String>, value: impl Into<String>) -> Invocation {
        self.context.push((key.into(), value.into()));
        self
    }

    /// How many `context` entries a record keeps.
    pub const CONTEXT_ENTRIES: usize = 16;

    /// `event` with who asked for the run and where it comes from.
    pub(crate) fn describe(&self, mut event: airlock_audit::Event) -> airlock_audit::Event {
        if let Some(caller) = &self.caller {
            event = event.field("caller", caller.as_str());
        }
        if !self.context.is_empty() {
            let context: serde_json::Map<String, serde_json::Value> = self
                .context
                .iter()
                .take(Self::CONTEXT_ENTRIES)
                .map(|(k, v)| (cut(k, 64).to_owned(), cut(v, 256).into()))
                .collect();
            event = event.field("context", serde_json::Value::Object(context));
        }
        event
    }

    /// A fresh run id: 128 random bits in hex, as every run gets, from the
    /// thread's CSPRNG (seeded from the OS, as wasmtime-wasi's random
    /// context is for every run) rather than a `getrandom(2)` per run.
    pub fn new_run_id() -> String {
        let mut bytes = [0u8; 16];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
        airlock_rules::provenance::hex(&bytes)
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Stops a run from outside it: the run ends with [`Failure::Cancelled`],
/// recorded in its `run.end`, whether it is computing (at the next epoch
/// tick) or waiting in the host (at once).
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    inner: std::sync::Arc<CancelInner>,
}

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Cancel the run (again: no effect).
    pub fn cancel(&self) {
        self.inner
            .cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .cancelled
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes once cancelled.
    pub async fn cancelled(&self) {
        let notified = self.inner.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_cancelled() {
            return;
        }
        notified.await;
    }
}
