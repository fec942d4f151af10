//! Everything a person should see before approving a component: who
//! published it and whether that is proven, what it asks for, what in that
//! is a risk, what the policy would narrow, and — when an earlier version is
//! approved — exactly what changed, in capabilities and in dependencies.
//!
//! `airlock approve` shows a [`Review`] and, once a person agrees, writes
//! [`Review::entry`] to the lock.

use super::Digest;
use super::approval::{self, Approved, Change};
use super::lock::{Entry, Lock};
use super::sigstore;
use super::trust::{self, SignatureFile, SignatureStatus};
use crate::Refusal;
use crate::bounds;
use crate::grant::Grant;
use crate::inspect::Inspection;
use crate::manifest::{Manifest, section};
use crate::policy::Policy;
use crate::sbom::{self, DepChange, Sbom};
use serde::Serialize;
use std::time::SystemTime;

/// A component examined for approval.
#[derive(Clone, Debug, Serialize)]
pub struct Review {
    /// Where it was read from.
    pub origin: String,
    /// Its digest.
    pub digest: Digest,
    /// Its validated manifest.
    pub manifest: Manifest,
    /// What it asks for, in canonical form.
    pub requested: Approved,
    /// What its signature established.
    pub signature: SignatureStatus,
    /// Imports beyond its declaration, and risks in the declaration.
    pub flags: Vec<crate::inspect::Flag>,
    /// Where this policy would grant less than it asks.
    pub narrowed: Vec<String>,
    /// The approval it would replace.
    pub previous: Option<Previous>,
    /// Every change from the previous approval.
    pub changes: Vec<Change>,
    /// The dependency list it was built with, as a CycloneDX BOM's fields.
    #[serde(serialize_with = "sbom::as_cyclonedx")]
    pub sbom: Option<Sbom>,
    /// Why its embedded dependency list cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sbom_error: Option<String>,
    /// Every change from the previous approval's dependency list; `None`
    /// unless both have one.
    pub dependency_changes: Option<Vec<DepChange>>,
}

/// The approval in the lock for the same action.
#[derive(Clone, Debug, Serialize)]
pub struct Previous {
    /// Its version.
    pub version: semver::Version,
    /// Its digest.
    pub digest: Digest,
    /// Its publisher.
    pub publisher: String,
    /// When it was approved.
    pub approved_at: String,
    /// The highest version approved under this name so far (its own, or a
    /// higher one it was a downgrade from).
    pub highest: semver::Version,
}

impl Review {
    /// Examine `component` (read from `origin`, with its signature file if
    /// any) under `policy`, against the approvals in `lock`.
    ///
    /// `bundle` is the Sigstore bundle beside it, if any.
    ///
    /// Refuses a component beyond the policy's `[compile]` ceilings, one
    /// without a valid manifest, one whose signature or bundle is bad,
    /// untrusted, or missing where the policy requires one, and one
    /// younger than the policy's `min_release_age`: those can never be
    /// approved (the last, not yet).
    pub fn of(
        component: &[u8],
        origin: &str,
        signature: Option<&SignatureFile>,
        bundle: Option<&SignatureFile>,
        policy: &Policy,
        lock: &Lock,
    ) -> Result<Review, Refusal> {
        // Beyond a ceiling, it could never be compiled: refused before
        // anything else is read out of it.
        bounds::check(component, &policy.compile).map_err(|e| e.refusal(origin))?;
        let digest = Digest::of(component);
        let text = section::extract(component).map_err(|error| Refusal::ManifestSection {
            origin: origin.into(),
            error,
        })?;
        let manifest =
            Manifest::parse(&format!("manifest of {origin}"), text).map_err(Refusal::Manifest)?;
        let name = &manifest.action.name;
        let expected = format!("{origin}.minisig");
        let signature = trust::check(
            policy,
            name,
            &manifest.action.publisher,
            component,
            signature,
            bundle,
            &expected,
        )
        .map_err(|problem| Refusal::Signature {
            name: name.clone(),
            origin: origin.into(),
            problem,
        })?;
        if let Some(age) = policy.min_release_age(&manifest.action.publisher) {
            sigstore::check_age(signature.attestation(), age, SystemTime::now()).map_err(
                |why| Refusal::ReleaseAge {
                    name: name.clone(),
                    origin: origin.into(),
                    why,
                },
            )?;
        }
        let flags = Inspection::under(component, origin, &policy.network)
            .map(|i| i.flags)
            .map_err(|reason| Refusal::InvalidComponent {
                origin: origin.into(),
                reason,
            })?;
        let (sbom, sbom_error) = match sbom::read(component) {
            Ok(sbom) => (sbom, None),
            Err(e) => (None, Some(e.to_string())),
        };
        if sbom.is_none() && policy.requires_sbom(name) {
            return Err(Refusal::NoSbom {
                name: name.clone(),
                origin: origin.into(),
                why: sbom_error.unwrap_or_else(|| "carries no dependency list".into()),
            });
        }
        let requested = Approved::of(&manifest);
        let entry = lock.get(name);
        let dependency_changes = match (entry.and_then(|e| e.dependencies.as_ref()), &sbom) {
            (Some(old), Some(new)) => Some(sbom::diff(old, &new.lines())),
            _ => None,
        };
        let changes = entry
            .map(|e| approval::diff(&e.approved, &requested))
            .unwrap_or_default();
        let previous = entry.map(|e| Previous {
            version: e.version.clone(),
            digest: e.digest,
            publisher: e.publisher.clone(),
            approved_at: e.approved_at_text(),
            highest: e.high_water().clone(),
        });
        Ok(Review {
            origin: origin.into(),
            digest,
            // A policy whose configuration values do not fit is shown, not
            // a reason to refuse the review: the component may be vetted.
            narrowed: Grant::new(&manifest, policy)
                .map_or_else(|e| vec![e.to_string()], |g| g.narrowed),
            manifest,
            requested,
            signature,
            flags,
            previous,
            changes,
            sbom,
            sbom_error,
            dependency_changes,
        })
    }

    /// The lock already approves exactly this component.
    pub fn already_approved(&self) -> bool {
        self.previous
            .as_ref()
            .is_some_and(|p| p.digest == self.digest)
    }

    /// This version is older than the highest one ever approved under
    /// its name (the approved one, or one that approval went back from).
    pub fn is_downgrade(&self) -> bool {
        self.previous
            .as_ref()
            .is_some_and(|p| self.manifest.action.version < p.highest)
    }

    /// Whether it asks for anything the previous approval did not grant.
    pub fn asks_for_more(&self) -> bool {
        self.changes.iter().any(|c| c.wider)
    }

    /// The publisher differs from the one approved before.
    pub fn publisher_changed(&self) -> bool {
        self.previous
            .as_ref()
            .is_some_and(|p| p.publisher != self.manifest.action.publisher)
    }

    /// The lock entry that approves this component, recording `source` as
    /// where it came from.
    ///
    /// A downgrade keeps the highest version approved before it and the
    /// version it went back from, so the lock shows the override and a
    /// later approval below that high-water mark is a downgrade too.
    pub fn entry(&self, source: impl Into<String>, now: SystemTime) -> Entry {
        let mut entry = Entry::new(
            &self.manifest,
            self.digest,
            source,
            self.signature.key_id(),
            now,
        );
        entry.dependencies = self.sbom.as_ref().map(Sbom::lines);
        entry.attestation = self.signature.attestation().cloned();
        if let Some(p) = self.previous.as_ref().filter(|_| self.is_downgrade()) {
            entry.highest = Some(p.highest.clone());
            entry.downgraded_from = Some(p.version.clone());
        }
        entry
    }
}
