//! How an invocation ended, for programs: the one JSON document that
//! `airlock run --json` prints for every exit and that a server answers
//! with. [`Report`] is built from an [`Outcome`] (the action ran) or from
//! an [`Error`] (it did not); its [`Code`] is stable, its message is for
//! people. The schema is specified in `docs/outcome.md`.

use crate::{Error, Failure, LimitExceeded, Outcome, Refusal};
use airlock_audit::{AuditError, Denial, EventKind};
use airlock_rules::doc::one_line;
use serde::Serialize;
use std::path::Path;

/// How an invocation ended. Fields that do not apply are `null` (or empty).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The run's identifier in the audit log; `null` if it never started.
    pub run: Option<String>,
    /// The action's name: as asked for, or as its manifest declares once
    /// it was loaded.
    pub action: Option<String>,
    /// The action's version, once its manifest was read.
    pub version: Option<String>,
    /// The component's digest (`sha256:…`), once it was read.
    pub digest: Option<String>,
    /// The kind of ending.
    pub status: Status,
    /// What exactly, for every status but `ok`.
    pub code: Option<Code>,
    /// Why, in words, with what would change it; `null` for `ok`.
    pub message: Option<String>,
    /// The action's JSON output, for `ok`.
    pub output: Option<serde_json::Value>,
    /// What was refused during the run, in the order it happened.
    pub denials: Vec<Refused>,
    /// Wall-clock time of the run, from instantiation to its end, in
    /// milliseconds; `null` if it never started.
    pub duration_ms: Option<f64>,
    /// The most linear memory the run had at once, in bytes.
    pub peak_memory: Option<u64>,
    /// Where the run is recorded.
    pub audit: Option<AuditPlace>,
}

/// A capability refused during a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refused {
    /// The event kind, like `net.request` or `secret.read`.
    pub event: EventKind,
    /// What was refused: an origin, a path, a secret's name.
    pub target: String,
    /// Why, and what would grant it.
    pub message: String,
}

/// Where a run's records are.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditPlace {
    /// The audit log's path.
    pub log: String,
    /// The sequence numbers of the run's first and last records (records
    /// of other runs may lie between them); `null` when none was written,
    /// as for a refusal before the run.
    pub records: Option<[u64; 2]>,
}

/// The kind of ending: what a caller does next depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The action ran and returned its output.
    Ok,
    /// The action ran and returned an error of its own.
    ActionError,
    /// Nothing ran: the action, its input or the policy was refused.
    /// Retrying the same request does not help.
    Refused,
    /// The run was stopped at a limit, or trapped.
    Limit,
    /// The host could not keep its guarantees (the audit log, the engine,
    /// storage); nothing ran unrecorded. See the code for retry or fail
    /// over.
    HostFault,
}

/// Why an invocation did not end `ok`: stable, for programs to branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// The action returned an error.
    ActionFailed,
    /// The policy has no such action, or no path for it.
    UnknownAction,
    /// Nothing in the lock approves the component.
    NotApproved,
    /// The component is not the bytes that were approved.
    DigestMismatch,
    /// The component asks for more than was approved.
    CapabilityDrift,
    /// The signature is missing, untrusted or bad.
    BadSignature,
    /// The component's manifest is missing, malformed, or names another
    /// action.
    BadManifest,
    /// The bytes are not a valid component, or it imports what airlock
    /// does not provide.
    InvalidComponent,
    /// The component is beyond a `[compile]` ceiling or bound.
    TooLarge,
    /// The input is not JSON, not UTF-8, or too large.
    BadInput,
    /// The policy, its lock or something it names cannot be read or used.
    BadPolicy,
    /// The run took longer than its grant.
    Timeout,
    /// The run would have grown its memory or tables past the grant.
    Memory,
    /// The output was larger than the grant.
    Output,
    /// The run was refused more host calls than its budget.
    Refusals,
    /// The action trapped: a panic, `unreachable`, a stack overflow.
    Trap,
    /// The caller cancelled the run.
    Cancelled,
    /// Another host holds the audit log: retry later.
    AuditBusy,
    /// The audit log was changed behind airlock's back: a person must look
    /// (`airlock audit verify`); retrying does not help.
    AuditTampered,
    /// The audit log cannot be written (a full or failing disk, a
    /// read-only mount, permissions): fail over.
    AuditUnavailable,
    /// The engine failed, or a file outside any run (a mount) could not be
    /// opened.
    HostError,
}

