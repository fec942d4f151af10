//! Where a component came from and whether it is the one a person
//! approved.
//!
//! - [`Digest`]: the SHA-256 that names one exact component.
//! - [`lock`]: `airlock.lock`, one approval per action — digest, publisher,
//!   signing key and the approved capability set — written by
//!   `airlock approve`, atomically.
//! - [`approval`]: the approved capability set in canonical form, and the
//!   plain-words difference between two of them.
//! - [`admit`]: the lock's verdict on a component being loaded: approved,
//!   not approved, other bytes, or capability drift.
//! - [`minisign`]: the minisign key and signature formats.
//! - [`trust`]: a component's signature checked against the publishers
//!   the policy trusts.
//! - [`review`]: everything `airlock approve` shows a person before an
//!   approval is written.

pub mod admit;
pub mod approval;
pub mod approve;
pub mod atomic;
mod digest;
pub mod lock;
pub mod minisign;
pub mod review;
pub mod sigstore;
pub mod trust;

pub use digest::Digest;
pub use digest::{hex, hex_into};
pub use lock::{Entry, Lock};
