//! Loading an action: its component read within the policy's bounds,
//! admitted against the lock (approved digest, no capability drift) and its
//! signature, checked against the `[compile]` ceilings, compiled or loaded
//! from the cache, and linked. Every refusal on the way is recorded as
//! `run.refused`.

use super::{Action, Host};
use crate::runtime::bindings::ActionPre;
use crate::runtime::invoke::Prepared;
use crate::{Error, Invocation, Refusal};
use airlock_audit::Event;
use airlock_audit::EventKind;
use airlock_rules::bounds;
use airlock_rules::grant::Grant;
use airlock_rules::manifest::{Manifest, section};
use airlock_rules::provenance::Digest;
use airlock_rules::provenance::admit::{self, Candidate};
use airlock_rules::provenance::sigstore;
use airlock_rules::provenance::trust::{self, SignatureFile};
use std::path::Path;
use std::sync::Arc;

impl Host {
    /// The action `name` from the policy: its component read from the
    /// policy's path, checked against its approval in the lock and its
    /// signature (`<path>.minisig`), compiled once.
    pub fn action(&self, name: &str) -> Result<Action, Error> {
        self.named(name, None)
    }

    /// [`action`](Self::action) for the run `how` describes: a refusal's
    /// `run.refused` record carries its caller and context, as the run's
    /// `run.start` would have.
    pub fn action_for(&self, name: &str, how: &Invocation) -> Result<Action, Error> {
        self.named(name, Some(how))
    }

    fn named(&self, name: &str, how: Option<&Invocation>) -> Result<Action, Error> {
        if let Some(prepared) = self.lock_names().get(name) {
            return Ok(self.wrap(prepared.clone()));
        }
        let path = self
            .inner
            .policy
            .component_path(name)
            .map_err(|refusal| self.refuse(refusal, None, how))?;
        let source = self
            .inner
            .policy
            .actions
            .get(name)
            .and_then(|a| a.source.as_deref());
        let hint = match source {
            Some(source) => format!(" (not pulled yet: `airlock approve {name}` pulls {source})"),
            None => format!(" (fix [actions.{name}] path in the policy)"),
        };
        let bytes = self.read_component(path, &hint, how)?;
        let signature = SignatureFile::next_to(path)?;
        let admission = Admission::Vetted {
            asked: Some(name),
            signature: signature.as_ref(),
        };
        let prepared = self.prepare(&bytes, &path.display().to_string(), admission, how)?;
        self.lock_names().insert(name.to_owned(), prepared.clone());
        Ok(self.wrap(prepared))
    }

    /// The action in the component file at `path`, which must be approved
    /// in the lock (under the name its manifest declares), with its
    /// signature `<path>.minisig` where one is required.
    pub fn load_file(&self, path: &Path) -> Result<Action, Error> {
        let bytes = self.read_component(path, "", None)?;
        let signature = SignatureFile::next_to(path)?;
        let admission = Admission::Vetted {
            asked: None,
            signature: signature.as_ref(),
        };
        self.prepare(&bytes, &path.display().to_string(), admission, None)
            .map(|p| self.wrap(p))
    }

    /// The action in the component file at `path` as a development run:
    /// neither approved nor signed, allowed only under a policy for
    /// development (`allow_dev = true` under `[trust]`). Everything else
    /// holds — the manifest, the grant, the limits, the `[compile]`
    /// ceilings — and its `run.start` and `run.end` say `"dev": true`.
    /// Under any other policy it is refused and recorded.
    pub fn load_dev(&self, path: &Path) -> Result<Action, Error> {
        let bytes = self.read_component(path, "", None)?;
        self.load_dev_bytes(&bytes, &path.display().to_string())
    }

    /// [`load_dev`](Self::load_dev) of `component`; `origin` names it in
    /// messages.
    pub fn load_dev_bytes(&self, component: &[u8], origin: &str) -> Result<Action, Error> {
        self.prepare(component, origin, Admission::Dev, None)
            .map(|p| self.wrap(p))
    }

    /// The action in `component`; `origin` names it in messages. It must
    /// be approved in the lock, and needs no signature only where the
    /// policy requires none (see [`Host::load_signed_bytes`]).
    pub fn load_bytes(&self, component: &[u8], origin: &str) -> Result<Action, Error> {
        self.load_signed_bytes(component, origin, None)
    }

    /// The action in `component`, with the text of its `.minisig`
    /// signature if it has one; `origin` names it in messages.
    pub fn load_signed_bytes(
        &self,
        component: &[u8],
        origin: &str,
        signature: Option<&str>,
    ) -> Result<Action, Error> {
        let signature = signature.map(|text| SignatureFile {
            origin: format!("{origin}.minisig"),
            text: text.to_owned(),
        });
        let admission = Admission::Vetted {
            asked: None,
            signature: signature.as_ref(),
        };
        self.prepare(component, origin, admission, None)
            .map(|p| self.wrap(p))
    }

    /// Read the component file at `path` (a regular file, as operator files
    /// are read), refused unread if it is larger than the policy's
    /// `[compile] component` ceiling; `hint` says how to fix a path that
    /// cannot be read.
    fn read_component(
        &self,
        path: &Path,
        hint: &str,
        how: Option<&Invocation>,
    ) -> Result<Vec<u8>, Error> {
        bounds::read_file(path, &self.inner.policy.compile)
            .map_err(|e| {
                Error::from(airlock_rules::doc::DocError::new(
                    &path.display().to_string(),
                    "",
                    format!("cannot be read: {e}{hint}"),
                ))
            })?
            .map_err(|exceeded| {
                let origin = path.display().to_string();
                self.refuse(Refusal::OverCeiling { origin, exceeded }, None, how)
            })
    }

