//! airlock runs third-party workflow actions — WebAssembly components — so
//! that each can reach only the files, secrets and network origins it
//! declared and an operator approved, pinned by digest, with a tamper-evident
//! record of every run and every capability it used.
//!
//! # The trust model
//!
//! An action is untrusted code. Its [`Manifest`] (embedded in the component,
//! so the digest covers it) says what it wants; its minisign signature says
//! who published it; the lock ([`provenance::Lock`], written by `airlock
//! approve`) records the SHA-256 digest and capability set a person
//! approved; the operator's [`Policy`] says what any action may ever get and
//! which publishers are trusted. A component that is not approved, or whose
//! manifest asks for more than was approved (capability drift), is refused
//! before it is compiled. At run time the [`Grant`] is `manifest ∩ policy`.
//! Each invocation gets a fresh instance — nothing survives between runs —
//! and no ambient authority: no environment, arguments, host stdio or
//! sockets. Every capability use passes one choke point in [`caps`] that
//! decides, enforces and records it in the [`audit`] log.
//!
//! # Embedding
//!
//! A workflow engine builds one [`Host`] and invokes actions by name:
//!
//! ```no_run
//! use airlock::{Host, Policy};
//!
//! # async fn step() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Policy::load("airlock.toml".as_ref())?;
//! let host = Host::builder(policy).build()?;
//! let outcome = host.invoke("hello", r#"{"name": "Ada"}"#).await?;
//! match outcome.result {
//!     Ok(json) => println!("{json}"),
//!     Err(failure) => eprintln!("run {} failed: {failure}", outcome.run),
//! }
//! for denial in &outcome.denials {
//!     eprintln!("refused {} {}: {}", denial.event, denial.target, denial.reason);
//! }
//! # Ok(()) }
//! ```
//!
//! An invocation that is refused before it runs (approval, drift,
//! signature, manifest) is an [`Error`]; one that ran is an [`Outcome`],
//! successful or not.
//!
//! # Where things are decided
//!
//! | question | module |
//! |---|---|
//! | is this manifest well-formed? | [`manifest`] |
//! | what does the operator allow? | [`policy`] |
//! | what does this action get? | [`grant`] |
//! | is this the approved component, asking for no more than was approved? | [`provenance::admit`], [`Host::action`] |
//! | who published it? | [`provenance::trust`] |
//! | may it be compiled (its functions, code, data, sizes)? | [`runtime::bounds`] |
//! | may this file / secret / request be used? | [`caps`] |
//! | how does a run begin and end, and what stops it? | [`runtime`] |
//! | what happened, provably? | [`audit`] |
//!
//! # The one use of `unsafe`
//!
//! airlock forbids `unsafe` everywhere but [`runtime::cache`], the on-disk
//! cache of compiled components: loading compiled machine code
//! (`Component::deserialize`) cannot be checked by the compiler. The module
//! states the trust argument (a private directory and file of the user
//! airlock runs as, and a MAC over the component's approved digest, the
//! engine's compatibility hash and the compiled code, under a key derived
//! from the audit log's signing key) and recompiles anything that fails a
//! check.

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod caps;
pub mod cli;
pub mod doc;
mod error;
pub mod grant;
mod host;
pub mod inspect;
pub mod manifest;
mod opfile;
mod outcome;
pub mod policy;
pub mod provenance;
pub mod runtime;
pub mod units;

pub use error::{Error, Refusal};
pub use grant::Grant;
pub use host::{Action, Host, HostBuilder};
pub use manifest::Manifest;
pub use outcome::{Failure, Outcome};
pub use policy::Policy;
pub use runtime::limits::LimitExceeded;

/// The embedding guide's examples, compiled with the crate's doc tests so
/// that they cannot drift from the API they show.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
struct EmbeddingGuide;
