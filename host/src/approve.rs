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
//!    (a compare-and-swap).
//!
//! `docs/embedding.md` shows the three steps together, compiled as a doc
//! test.

use crate::Error;
use crate::compile::{CompileCache, Compiler};
use crate::runtime;
use airlock_rules::{Digest, Policy, Refusal};

pub use airlock_rules::provenance::approve::{ApproveError, Written, check_downgrade, write};
pub use airlock_rules::provenance::review::Review;

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
