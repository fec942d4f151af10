//! The audit log: what an action did and did not do, in a form an auditor
//! can check without trusting the host that wrote it.
//!
//! # Records
//!
//! JSON Lines, one record per event. Each record is one canonical JSON
//! object (RFC 8785 for the subset airlock writes), so the bytes on
//! disk are the bytes that are hashed. Every record has `v` (format, 1),
//! `seq` (contiguous from 0), `time`, `event`, `phase`, and `prev` (hex
//! SHA-256 of the previous record's line; zeros for the first); records of a
//! run add `run`, `action` (`name@version`) and `digest`, and each event
//! adds its own fields: `decision` (`allow`/`deny`) and `reason`, `target`,
//! sizes and durations. Strings a guest controls go through
//! [`Event::guest_text`]: escaped by the canonical form (a newline is the
//! two characters `\n`, so no string breaks a line or forges a field), cut
//! to [`GUEST_TEXT_LIMIT`] bytes with the original's length and hash.
//!
//! # The tree and checkpoints
//!
//! The records are the leaves of an RFC 6962 Merkle tree ([`merkle`]): leaf
//! `SHA-256(0x00 ‖ line)`, node `SHA-256(0x01 ‖ left ‖ right)`, computed
//! incrementally. At the end of every run, every `checkpoint_every` records
//! and every `checkpoint_interval` while records come in, the host appends
//! a [`checkpoint`] — size, root, time — as a C2SP signed note ([`note`],
//! Ed25519) to the checkpoints file, and copies it to the policy's anchor.
//! A checkpoint makes truncation, rollback and rewriting detectable by
//! anyone holding the verifier key and a copy of a checkpoint, and lets
//! `airlock audit prove` hand an auditor one record with a proof instead
//! of the log.
//!
//! # Write-ahead records
//!
//! A side effect that leaves the sandbox is recorded *before* it happens:
//! [`Recorder::intent`] appends an `intent` record and returns only once it
//! is durable (per the policy's `sync`); the host then acts, and closes the
//! intent with [`Recorder::result`] (it was attempted: the outcome) or
//! [`Recorder::aborted`] (it was not). If the intent cannot be made durable
//! the host call is refused and nothing happens. [`audit
//! verify`](verify) fails with `ORPHAN_INTENT` on an intent that was never
//! closed although its run ended; after a crash, the next host to open the
//! log closes the intents left open with an `audit.recover` record.
//!
//! Files (the `airlock` crate's `caps::fs`): creating, removing, renaming and
//! linking names, making and removing directories, and opening a file for
//! writing are intents. Writes through a descriptor opened for writing are
//! covered by that open's intent: the log shows that the file was opened
//! for writing (and created or truncated) before any byte was written.
//!
//! Network (the `airlock` crate's `caps::net`): a request that passed every check is an
//! intent — method, destination, path, resolved addresses and the names of
//! the secrets it fills in — made durable before the first byte leaves; the
//! result (status, sizes, the address used, or the error) closes it. A
//! secret substitution is part of the request it is made for, so it is
//! written ahead with it. A refused request is a single `deny` record.
//!
//! # Failing closed
//!
//! A record that cannot be written or synced fails the host call that
//! wanted it, and the run ends with `audit unavailable`. Each new run's
//! `run.start` is a write, so new runs are refused until the log takes
//! writes again; a result whose write failed is kept and written first then
//! (marked `late`). A write that cannot be undone, or an fsync failure under
//! group commit, stops the log until the host restarts.
//!
//! [`AuditLog::open_with`] takes [`Faults`], the test API that injects
//! write and sync failures.

#![deny(missing_docs)]

pub mod checkpoint;
mod error;
mod event;
mod faults;
mod jcs;
mod keys;
mod log;
pub mod merkle;
pub mod note;
pub mod paths;
pub mod proof;
mod publish;
mod record;
mod recorder;
pub mod show;
mod state;
mod ticker;
pub mod verify;

#[cfg(test)]
pub(crate) mod testrng;

pub use error::AuditError;
pub use event::EventKind;
pub use faults::{Fault, Faults};
pub use keys::load_or_create as signing_key;
pub use keys::write_pair as write_key_pair;
pub use log::{AuditLog, GENESIS, TimingsNow};
pub use record::{Canonical, Decision, Event, GUEST_TEXT_LIMIT, Phase, Scrub};
pub use recorder::{Intent, Observer, Recorder};
pub use ticker::Checkpointer;

use airlock_rules::provenance::Digest;

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
    pub event: EventKind,
    /// What was refused: a secret's name, a path, an origin.
    pub target: String,
    /// Why, and what would grant it.
    pub reason: String,
}
