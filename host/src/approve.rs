//! Approving a component from an engine's own approval screen, with the
//! guarantees `airlock approve` gives:
//!
//! 1. [`Review::of`] examines the component against the policy and the lock
//!    as read: who published it, what it asks for, its risks, and what
//!    changed since the approved version.
//! 2. [`compile`] compiles it as the hosts that run it will, so that a
//!    component wasmtime refuses, or one beyond the policy's `[compile]`
//!    bounds, is never approved, and its first run finds it compiled.
//! 3. Once a person agrees, [`write()`] records the approval: a downgrade is
//!    refused unless allowed, and the lock is changed only if this
//!    action's approval in it is still the one the review compared against
//!    (a compare-and-swap), and only after an `approval` record saying who
//!    approved what, and what changed, is durable in the log of approvals
//!    ([`AuditConfig::for_approvals`](airlock_rules::policy::AuditConfig::for_approvals)).
//!
//! `docs/embedding.md` shows the three steps together, compiled as a doc
//! test.

use crate::Error;
use crate::compile::{CompileCache, Compiler};
use crate::runtime;
use airlock_audit::{AuditLog, Event, EventKind};
use airlock_rules::provenance::Lock;
use airlock_rules::provenance::lock::Entry;
use airlock_rules::{Digest, Policy, Refusal};
use serde::Serialize;
use serde_json::{Value, json};

pub use airlock_rules::provenance::approve::{ApproveError, Written, check_downgrade};
pub use airlock_rules::provenance::review::Review;

/// Who approves, as the `approval` record names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approver {
    /// The person or account, as the approving program knows them (`airlock
    /// approve`: the user it runs as).
    pub user: String,
    /// Where it ran (`airlock approve`: the host name).
    pub host: String,
}

/// The longest `user` or `host` an `approval` record keeps.
const APPROVER_MAX: usize = 256;

/// Write the approval `review` describes into `policy`'s lock, with
/// [`Review::entry`]'s rules and the lock's compare-and-swap
/// ([`airlock_rules::provenance::approve::write`]). `reviewed` is the lock
/// the review was made against; `source` is where the component came
/// from, as the lock records it.
///
/// Before the lock is written, an `approval` record — `approver`, the
/// action, version and digest, its publisher and signature, the approval
/// it replaces and every change from it — is made durable in the log of
/// approvals, and a checkpoint of it is written: an approval that cannot
/// be recorded is not written ([`ApproveError::Unrecorded`]). Should the
/// lock then fail to be written, a second `approval` record that denies
/// it says so. Nothing is recorded when nothing is written.
pub fn write(
    review: &Review,
    reviewed: &Lock,
    policy: &Policy,
    source: impl Into<String>,
    approver: &Approver,
    allow_downgrade: bool,
) -> Result<Written, ApproveError> {
    let lock_path = &policy.trust.lock;
    let mut recorded: Option<(AuditLog, Entry)> = None;
    let record = |entry: &Entry| {
        let opened = AuditLog::open(&policy.audit.for_approvals()).map_err(|e| e.to_string())?;
        let event = approval(review, entry, approver, lock_path).allow();
        opened
            .append_durable(None, event)
            .map_err(|e| e.to_string())?;
        // From here the log says it was approved: a failure after this
        // point is followed by a record that says it was not.
        let checkpointed = opened.checkpoint().map(drop).map_err(|e| e.to_string());
        recorded = Some((opened, entry.clone()));
        checkpointed
    };
    let written = airlock_rules::provenance::approve::write(
        review,
        reviewed,
        lock_path,
        source,
        std::time::SystemTime::now(),
        allow_downgrade,
        record,
    );
    let Some((log, entry)) = recorded else {
        return written;
    };
    let closed = match &written {
        // The record said it was approved; say that it did not take. The
        // lock was not written either way; its error is the one to report.
        Err(e) => {
            let reason = format!("the approval was not written: {e}");
            let denied = approval(review, &entry, approver, lock_path).deny(reason);
            log.append_durable(None, denied).and_then(|_| log.seal())
        }
        Ok(_) => log.seal(),
    };
    match (written, closed) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(ApproveError::Unrecorded(format!(
            "the lock was written, but the log of approvals could not be sealed: {e}"
        ))),
        (Ok(w), Ok(_)) => Ok(w),
    }
}

/// `value` as JSON; what airlock serializes always is.
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The `approval` record of `entry`, decided by `review`.
fn approval(review: &Review, entry: &Entry, approver: &Approver, lock: &std::path::Path) -> Event {
    let cut = |s: &str| s.chars().take(APPROVER_MAX).collect::<String>();
    Event::new(EventKind::Approval)
        .field("action", format!("{}@{}", entry.name, entry.version))
        .field("digest", entry.digest.to_string())
        .field("source", entry.source.clone())
        .field("publisher", entry.publisher.clone())
        .field("signature", review.signature.to_string())
        .field("attestation", to_json(&entry.attestation))
        .field("previous", to_json(&review.previous))
        .field("changes", to_json(&review.changes))
        .field("dependency_changes", to_json(&review.dependency_changes))
        .field("dependencies", entry.dependencies.as_ref().map(Vec::len))
        .field(
            "downgraded_from",
            entry.downgraded_from.as_ref().map(|v| v.to_string()),
        )
        .field(
            "approver",
            json!({"user": cut(&approver.user), "host": cut(&approver.host)}),
        )
        .field("lock", lock.display().to_string())
}

/// Compile the reviewed component (`bytes`) as the hosts that run it under
/// `policy` will: with `compiler`, held to the policy's `[compile]` bounds,
/// and into `cache` when one is given (keyed for those hosts with
/// [`CompileCache::keyed_for`], so that they load it).
pub fn compile(
    review: &Review,
    bytes: &[u8],
    policy: &Policy,
    compiler: &Compiler,
    cache: Option<&CompileCache>,
) -> Result<(), Error> {
    // What is compiled, and cached as the approved digest, must be what
    // was reviewed: a file read again may have changed in between.
    let actual = Digest::of(bytes);
    if actual != review.digest {
        return Err(Refusal::DigestMismatch {
            name: review.manifest.action.name.clone(),
            origin: review.origin.clone(),
            approved: review.digest,
            actual,
        }
        .into());
    }
    let engine = runtime::engine(None)
        .map_err(|e| Error::runtime("cannot set up the WebAssembly engine", Some(e)))?;
    let origin = &review.origin;
    let compile = || compiler.compile(&engine, bytes, origin, &policy.compile);
    let compiled = match cache {
        Some(cache) => cache.compiled(&engine, &review.digest, compile),
        None => compile().map(|c| c.component),
    };
    compiled.map(drop).map_err(|e| {
        e.refusal(origin.clone())
            .map_or_else(|host| host, Error::from)
    })
}
