//! Publishers trusted by identity: a Sigstore bundle beside the component
//! (`<component>.sigstore.json`) verified offline against the trusted root
//! the policy names, and its signer held to the identities the policy
//! trusts for the publisher.
//!
//! A bundle passes when, with no network:
//!
//! 1. its certificate chains to a certificate authority of the trusted
//!    root, was valid when the transparency log integrated the entry, and
//!    carries a signed certificate timestamp of a trusted CT log;
//! 2. the log entry's inclusion proof, checkpoint and signed entry
//!    timestamp verify against a log key of the trusted root, and the
//!    entry describes this bundle — an entry without an inclusion proof is
//!    refused, not taken on its promise alone;
//! 3. the signature covers the component: a message signature over its
//!    bytes, or an in-toto statement (DSSE) one of whose subjects has its
//!    SHA-256 digest;
//! 4. the certificate's OIDC issuer equals, and its subject matches, an
//!    identity of the publisher's — and, where that identity names a
//!    source repository or builder, the SLSA provenance statement in the
//!    bundle names the same ones.
//!
//! What passed is an [`Attestation`]: the lock keeps it and every
//! `run.start` records it. Its time is the log's integrated time (or an
//! RFC 3161 timestamp's), which the publisher cannot choose: the release
//! age rule ([`check_age`]) counts from it.
//!
//! Cryptography is `ring`'s, with RustCrypto's P-256 and P-384 where a
//! digest is verified; a program installs it once with [`install_crypto`]
//! (a library does not change process-wide state).

use crate::policy::Policy;
use serde::Serialize;
use sigstore_crypto::{CryptoProvider, HashContext, SigningScheme};
use sigstore_types::{Bundle, HashAlgorithm, SignatureContent};
use sigstore_verify::{VerificationPolicy, Verifier};
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file a component's bundle is read from: `<component>` + this.
pub const BUNDLE_SUFFIX: &str = ".sigstore.json";

/// An identity a publisher is trusted by (`[publishers.NAME] sigstore`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The certificate's OIDC issuer, exactly, like
    /// `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The certificate's subject (its SAN): exact, or with `*` matching any
    /// run of characters, like `https://github.com/acme/x/.github/workflows/release.yml@refs/tags/v*`.
    pub subject: String,
    /// The source repository it must have been built from: as the
    /// certificate names it (Fulcio's claim, from the CI's token) where it
    /// does, else as the SLSA provenance statement does (the signer's).
    pub repository: Option<String>,
    /// The builder the SLSA provenance statement must name (the signer's
    /// claim; checked against the certificate's runner environment where it
    /// has one).
    pub builder: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        signer(
            f,
            &self.subject,
            &self.issuer,
            &self.repository,
            &self.builder,
        )
    }
}

/// `SUBJECT (issuer ISSUER), repository R, builder B`, as an identity and
/// an attestation both show who signed.
fn signer(
    f: &mut fmt::Formatter<'_>,
    subject: &str,
    issuer: &str,
    repository: &Option<String>,
    builder: &Option<String>,
) -> fmt::Result {
    write!(f, "{subject} (issuer {issuer})")?;
    if let Some(r) = repository {
        write!(f, ", repository {r}")?;
    }
    if let Some(b) = builder {
        write!(f, ", builder {b}")?;
    }
    Ok(())
}

/// What a verified bundle established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attestation {
    /// The certificate's OIDC issuer.
    pub issuer: String,
    /// The certificate's subject (SAN).
    pub subject: String,
    /// The source repository the SLSA provenance names, if it has one.
    pub repository: Option<String>,
    /// The builder the SLSA provenance names, if it has one.
    pub builder: Option<String>,
    /// The transparency log entry's index.
    pub log_index: u64,
    /// When the log integrated the entry (or an RFC 3161 timestamp
    /// authority saw the signature), in seconds since the Unix epoch.
    pub integrated_time: u64,
}

impl Attestation {
    /// [`integrated_time`](Self::integrated_time) as a time.
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.integrated_time)
    }

    /// Whether `identity` is the one this attestation shows.
    pub fn matches(&self, identity: &Identity) -> bool {
        identity.issuer == self.issuer
            && glob(&identity.subject, &self.subject)
            && identity
                .repository
                .as_ref()
                .is_none_or(|r| self.repository.as_ref() == Some(r))
            && identity
                .builder
                .as_ref()
                .is_none_or(|b| self.builder.as_ref() == Some(b))
    }
}