impl Code {
    /// Every code, in the order `docs/outcome.md` lists them.
    pub const ALL: &'static [Code] = &[
        Code::ActionFailed,
        Code::UnknownAction,
        Code::NotApproved,
        Code::DigestMismatch,
        Code::CapabilityDrift,
        Code::BadSignature,
        Code::BadManifest,
        Code::InvalidComponent,
        Code::TooLarge,
        Code::BadInput,
        Code::BadPolicy,
        Code::Timeout,
        Code::Memory,
        Code::Output,
        Code::Refusals,
        Code::Trap,
        Code::Cancelled,
        Code::AuditBusy,
        Code::AuditTampered,
        Code::AuditUnavailable,
        Code::HostError,
    ];

    /// The kind of ending this code belongs to.
    pub fn status(self) -> Status {
        match self {
            Code::ActionFailed => Status::ActionError,
            Code::UnknownAction
            | Code::NotApproved
            | Code::DigestMismatch
            | Code::CapabilityDrift
            | Code::BadSignature
            | Code::BadManifest
            | Code::InvalidComponent
            | Code::TooLarge
            | Code::BadInput
            | Code::BadPolicy => Status::Refused,
            Code::Timeout
            | Code::Memory
            | Code::Output
            | Code::Refusals
            | Code::Trap
            | Code::Cancelled => Status::Limit,
            Code::AuditBusy | Code::AuditTampered | Code::AuditUnavailable | Code::HostError => {
                Status::HostFault
            }
        }
    }

    /// The `airlock` command's exit status for this code: 1 the action
    /// failed, 2 bad input or configuration, 3 refused, 4 a limit or a
    /// trap, 5 a host fault.
    pub fn exit_code(self) -> u8 {
        match (self, self.status()) {
            (Code::BadInput | Code::BadPolicy, _) => 2,
            (_, Status::Ok) => 0,
            (_, Status::ActionError) => 1,
            (_, Status::Refused) => 3,
            (_, Status::Limit) => 4,
            (_, Status::HostFault) => 5,
        }
    }

    /// The code for a library error.
    pub fn of_error(error: &Error) -> Code {
        match error {
            Error::Document(_) | Error::Mount(_) | Error::Overlap(_) | Error::Network(_) => {
                Code::BadPolicy
            }
            Error::Input(_) | Error::InputTooLarge { .. } => Code::BadInput,
            Error::Refused(refusal) => Code::of_refusal(refusal),
            Error::Audit(e) => Code::of_audit(e),
            Error::Io { .. } | Error::Runtime { .. } => Code::HostError,
        }
    }

    /// The code for a run that ended without output.
    pub fn of_failure(failure: &Failure) -> Code {
        match failure {
            Failure::Action(_) => Code::ActionFailed,
            Failure::Limit(LimitExceeded::Timeout(_)) => Code::Timeout,
            Failure::Limit(LimitExceeded::Memory(_) | LimitExceeded::Table(_)) => Code::Memory,
            Failure::Limit(LimitExceeded::Output { .. }) => Code::Output,
            Failure::Limit(LimitExceeded::Refusals(_)) => Code::Refusals,
            Failure::Trap(_) => Code::Trap,
            Failure::Cancelled => Code::Cancelled,
            Failure::Host(e) => Code::of_audit(e),
        }
    }

    fn of_refusal(refusal: &Refusal) -> Code {
        match refusal {
            Refusal::UnknownAction(_) | Refusal::NoPath(_) => Code::UnknownAction,
            Refusal::NotApproved { .. } => Code::NotApproved,
            Refusal::DigestMismatch { .. } => Code::DigestMismatch,
            Refusal::Drift { .. } => Code::CapabilityDrift,
            Refusal::Signature { .. } => Code::BadSignature,
            Refusal::NameMismatch { .. }
            | Refusal::ManifestSection { .. }
            | Refusal::Manifest(_) => Code::BadManifest,
            Refusal::InvalidComponent { .. } | Refusal::Unlinkable { .. } => Code::InvalidComponent,
            Refusal::OverCeiling { .. } | Refusal::CompileBound { .. } => Code::TooLarge,
            Refusal::Config(_) => Code::BadPolicy,
            Refusal::DevNotAllowed { .. } | Refusal::NoSbom { .. } | Refusal::ReleaseAge { .. } => {
                Code::NotApproved
            }
            // A refusal added later is still a refusal.
            _ => Code::InvalidComponent,
        }
    }

    fn of_audit(e: &AuditError) -> Code {
        match e {
            AuditError::Busy(_) => Code::AuditBusy,
            AuditError::Tampered(_) => Code::AuditTampered,
            AuditError::OverBudget(_) => Code::Refusals,
            // A log the policy's [audit] settings do not let airlock use is
            // as unavailable as one on a full disk; the message says which.
            AuditError::Storage { .. } | AuditError::Config(_) => Code::AuditUnavailable,
            _ => Code::HostError,
        }
    }
}

