//! The audit log: append-only JSON Lines, one record per event, each
//! carrying the SHA-256 of the record before it.
//!
//! Every record is one canonical JSON object (keys sorted, no spaces,
//! integers only), so the bytes on disk are the bytes that are hashed and any
//! edit, reordering or removal breaks the chain at a point [`verify`] names.
//! After every run a *head* file (`<log>.head`) records the last sequence
//! number and hash, so removing records from the end is detected as well.
//!
//! Records are written by a [`Recorder`], one per run, through the single
//! [`AuditLog`] of a host; a record that cannot be written fails the host
//! call that wanted it (fail closed).

mod log;
mod record;
pub mod verify;

pub use log::{AuditError, AuditLog, Head};
pub use record::{Decision, Event, GUEST_TEXT_LIMIT};

use crate::provenance::Digest;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// The identity every record of one run carries.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// A random identifier of this run.
    pub run: String,
    /// `name@version` of the action.
    pub action: String,
    /// The component's digest.
    pub digest: Digest,
}

/// A refusal during a run, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// The event kind, like `secret.read` or `file.open`.
    pub event: String,
    /// What was refused: a secret's name, a path, an origin.
    pub target: String,
    /// Why, and what would grant it.
    pub reason: String,
}

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

impl Recorder {
    /// A recorder for the run described by `info`.
    pub fn new(log: Arc<AuditLog>, info: RunInfo) -> Recorder {
        Recorder {
            log,
            info: Arc::new(info),
            track: Arc::default(),
        }
    }

    /// Append `event`; an error means it is not recorded and the caller must
    /// not go on with what it was about to do.
    pub fn record(&self, event: Event) -> Result<u64, AuditError> {
        let denial = (event.decision_of() == Some(Decision::Deny)).then(|| {
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
        });
        let result = self.log.append(Some(&self.info), event);
        let mut track = self.track.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => track.denials.extend(denial),
            Err(e) => {
                track.failure.get_or_insert_with(|| e.clone());
            }
        }
        result
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