impl fmt::Display for Attestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        signer(
            f,
            &self.subject,
            &self.issuer,
            &self.repository,
            &self.builder,
        )?;
        write!(
            f,
            "; log index {}, integrated {}",
            self.log_index,
            humantime::format_rfc3339_seconds(self.time())
        )
    }
}

/// Why a bundle was not good enough.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationProblem {
    /// No cryptography provider was installed ([`install_crypto`]).
    #[error(
        "cannot verify Sigstore bundles: no crypto provider is installed (the program must call \
         airlock_rules::provenance::sigstore::install_crypto once)"
    )]
    NoCrypto,
    /// The policy names no trusted root, or it cannot be read.
    #[error("{0}")]
    Root(String),
    /// The bundle is not one.
    #[error("has a Sigstore bundle that cannot be read: {file}: {reason}")]
    Malformed {
        /// The bundle file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// No log entry with an inclusion proof.
    #[error(
        "has a Sigstore bundle with no transparency-log entry carrying an inclusion proof: {file}; \
         a signature that was never proven logged is not trusted"
    )]
    NotLogged {
        /// The bundle file.
        file: String,
    },
    /// Signed with a key rather than by an identity.
    #[error("has a Sigstore bundle signed with a key, not a certificate of an identity: {file}")]
    NoIdentity {
        /// The bundle file.
        file: String,
    },
    /// The bundle does not verify for this component.
    #[error("has a Sigstore bundle that does not verify: {file}: {reason}")]
    Invalid {
        /// The bundle file.
        file: String,
        /// Why, as the verifier says it.
        reason: String,
    },
    /// Verified, but by an identity the policy does not trust.
    #[error(
        "is attested by {attested}, which the policy does not trust for publisher `{publisher}` \
         (it trusts {trusted}): if the publisher confirms it, add it under [publishers.{publisher}] sigstore"
    )]
    Untrusted {
        /// What the bundle shows.
        attested: String,
        /// The publisher the manifest names.
        publisher: String,
        /// The identities the policy trusts for it.
        trusted: String,
    },
}

/// Load the trusted root at `path`.
pub fn load_root(path: &Path) -> Result<sigstore_trust_root::TrustedRoot, AttestationProblem> {
    let shown = path.display();
    let bytes = crate::opfile::read_operator_file(path, crate::opfile::POLICY_MAX, "trusted root")
        .map_err(|e| {
            AttestationProblem::Root(format!("cannot read the trusted root {shown}: {e}"))
        })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| AttestationProblem::Root(format!("the trusted root {shown} is not UTF-8")))?;
    sigstore_trust_root::TrustedRoot::from_json(text).map_err(|e| {
        AttestationProblem::Root(format!("the trusted root {shown} cannot be read: {e}"))
    })
}