impl Report {
    /// The report of a run that started.
    pub fn of_outcome(outcome: &Outcome, audit_log: &Path) -> Report {
        let (action, version) = match outcome.action.rsplit_once('@') {
            Some((name, version)) => (name.to_owned(), Some(version.to_owned())),
            None => (outcome.action.clone(), None),
        };
        let code = outcome.result.as_ref().err().map(Code::of_failure);
        Report {
            run: Some(outcome.run.clone()),
            action: Some(action),
            version,
            digest: Some(outcome.digest.to_string()),
            status: code.map_or(Status::Ok, Code::status),
            code,
            message: outcome
                .result
                .as_ref()
                .err()
                .map(|f| one_line(&f.to_string())),
            // The host checked that the output is JSON before it returned it.
            output: outcome
                .result
                .as_ref()
                .ok()
                .and_then(|o| serde_json::from_str(o).ok()),
            denials: outcome.denials.iter().map(Refused::from).collect(),
            duration_ms: Some(outcome.duration.as_secs_f64() * 1e3),
            peak_memory: Some(outcome.peak_memory),
            audit: Some(AuditPlace {
                log: audit_log.display().to_string(),
                records: outcome.records.clone().map(|r| [*r.start(), *r.end()]),
            }),
        }
    }

    /// The report of an invocation of `action` that did not run, because
    /// of `error`. `audit_log` is the log the refusal is recorded in, if
    /// there is one yet.
    pub fn of_error(action: Option<&str>, error: &Error, audit_log: Option<&Path>) -> Report {
        let digest = match error {
            Error::Refused(Refusal::NotApproved { digest, .. }) => Some(digest.to_string()),
            Error::Refused(Refusal::DigestMismatch { actual, .. }) => Some(actual.to_string()),
            _ => None,
        };
        Report {
            digest,
            audit: audit_log.map(|log| AuditPlace {
                log: log.display().to_string(),
                records: None,
            }),
            ..Report::not_run(action, Code::of_error(error), &chain(error))
        }
    }

    /// The report of an invocation that did not run, for a reason outside
    /// the library (a policy that cannot be loaded, an input that cannot be
    /// read): `code` and `message`.
    pub fn not_run(action: Option<&str>, code: Code, message: &str) -> Report {
        Report {
            run: None,
            action: action.map(str::to_owned),
            version: None,
            digest: None,
            status: code.status(),
            code: Some(code),
            message: Some(one_line(message)),
            output: None,
            denials: Vec::new(),
            duration_ms: None,
            peak_memory: None,
            audit: None,
        }
    }

    /// The `airlock` command's exit status for this report.
    pub fn exit_code(&self) -> u8 {
        self.code.map_or(0, Code::exit_code)
    }
}

/// The code's name in JSON, like `capability_drift`.
impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => write!(f, "{self:?}"),
        }
    }
}

impl From<&Denial> for Refused {
    fn from(d: &Denial) -> Refused {
        Refused {
            event: d.event,
            target: d.target.clone(),
            message: one_line(&d.reason),
        }
    }
}

/// `error` and the errors that caused it, each said once.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_the_exit_status_of_its_kind() {
        let cases = [
            (Code::ActionFailed, Status::ActionError, 1),
            (Code::BadInput, Status::Refused, 2),
            (Code::BadPolicy, Status::Refused, 2),
            (Code::UnknownAction, Status::Refused, 3),
            (Code::NotApproved, Status::Refused, 3),
            (Code::DigestMismatch, Status::Refused, 3),
            (Code::CapabilityDrift, Status::Refused, 3),
            (Code::BadSignature, Status::Refused, 3),
            (Code::BadManifest, Status::Refused, 3),
            (Code::InvalidComponent, Status::Refused, 3),
            (Code::TooLarge, Status::Refused, 3),
            (Code::Timeout, Status::Limit, 4),
            (Code::Memory, Status::Limit, 4),
            (Code::Output, Status::Limit, 4),
            (Code::Refusals, Status::Limit, 4),
            (Code::Trap, Status::Limit, 4),
            (Code::Cancelled, Status::Limit, 4),
            (Code::AuditBusy, Status::HostFault, 5),
            (Code::AuditTampered, Status::HostFault, 5),
            (Code::AuditUnavailable, Status::HostFault, 5),
            (Code::HostError, Status::HostFault, 5),
        ];
        for (code, status, exit) in cases {
            assert_eq!(
                (code.status(), code.exit_code()),
                (status, exit),
                "{code:?}"
            );
        }
    }

    #[test]
    fn audit_errors_keep_what_the_caller_does_next() {
        let storage = AuditError::Storage {
            message: "disk full".into(),
            kind: std::io::ErrorKind::StorageFull,
        };
        let cases = [
            (AuditError::Busy("held".into()), Code::AuditBusy),
            (AuditError::Tampered("changed".into()), Code::AuditTampered),
            (storage, Code::AuditUnavailable),
            (AuditError::Config("no key".into()), Code::AuditUnavailable),
            (AuditError::Internal("bug".into()), Code::HostError),
        ];
        for (error, code) in cases {
            assert_eq!(Code::of_failure(&Failure::Host(error.clone())), code);
            assert_eq!(Code::of_error(&Error::Audit(error)), code);
        }
    }
}
