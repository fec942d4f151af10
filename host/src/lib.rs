//! airlock runs third-party workflow actions — WebAssembly components — so
//! that each can reach only the files, secrets and network origins it
//! declared and an operator approved, pinned by digest, with a tamper-evident
//! record of every run and every capability it used.
//!
//! # The trust model
//!
//! An action is untrusted code. Its [`Manifest`] (embedded in the component,
//! so the digest covers it) says what it wants; its minisign signature says
//! who published it; the lock ([`rules::provenance::Lock`], written by
//! `airlock approve` or [`approve::write`]) records the SHA-256 digest and capability set a person
//! approved; the operator's [`Policy`] says what any action may ever get and
//! which publishers are trusted. A component that is not approved, or whose
//! manifest asks for more than was approved (capability drift), is refused
//! before it is compiled. At run time the [`Grant`] is `manifest ∩ policy`.
//! Each invocation gets a fresh instance — nothing survives between runs —
//! and no ambient authority: no environment, arguments, host stdio or
//! sockets. Every capability use passes one choke point that decides,
//! enforces and records it in the [`audit`] log.
//!
//! # The crates
//!
//! - [`rules`] (`airlock-rules`): manifest, policy, grant, the network
//!   grammar, the lock, approval and minisign: pure decisions, no
//!   WebAssembly runtime.
//! - [`audit`] (`airlock-audit`): the log, its tree and checkpoints, and
//!   verification: no WebAssembly runtime, so an auditor's tool needs none.
//! - `airlock` (this crate): the runtime, the capabilities and the
//!   embedding API. Both crates above are re-exported, so one dependency is
//!   enough.
//! - `airlock-cli`: the `airlock` command, thin over this crate.
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
//! | question | where |
//! |---|---|
//! | is this manifest well-formed? | [`rules::manifest`] |
//! | what does the operator allow? | [`rules::policy`] |
//! | what does this action get? | [`rules::grant`] |
//! | is this the approved component, asking for no more than was approved? | [`rules::provenance::admit`], [`Host::action`] |
//! | who published it? | [`rules::provenance::trust`] |
//! | may it be compiled (its functions, code, data, sizes)? | [`rules::bounds`] |
//! | may this file / secret / request be used? | the capability modules, at run time; refusals reach [`Outcome::denials`] |
//! | what happened, provably? | [`audit`] |
//!
//! # The one use of `unsafe`
//!
//! airlock forbids `unsafe` everywhere but the on-disk cache of compiled
//! components ([`compile::CompileCache`]): loading compiled machine code
//! (`Component::deserialize`) cannot be checked by the compiler. The module
//! states the trust argument (a private directory and file of the user
//! airlock runs as, and a MAC over the component's approved digest, the
//! engine's compatibility hash and the compiled code, under a key derived
//! from the audit log's signing key) and recompiles anything that fails a
//! check.

#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod approve;
mod caps;
mod error;
mod host;
mod outcome;
pub mod report;
mod runtime;

pub use airlock_audit as audit;
pub use airlock_rules as rules;
pub use airlock_rules::{Grant, Manifest, Policy, Refusal};
pub use error::Error;
pub use host::{Action, Host, HostBuilder};
pub use outcome::{Cancel, Failure, Invocation, Outcome};
pub use runtime::Prelink;
pub use runtime::limits::LimitExceeded;

/// Compiling components: where ([`Compiler`](compile::Compiler): in the
/// host's process or in a child held to the policy's `[compile]` bounds),
/// the on-disk cache of compiled components
/// ([`CompileCache`](compile::CompileCache)), and the child's side of the
/// protocol ([`compile_as_child`](compile::compile_as_child)).
pub mod compile {
    pub use crate::runtime::cache::{CacheError, CompileCache};
    pub use crate::runtime::compiler::{
        COMMAND, ChildFailure, CompileError, Compiler, compile_as_child,
    };
}

/// What the benchmark suite compares airlock against: the engine
/// configuration and bindings every host uses, so that the raw wasmtime
/// baseline runs with the same pool. Not part of the API.
#[doc(hidden)]
pub mod bench_support {
    pub use crate::runtime::bindings;
    pub use crate::runtime::config;
}

/// The embedding guide's examples, compiled with the crate's doc tests so
/// that they cannot drift from the API they show.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
struct EmbeddingGuide;
