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
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Action(message) => write!(f, "the action failed: {message}"),
            Failure::Limit(limit) => write!(f, "{limit}"),
            Failure::Trap(message) => write!(f, "the action trapped: {message}"),
            Failure::Host(message) => write!(f, "{message}"),
        }
    }
}

/// How one invocation differs from the defaults
/// ([`Action::invoke_with`](crate::Action::invoke_with)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// Who asked for the run (a token's name, a certificate's subject),
    /// recorded in its `run.start` as `caller`.
    pub caller: Option<String>,
    /// A time limit shorter than the grant's (a longer one changes
    /// nothing); recorded in `run.start` as `timeout_ms`.
    pub timeout: Option<Duration>,
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
}
