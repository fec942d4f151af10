//! Who published a component: its detached minisign signature checked
//! against the keys the policy trusts for the publisher its manifest names.
//!
//! | signature | key | required | verdict |
//! |---|---|---|---|
//! | none | — | yes | refused: missing |
//! | none | — | no | unsigned |
//! | malformed | — | either | refused: malformed |
//! | any | trusted for another publisher | either | refused: other publisher |
//! | any | not trusted | yes | refused: untrusted key |
//! | any | not trusted | no | unverified (the key is unknown, so nothing can be checked) |
//! | bad | trusted | either | refused: bad signature |
//! | good | trusted | either | verified |
//!
//! A signature is required unless the policy says otherwise, globally
//! (`[trust] require_signature = false`) or for one first-party action
//! (`[actions.NAME] require_signature = false`).
//!
//! This module is pure.

use super::minisign::{KeyId, MinisignError, Signature};
use super::sigstore::{self, Attestation, AttestationProblem};
use crate::policy::Policy;
use serde::Serialize;
use std::fmt;

/// A signature file's text and where it was read from.
#[derive(Clone, Debug)]
pub struct SignatureFile {
    /// Where it was read from, for messages.
    pub origin: String,
    /// Its contents.
    pub text: String,
}

impl SignatureFile {
    /// The signature next to the component at `component`
    /// (`<component>.minisig`), if there is one.
    pub fn next_to(
        component: &std::path::Path,
    ) -> Result<Option<SignatureFile>, crate::doc::DocError> {
        SignatureFile::beside(component, ".minisig")
    }

    /// The Sigstore bundle next to the component at `component`
    /// (`<component>.sigstore.json`), if there is one.
    pub fn bundle_next_to(
        component: &std::path::Path,
    ) -> Result<Option<SignatureFile>, crate::doc::DocError> {
        SignatureFile::beside(component, sigstore::BUNDLE_SUFFIX)
    }

    fn beside(
        component: &std::path::Path,
        suffix: &str,
    ) -> Result<Option<SignatureFile>, crate::doc::DocError> {
        let mut path = component.as_os_str().to_owned();
        path.push(suffix);
        let path = std::path::PathBuf::from(path);
        match crate::opfile::read_operator_file(&path, crate::opfile::SIGNATURE_MAX, "signature") {
            Ok(bytes) => Ok(Some(SignatureFile {
                origin: path.display().to_string(),
                text: String::from_utf8_lossy(&bytes).into_owned(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::doc::DocError::new(
                &path.display().to_string(),
                "",
                format!("cannot be read: {e}"),
            )),
        }
    }
}

/// What a component's signature established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// Verified with a key the policy trusts for the publisher.
    Verified {
        /// The publisher.
        publisher: String,
        /// The key.
        key_id: KeyId,
    },
    /// Signed with a key the policy does not know, so it could not be
    /// checked; allowed only because no signature is required.
    Unverified {
        /// The key the signature names.
        key_id: KeyId,
    },
    /// No signature; allowed only because none is required.
    Unsigned,
    /// A Sigstore bundle verified offline, by an identity the policy
    /// trusts for the publisher.
    Attested {
        /// The publisher.
        publisher: String,
        /// What the bundle established.
        attestation: Attestation,
    },
}

impl SignatureStatus {
    /// The verified key, if any.
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            SignatureStatus::Verified { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }

    /// The verified attestation, if any.
    pub fn attestation(&self) -> Option<&Attestation> {
        match self {
            SignatureStatus::Attested { attestation, .. } => Some(attestation),
            _ => None,
        }
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureStatus::Verified { publisher, key_id } => {
                write!(f, "verified: key {key_id} of publisher `{publisher}`")
            }
            SignatureStatus::Unverified { key_id } => write!(
                f,
                "NOT verified: signed with key {key_id}, which the policy does not trust (not required)"
            ),
            SignatureStatus::Unsigned => f.write_str("none (not required by the policy)"),
            SignatureStatus::Attested {
                publisher,
                attestation,
            } => write!(
                f,
                "attested (Sigstore) for publisher `{publisher}`: {attestation}"
            ),
        }
    }
}

/// Why a signature was not good enough.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// No signature, and one is required.
    #[error(
        "is not signed and the policy requires a signature: expected {expected} by publisher \
         `{publisher}` (made with `airlock sign` or `minisign -S`); for an action built in-house, \
         set require_signature = false under [actions.{name}]"
    )]
    Missing {
        /// The action.
        name: String,
        /// Where the signature was looked for.
        expected: String,
        /// The publisher the manifest names.
        publisher: String,
    },
    /// No bundle, where the publisher is trusted by identity only and a
    /// signature is required.
    #[error(
        "is not attested and the policy trusts publisher `{publisher}` by Sigstore identity: \
         approve it with the bundle the publisher's CI made beside it (<component>.sigstore.json); \
         for an action built in-house, set require_signature = false under [actions.{name}]"
    )]
    MissingBundle {
        /// The action.
        name: String,
        /// The publisher the manifest names.
        publisher: String,
    },
    /// The Sigstore bundle did not pass.
    #[error("{0}")]
    Attestation(Box<AttestationProblem>),
    /// The signature file is not a minisign signature.
    #[error("has a signature that cannot be read: {file}: {error}")]
    Malformed {
        /// The signature file.
        file: String,
        /// What is wrong with it.
        error: MinisignError,
    },
    /// Signed with a key the policy does not trust.
    #[error(
        "is signed with key {key_id}, which the policy does not trust for publisher `{publisher}`: \
         if the publisher confirms the key, add it under [publishers.{publisher}] keys"
    )]
    UntrustedKey {
        /// The key the signature names.
        key_id: KeyId,
        /// The publisher the manifest names.
        publisher: String,
    },
    /// Signed with a key trusted for another publisher.
    #[error(
        "is signed with key {key_id} of publisher `{signer}`, but its manifest names publisher `{publisher}`"
    )]
    OtherPublisher {
        /// The key the signature names.
        key_id: KeyId,
        /// Whose key it is.
        signer: String,
        /// The publisher the manifest names.
        publisher: String,
    },
    /// The signature does not verify.
    #[error("has a bad signature: {file}: {error}")]
    Invalid {
        /// The signature file.
        file: String,
        /// Why it does not verify.
        error: MinisignError,
    },
}