/// Verify `bundle` (the text of `file`) for `artifact`, against `root`,
/// and hold its signer to `identities`, the ones trusted for `publisher`.
pub fn verify(
    bundle: &str,
    file: &str,
    artifact: &[u8],
    root: &sigstore_trust_root::TrustedRoot,
    publisher: &str,
    identities: &[Identity],
) -> Result<Attestation, AttestationProblem> {
    if sigstore_crypto::try_default_provider().is_none() {
        return Err(AttestationProblem::NoCrypto);
    }
    let file = file.to_owned();
    let parsed = Bundle::from_json(bundle).map_err(|e| AttestationProblem::Malformed {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let entries = &parsed.verification_material.tlog_entries;
    let Some(entry) = entries.iter().find(|e| e.inclusion_proof.is_some()) else {
        return Err(AttestationProblem::NotLogged { file });
    };
    let verifier = Verifier::new(root).map_err(|e| AttestationProblem::Root(e.to_string()))?;
    let result = verifier
        .verify(artifact, &parsed, &VerificationPolicy::any_identity())
        .map_err(|e| AttestationProblem::Invalid {
            file: file.clone(),
            reason: e.to_string(),
        })?;
    let (Some(subject), Some(issuer)) = (result.identity(), result.issuer()) else {
        return Err(AttestationProblem::NoIdentity { file });
    };
    if !(result.certificate_verified() && result.tlog_verified()) {
        return Err(AttestationProblem::Invalid {
            file,
            reason: "its certificate or log entry was not verified".into(),
        });
    }
    let time = result
        .integrated_time()
        .or_else(|| result.verified_timestamps().first().copied())
        .ok_or_else(|| AttestationProblem::Invalid {
            file: file.clone(),
            reason: "it has no trusted time (neither a log's integrated time nor a timestamp)"
                .into(),
        })?;
    let invalid = |reason: String| AttestationProblem::Invalid {
        file: file.clone(),
        reason,
    };
    // The certificate's claims are Fulcio's, from the CI's token; the
    // statement's are the signer's. Where both speak, they must agree.
    let claims = result.certificate().map(|c| &c.ci_claims);
    let (stated, builder) = slsa(&parsed.content);
    let certified = claims.and_then(|c| c.source_repository_uri.clone());
    let repository = match (certified, stated) {
        (Some(c), Some(s)) if c != s => {
            return Err(invalid(format!(
                "its provenance names repository {}, but its certificate {}",
                s.escape_debug(),
                c.escape_debug()
            )));
        }
        (Some(c), _) => Some(c),
        (None, s) => s,
    };
    if let (Some(env), Some(b)) = (
        claims.and_then(|c| c.runner_environment.as_deref()),
        &builder,
    ) && (b.ends_with("/github-hosted") || b.ends_with("/self-hosted"))
        && !b.ends_with(&format!("/{env}"))
    {
        return Err(invalid(format!(
            "its provenance names builder {}, but its certificate says the runner was {}",
            b.escape_debug(),
            env.escape_debug()
        )));
    }
    // Shown to a person at approval and kept in the lock: text, bounded.
    for value in [
        Some(issuer),
        Some(subject.as_str()),
        repository.as_deref(),
        builder.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        if value.is_empty() || value.len() > 1024 || value.chars().any(char::is_control) {
            return Err(invalid(format!(
                "it names an identity, repository or builder that is not 1 to 1024 characters of \
                 text: {:?}",
                value.chars().take(64).collect::<String>()
            )));
        }
    }
    let attestation = Attestation {
        issuer: issuer.to_owned(),
        subject: subject.as_str().to_owned(),
        repository,
        builder,
        log_index: entry.log_index.get(),
        integrated_time: u64::try_from(time.as_second()).unwrap_or(0),
    };
    if identities.iter().any(|i| attestation.matches(i)) {
        Ok(attestation)
    } else {
        Err(untrusted(&attestation, publisher, identities))
    }
}

/// Whether the attestation a component was approved with is still one the
/// policy trusts for `publisher` (checked at every run).
pub fn check_recorded(
    attestation: &Attestation,
    publisher: &str,
    policy: &Policy,
) -> Result<(), AttestationProblem> {
    let identities = policy
        .publishers
        .get(publisher)
        .map_or(&[][..], |p| &p.sigstore[..]);
    if identities.iter().any(|i| attestation.matches(i)) {
        Ok(())
    } else {
        Err(untrusted(attestation, publisher, identities))
    }
}

fn untrusted(
    attestation: &Attestation,
    publisher: &str,
    trusted: &[Identity],
) -> AttestationProblem {
    let trusted = match trusted {
        [] => "no identity".to_owned(),
        list => list
            .iter()
            .map(Identity::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    };
    AttestationProblem::Untrusted {
        attested: attestation.to_string(),
        publisher: publisher.into(),
        trusted,
    }
}

/// The source repository and builder an SLSA provenance statement names
/// (v1: `buildDefinition.externalParameters.workflow.repository` and
/// `runDetails.builder.id`; v0.2: `invocation.configSource.uri` without
/// its `git+` and `@ref`, and `builder.id`).
fn slsa(content: &SignatureContent) -> (Option<String>, Option<String>) {
    let SignatureContent::DsseEnvelope(envelope) = content else {
        return (None, None);
    };
    let Ok(statement) = serde_json::from_slice::<serde_json::Value>(envelope.payload.as_bytes())
    else {
        return (None, None);
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let predicate = &statement["predicate"];
    match statement["predicateType"].as_str() {
        Some("https://slsa.dev/provenance/v1") => (
            text(&predicate["buildDefinition"]["externalParameters"]["workflow"]["repository"]),
            text(&predicate["runDetails"]["builder"]["id"]),
        ),
        Some("https://slsa.dev/provenance/v0.2") => {
            let uri = predicate["invocation"]["configSource"]["uri"].as_str();
            let repository = uri.map(|u| {
                let u = u.strip_prefix("git+").unwrap_or(u);
                u.split_once('@').map_or(u, |(repo, _)| repo).to_owned()
            });
            (repository, text(&predicate["builder"]["id"]))
        }
        _ => (None, None),
    }
}

/// `text` matches `pattern`, where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// Refuse an approval younger than `min_age`, counted from `attestation`'s
/// trusted time; a component without one cannot satisfy the rule. The
/// error says when it can be approved.
pub fn check_age(
    attestation: Option<&Attestation>,
    min_age: Duration,
    now: SystemTime,
) -> Result<(), String> {
    let shown = humantime::format_duration(min_age);
    let Some(attestation) = attestation else {
        return Err(format!(
            "has no trusted publication time, so it cannot meet the policy's min_release_age of \
             {shown}: it needs a Sigstore bundle logged in a transparency log"
        ));
    };
    let ready = attestation.time() + min_age;
    if now >= ready {
        return Ok(());
    }
    Err(format!(
        "was published at {} (the transparency log's time), less than the policy's \
         min_release_age of {shown} ago: it can be approved from {}",
        humantime::format_rfc3339_seconds(attestation.time()),
        humantime::format_rfc3339_seconds(ready)
    ))
}

/// The cryptography bundles are verified with: `ring`, and RustCrypto's
/// P-256 and P-384 for signatures over a digest (which `ring` cannot
/// check).
#[derive(Debug)]
struct Crypto;

struct Hashing(ring::digest::Context);

impl HashContext for Hashing {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

fn invalid(scheme: SigningScheme) -> sigstore_crypto::Error {
    sigstore_crypto::Error::Verification(format!("{scheme:?} signature invalid"))
}

fn unsupported(what: impl fmt::Debug) -> sigstore_crypto::Error {
    sigstore_crypto::Error::UnsupportedAlgorithm(format!("{what:?}"))
}

impl CryptoProvider for Crypto {
    fn hash(&self, algorithm: HashAlgorithm) -> sigstore_crypto::Result<Box<dyn HashContext>> {
        let algorithm = match algorithm {
            HashAlgorithm::Sha2256 => &ring::digest::SHA256,
            HashAlgorithm::Sha2384 => &ring::digest::SHA384,
            HashAlgorithm::Sha2512 => &ring::digest::SHA512,
            other => return Err(unsupported(other)),
        };
        Ok(Box::new(Hashing(ring::digest::Context::new(algorithm))))
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        use ring::signature as s;
        let algorithm: &'static dyn s::VerificationAlgorithm = match scheme {
            SigningScheme::EcdsaP256Sha256 => &s::ECDSA_P256_SHA256_ASN1,
            SigningScheme::EcdsaP256Sha384 => &s::ECDSA_P256_SHA384_ASN1,
            SigningScheme::EcdsaP384Sha256 => &s::ECDSA_P384_SHA256_ASN1,
            SigningScheme::EcdsaP384Sha384 => &s::ECDSA_P384_SHA384_ASN1,
            SigningScheme::Ed25519 => &s::ED25519,
            SigningScheme::RsaPssSha256 => &s::RSA_PSS_2048_8192_SHA256,
            SigningScheme::RsaPssSha384 => &s::RSA_PSS_2048_8192_SHA384,
            SigningScheme::RsaPssSha512 => &s::RSA_PSS_2048_8192_SHA512,
            SigningScheme::RsaPkcs1Sha256 => &s::RSA_PKCS1_2048_8192_SHA256,
            SigningScheme::RsaPkcs1Sha384 => &s::RSA_PKCS1_2048_8192_SHA384,
            SigningScheme::RsaPkcs1Sha512 => &s::RSA_PKCS1_2048_8192_SHA512,
            other => return Err(unsupported(other)),
        };
        s::UnparsedPublicKey::new(algorithm, key)
            .verify(data, signature)
            .map_err(|_| invalid(scheme))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        key: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> sigstore_crypto::Result<()> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let key =
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
                let signature =
                    p256::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &signature)
                    .map_err(|_| invalid(scheme))
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let key =
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|_| invalid(scheme))?;
                let signature =
                    p384::ecdsa::Signature::from_der(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &signature)
                    .map_err(|_| invalid(scheme))
            }
            other => Err(unsupported(other)),
        }
    }
}

static CRYPTO: Crypto = Crypto;

/// Install the cryptography Sigstore bundles are verified with, once per
/// process, in `main` (airlock's binaries do). A provider the program
/// installed before is kept.
pub fn install_crypto() {
    let _ = sigstore_crypto::install_default_provider(&CRYPTO);
}

#[cfg(test)]
mod tests;