    /// Check `component` against the lock and the policy, and compile it.
    ///
    /// Nothing of the component is compiled before the lock has admitted
    /// it, its signature has been checked, and parsing it has shown it
    /// within the policy's `[compile]` ceilings.
    fn prepare(
        &self,
        component: &[u8],
        origin: &str,
        admission: Admission<'_>,
        how: Option<&Invocation>,
    ) -> Result<Arc<Prepared>, Error> {
        let policy = &self.inner.policy;
        let digest = Digest::of(component);
        let refuse = |r: Refusal| self.refuse(r, Some(digest), how);

        let manifest = section::extract(component)
            .map_err(|error| Refusal::ManifestSection {
                origin: origin.into(),
                error,
            })
            .and_then(|text| {
                Manifest::parse(&format!("manifest of {origin}"), text).map_err(Refusal::Manifest)
            });
        let dev = matches!(admission, Admission::Dev);
        let mut attestation = None;
        let manifest = match admission {
            Admission::Vetted { asked, signature } => {
                let candidate = Candidate {
                    asked,
                    digest,
                    origin,
                };
                let (entry, manifest) =
                    admit::admit(&self.inner.lock, candidate, manifest).map_err(refuse)?;
                let name = &manifest.action.name;
                // The list was read when it was approved; the lock keeps it.
                if entry.dependencies.is_none() && policy.requires_sbom(name) {
                    return Err(refuse(Refusal::NoSbom {
                        name: name.clone(),
                        origin: origin.into(),
                        why: "was approved without a dependency list".into(),
                    }));
                }
                let signature_refused = |problem| {
                    refuse(Refusal::Signature {
                        name: name.clone(),
                        origin: origin.into(),
                        problem,
                    })
                };
                match &entry.attestation {
                    // Its bundle was verified when it was approved; the
                    // identity it showed must still be one the policy
                    // trusts for the publisher.
                    Some(attested) => {
                        sigstore::check_recorded(attested, &manifest.action.publisher, policy)
                            .map_err(|p| signature_refused(p.into()))?;
                        attestation = Some(attested.clone());
                    }
                    None => {
                        trust::check(
                            policy,
                            name,
                            &manifest.action.publisher,
                            component,
                            signature,
                            None,
                            &format!("{origin}.minisig"),
                        )
                        .map_err(signature_refused)?;
                    }
                }
                manifest
            }
            Admission::Dev if !policy.trust.allow_dev => {
                return Err(refuse(Refusal::DevNotAllowed {
                    origin: origin.into(),
                }));
            }
            Admission::Dev => manifest.map_err(refuse)?,
        };

        // A policy whose configuration does not fit is refused before
        // anything is compiled.
        let grant = Grant::new(&manifest, policy).map_err(|e| refuse(e.into()))?;

        // A development run's action is never shared: its records say
        // `dev`, and an approved load of the same bytes must not.
        if !dev
            && let Some(p) = self
                .inner
                .by_digest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&digest)
        {
            return Ok(p.clone());
        }
        // Held to the [compile] ceilings when it is compiled
        // (`Compiler::compile`), not when a compiled copy is loaded.
        let compile = || {
            let engine = &self.inner.engine;
            let compiler = &self.inner.compiler;
            compiler.compile(engine, component, origin, &policy.compile)
        };
        let compiled = match &self.inner.cache {
            Some(cache) => cache.compiled(&self.inner.engine, &digest, compile),
            None => compile().map(|c| c.component),
        };
        let compiled = compiled.map_err(|e| match e.refusal(origin.into()) {
            Ok(refusal) => refuse(refusal),
            Err(host) => host,
        })?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&compiled)
            .and_then(ActionPre::new)
            .map_err(|e| {
                refuse(Refusal::Unlinkable {
                    origin: origin.into(),
                    reason: airlock_rules::doc::one_line(&format!("{e:#}")),
                })
            })?;
        let prepared = Arc::new(Prepared::new(
            manifest,
            digest,
            grant,
            pre,
            dev,
            attestation,
        )?);
        if !dev {
            self.inner
                .by_digest
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest, prepared.clone());
        }
        Ok(prepared)
    }

    /// Record a refusal and turn it into the error to return. If even the
    /// record fails, the audit failure is the error.
    fn refuse(&self, refusal: Refusal, digest: Option<Digest>, how: Option<&Invocation>) -> Error {
        let event = Event::new(EventKind::RunRefused);
        let mut event = match how {
            Some(how) => how.describe(event),
            None => event,
        }
        .deny(refusal.to_string());
        if let Some(digest) = digest {
            event = event.field("digest", digest.to_string());
        }
        // The refusal is sealed by a checkpoint, as a run's end is.
        let audit = &self.inner.audit;
        match audit.append(None, event).and_then(|_| audit.checkpoint()) {
            Ok(_) => Error::Refused(refusal),
            Err(e) => Error::Audit(e),
        }
    }
}

/// How a component is admitted before it is compiled.
enum Admission<'a> {
    /// Approved in the lock (under the name asked for, if any) and signed
    /// where the policy requires it.
    Vetted {
        asked: Option<&'a str>,
        signature: Option<&'a SignatureFile>,
    },
    /// A development run: only under a policy with `allow_dev = true`.
    Dev,
}