impl From<AttestationProblem> for SignatureProblem {
    fn from(problem: AttestationProblem) -> SignatureProblem {
        SignatureProblem::Attestation(Box::new(problem))
    }
}

/// Whether `policy` requires action `name` to be signed.
pub fn required(policy: &Policy, name: &str) -> bool {
    policy
        .actions
        .get(name)
        .and_then(|a| a.require_signature)
        .unwrap_or(policy.trust.require_signature)
}

/// Check the signature of `component`, action `name` by `publisher`, under
/// `policy`. `signature` is the `.minisig` file, if there is one;
/// `expected` says where it was looked for. `bundle` is the Sigstore
/// bundle beside it, if there is one: for a publisher the policy trusts by
/// identity it is verified ([`sigstore::verify`]) and decides alone.
pub fn check(
    policy: &Policy,
    name: &str,
    publisher: &str,
    component: &[u8],
    signature: Option<&SignatureFile>,
    bundle: Option<&SignatureFile>,
    expected: &str,
) -> Result<SignatureStatus, SignatureProblem> {
    let required = required(policy, name);
    let identities = policy
        .publishers
        .get(publisher)
        .map_or(&[][..], |p| &p.sigstore[..]);
    if let (Some(bundle), false) = (bundle, identities.is_empty()) {
        let root =
            policy.trust.trusted_root.as_deref().ok_or_else(|| {
                AttestationProblem::Root("the policy names no trusted_root".into())
            })?;
        let root = sigstore::load_root(root)?;
        let attestation = sigstore::verify(
            &bundle.text,
            &bundle.origin,
            component,
            &root,
            publisher,
            identities,
        )?;
        return Ok(SignatureStatus::Attested {
            publisher: publisher.into(),
            attestation,
        });
    }
    let only_identities = policy
        .publishers
        .get(publisher)
        .is_some_and(|p| p.keys.is_empty() && !p.sigstore.is_empty());
    if signature.is_none() && required && only_identities {
        return Err(SignatureProblem::MissingBundle {
            name: name.into(),
            publisher: publisher.into(),
        });
    }
    let Some(file) = signature else {
        return if required {
            Err(SignatureProblem::Missing {
                name: name.into(),
                expected: expected.into(),
                publisher: publisher.into(),
            })
        } else {
            Ok(SignatureStatus::Unsigned)
        };
    };
    let sig = Signature::parse(&file.text).map_err(|error| SignatureProblem::Malformed {
        file: file.origin.clone(),
        error,
    })?;
    let own = policy.publishers.get(publisher);
    let Some(key) = own.and_then(|p| p.keys.iter().find(|k| k.id() == sig.key_id)) else {
        let signer = policy
            .publishers
            .iter()
            .find(|(_, p)| p.keys.iter().any(|k| k.id() == sig.key_id));
        return match signer {
            Some((signer, _)) => Err(SignatureProblem::OtherPublisher {
                key_id: sig.key_id,
                signer: signer.clone(),
                publisher: publisher.into(),
            }),
            None if required => Err(SignatureProblem::UntrustedKey {
                key_id: sig.key_id,
                publisher: publisher.into(),
            }),
            None => Ok(SignatureStatus::Unverified { key_id: sig.key_id }),
        };
    };
    key.verify(component, &sig)
        .map_err(|error| SignatureProblem::Invalid {
            file: file.origin.clone(),
            error,
        })?;
    Ok(SignatureStatus::Verified {
        publisher: publisher.into(),
        key_id: sig.key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::minisign::SecretKey;
    use std::path::Path;

    struct Keys {
        acme: SecretKey,
        other: SecretKey,
        stranger: SecretKey,
    }

    fn policy(keys: &Keys, extra: &str) -> Policy {
        let text = format!(
            "[publishers.acme]\nkeys = [\"{}\"]\n[publishers.other]\nkeys = [\"{}\"]\n{extra}",
            keys.acme.public_key().to_base64(),
            keys.other.public_key().to_base64()
        );
        Policy::parse("airlock.toml", &text, Path::new(".")).unwrap()
    }

    fn signed(key: &SecretKey, bytes: &[u8]) -> SignatureFile {
        SignatureFile {
            origin: "x.wasm.minisig".into(),
            text: key.sign(bytes, "file:x.wasm").unwrap().to_text(),
        }
    }

    #[test]
    fn the_decision_table() {
        let keys = Keys {
            acme: SecretKey::generate().unwrap(),
            other: SecretKey::generate().unwrap(),
            stranger: SecretKey::generate().unwrap(),
        };
        let bytes: &[u8] = b"component";
        let good = signed(&keys.acme, bytes);
        let tampered = signed(&keys.acme, b"other bytes");
        let by_other = signed(&keys.other, bytes);
        let by_stranger = signed(&keys.stranger, bytes);
        let garbage = SignatureFile {
            origin: "x.wasm.minisig".into(),
            text: "not a signature".into(),
        };
        let strict = policy(&keys, "");
        let lax = policy(&keys, "[trust]\nrequire_signature = false\n");
        let lax_one = policy(&keys, "[actions.x]\nrequire_signature = false\n");
        let strict_one = policy(
            &keys,
            "[trust]\nrequire_signature = false\n[actions.x]\nrequire_signature = true\n",
        );
        let verified = Ok(SignatureStatus::Verified {
            publisher: "acme".into(),
            key_id: keys.acme.id(),
        });
        let check = |p: &Policy, s: Option<&SignatureFile>| {
            check(p, "x", "acme", bytes, s, None, "x.wasm.minisig")
        };
        let kind = |r: Result<SignatureStatus, SignatureProblem>| match r {
            Ok(SignatureStatus::Verified { .. }) => "verified",
            Ok(SignatureStatus::Unverified { .. }) => "unverified",
            Ok(SignatureStatus::Unsigned) => "unsigned",
            Err(SignatureProblem::Missing { .. }) => "missing",
            Err(SignatureProblem::Malformed { .. }) => "malformed",
            Err(SignatureProblem::UntrustedKey { .. }) => "untrusted",
            Err(SignatureProblem::OtherPublisher { .. }) => "other publisher",
            Err(SignatureProblem::Invalid { .. }) => "invalid",
            other => panic!("no minisign verdict: {other:?}"),
        };
        assert_eq!(check(&strict, Some(&good)), verified);
        assert_eq!(check(&lax, Some(&good)), verified);
        let cases: &[(&Policy, Option<&SignatureFile>, &str)] = &[
            (&strict, None, "missing"),
            (&strict_one, None, "missing"),
            (&lax, None, "unsigned"),
            (&lax_one, None, "unsigned"),
            (&strict, Some(&garbage), "malformed"),
            (&lax, Some(&garbage), "malformed"),
            (&strict, Some(&by_other), "other publisher"),
            (&lax, Some(&by_other), "other publisher"),
            (&strict, Some(&by_stranger), "untrusted"),
            (&lax, Some(&by_stranger), "unverified"),
            (&strict, Some(&tampered), "invalid"),
            (&lax, Some(&tampered), "invalid"),
            (&strict, Some(&good), "verified"),
        ];
        for (i, (p, s, expected)) in cases.iter().enumerate() {
            assert_eq!(kind(check(p, *s)), *expected, "case {i}");
        }
        let missing = check(&strict, None).unwrap_err().to_string();
        assert!(
            missing.contains("require_signature = false under [actions.x]"),
            "{missing}"
        );
        let untrusted = check(&strict, Some(&by_stranger)).unwrap_err().to_string();
        assert!(untrusted.contains("[publishers.acme] keys"), "{untrusted}");
    }
}
