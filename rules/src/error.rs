//! The rules' errors: a document that cannot be read or written, and why
//! an action is refused before it runs.

use crate::doc::DocError;
use crate::manifest::section::SectionError;
use crate::provenance::Digest;
use crate::provenance::trust::SignatureProblem;

/// An operator file that could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is malformed or invalid.
    #[error(transparent)]
    Document(#[from] DocError),
    /// The file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Why an action was refused before it ran. Every refusal is also an audit
/// record.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The policy has no such action.
    #[error("unknown action `{0}`: the policy has no [actions.{0}]")]
    UnknownAction(String),
    /// The policy knows the action but not where its component is.
    #[error("action `{0}` has no path: add path = \"…\" under [actions.{0}] in the policy")]
    NoPath(String),
    /// Nothing in the lock approves this component.
    #[error(
        "action `{name}` ({digest}) is not approved: nothing in the lock approves {origin}; \
         vet it and run `{approve}`"
    )]
    NotApproved {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// The component's digest.
        digest: Digest,
        /// The command that would approve it.
        approve: String,
    },
    /// The component is not the one that was approved.
    #[error(
        "action `{name}` is approved as {approved}, but {origin} is {actual}: these are not the \
         bytes that were vetted; if this is a new build, vet it and run `{}`",
        crate::provenance::admit::approve_command(origin)
    )]
    DigestMismatch {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// The approved digest.
        approved: Digest,
        /// The component's digest.
        actual: Digest,
    },
    /// The manifest asks for more than was approved.
    #[error(
        "action `{name}` ({origin}) asks for more than was approved (capability drift): {}; \
         vet it and run `{approve}`",
        changes.join("; ")
    )]
    Drift {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// Each widening, in plain words.
        changes: Vec<String>,
        /// The command that would approve it.
        approve: String,
    },
    /// The signature is missing, unreadable, untrusted or bad.
    #[error("action `{name}` ({origin}) {problem}")]
    Signature {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// What is wrong.
        problem: SignatureProblem,
    },
    /// The component declares another action than the one asked for.
    #[error("{origin} declares action `{declared}`, not `{asked}`")]
    NameMismatch {
        /// Where the component was read from.
        origin: String,
        /// The name asked for.
        asked: String,
        /// The name in its manifest.
        declared: String,
    },
    /// The policy requires a dependency list the component does not
    /// carry, or carries unreadable (`require_sbom`).
    #[error(
        "action `{name}` ({origin}) {why}, and the policy requires one (require_sbom): build it \
         with `cargo auditable build` and approve that build, or set require_sbom = false under \
         [actions.{name}]"
    )]
    NoSbom {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// `carries no dependency list`, or why it cannot be read.
        why: String,
    },
    /// The release is younger than the policy's `min_release_age`, or has
    /// no trusted publication time.
    #[error("action `{name}` ({origin}) cannot be approved yet: it {why}")]
    ReleaseAge {
        /// The action's name.
        name: String,
        /// Where the component was read from.
        origin: String,
        /// Its age, and when it can be approved.
        why: String,
    },
    /// The component's manifest is missing, duplicated or not UTF-8.
    #[error("{origin}: {error}")]
    ManifestSection {
        /// Where the component was read from.
        origin: String,
        /// What is wrong.
        error: SectionError,
    },
    /// The component's manifest does not validate.
    #[error("{0}")]
    Manifest(DocError),
    /// The bytes are not a component wasmtime can compile.
    #[error("{origin} is not a valid component: {reason}")]
    InvalidComponent {
        /// Where the component was read from.
        origin: String,
        /// wasmtime's reason.
        reason: String,
    },
    /// The component is beyond a ceiling of the policy's `[compile]` table,
    /// found by parsing it; nothing of it was compiled.
    #[error("{origin} is refused before compiling: {exceeded}")]
    OverCeiling {
        /// Where the component was read from.
        origin: String,
        /// Which ceiling, the measure and the ceiling.
        exceeded: crate::bounds::Exceeded,
    },
    /// Compiling the component went beyond the policy's `[compile]`
    /// `timeout` or `memory`; the compiling process was stopped.
    #[error("{origin} cannot be compiled within the policy's bounds: {reason}")]
    CompileBound {
        /// Where the component was read from.
        origin: String,
        /// Which bound, and the key that raises it.
        reason: String,
    },
    /// A development run (`airlock run --dev`) under a policy that is not
    /// for development.
    #[error(
        "{origin} is refused as a development run: this policy is not for development; \
         approve it (`{}`) to run it here, or run it under a development policy, one with \
         allow_dev = true under [trust] (`airlock new` writes one)",
        crate::provenance::admit::approve_command(origin)
    )]
    DevNotAllowed {
        /// Where the component was read from.
        origin: String,
    },
    /// The policy's configuration values for the action do not fit the
    /// keys its manifest declares.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The component imports something airlock does not provide.
    #[error("{origin} cannot be linked: {reason}")]
    Unlinkable {
        /// Where the component was read from.
        origin: String,
        /// wasmtime's reason, naming the import.
        reason: String,
    },
}
