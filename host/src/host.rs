//! [`Host`]: one engine, one policy, one audit log, and every action loaded
//! through them.

use crate::audit::{AuditLog, Checkpointer, Event, Faults};
use crate::caps::fs::Mounts;
use crate::grant::Grant;
use crate::manifest::{Manifest, section};
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::provenance::Digest;
use crate::runtime::bindings::ActionPre;
use crate::runtime::invoke::{Prepared, Runner};
use crate::runtime::state::RunState;
use crate::runtime::{self, EpochTicker};
use crate::{Error, Refusal};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

/// Builds a [`Host`].
#[derive(Debug)]
pub struct HostBuilder {
    policy: Policy,
    faults: Faults,
}

impl HostBuilder {
    /// A host that enforces `policy`.
    pub fn new(policy: Policy) -> HostBuilder {
        HostBuilder {
            policy,
            faults: Faults::new(),
        }
    }

    /// Route the audit log's writes and syncs through `faults` — the test
    /// API for proving that nothing happens unrecorded when the log fails.
    pub fn audit_faults(mut self, faults: Faults) -> HostBuilder {
        self.faults = faults;
        self
    }

    /// Set up the engine, open the policy's mounts and the audit log.
    pub fn build(self) -> Result<Host, Error> {
        let engine = runtime::engine().map_err(|e| Error::Runtime(format!("{e:#}")))?;
        let linker = runtime::linker(&engine).map_err(|e| Error::Runtime(format!("{e:#}")))?;
        // The one use of ambient authority over the file system on behalf of
        // actions: turning the operator's mount paths into handles.
        let mounts = Mounts::open(&self.policy, cap_std::ambient_authority())?;
        let audit = Arc::new(AuditLog::open_with(&self.policy.audit, self.faults)?);
        let checkpointer = Checkpointer::start(&audit, self.policy.audit.checkpoint_interval)
            .map_err(|e| Error::io("cannot start the checkpoint thread", e))?;
        let ticker = EpochTicker::start(&engine)
            .map_err(|e| Error::io("cannot start the epoch thread", e))?;
        Ok(Host {
            inner: Arc::new(Inner {
                engine,
                linker,
                policy: self.policy,
                mounts,
                audit,
                by_name: Mutex::default(),
                by_digest: Mutex::default(),
                _ticker: ticker,
                _checkpointer: checkpointer,
            }),
        })
    }
}

/// A sandbox host: load actions by name or file, invoke them, each
/// invocation in a fresh instance with only its grant, all of it recorded.
///
/// `Host` is cheap to clone and can be shared between threads and tasks;
/// invocations run concurrently. [`invoke`](Host::invoke) needs a Tokio
/// runtime.
#[derive(Clone, Debug)]
pub struct Host {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<RunState>,
    policy: Policy,
    mounts: Mounts,
    audit: Arc<AuditLog>,
    by_name: Mutex<HashMap<String, Arc<Prepared>>>,
    by_digest: Mutex<HashMap<Digest, Arc<Prepared>>>,
    _ticker: EpochTicker,
    _checkpointer: Checkpointer,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("audit", &self.audit.path())
            .finish_non_exhaustive()
    }
}

/// An action that passed every check and can be invoked.
#[derive(Clone, Debug)]
pub struct Action {
    host: Host,
    prepared: Arc<Prepared>,
}

impl Action {
    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.prepared.manifest
    }

    /// The component's digest.
    pub fn digest(&self) -> Digest {
        self.prepared.digest
    }

    /// What the action gets under the host's policy.
    pub fn grant(&self) -> &Grant {
        &self.prepared.grant
    }

    /// Run the action once, in a fresh instance, on the JSON `input`.
    pub async fn invoke(&self, input: &str) -> Result<Outcome, Error> {
        let inner = &self.host.inner;
        Runner {
            engine: &inner.engine,
            mounts: &inner.mounts,
            audit: &inner.audit,
        }
        .invoke(&self.prepared, input)
        .await
    }
}

impl Host {
    /// Start building a host that enforces `policy`.
    pub fn builder(policy: Policy) -> HostBuilder {
        HostBuilder::new(policy)
    }

    /// The policy this host enforces.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// The audit log this host writes.
    pub fn audit_log(&self) -> &Path {
        self.inner.audit.path()
    }

    /// Load, verify and invoke the action `name` from the policy.
    pub async fn invoke(&self, name: &str, input: &str) -> Result<Outcome, Error> {
        self.action(name)?.invoke(input).await
    }

    /// The action `name` from the policy: its component read from the
    /// policy's path, checked against its pinned digest, compiled once.
    pub fn action(&self, name: &str) -> Result<Action, Error> {
        if let Some(prepared) = self.lock_names().get(name) {
            return Ok(self.wrap(prepared.clone()));
        }
        let source = self
            .inner
            .policy
            .actions
            .get(name)
            .ok_or_else(|| self.refuse(Refusal::UnknownAction(name.into()), None))?;
        let path = source
            .path
            .as_ref()
            .ok_or_else(|| self.refuse(Refusal::NoPath(name.into()), None))?;
        let bytes = std::fs::read(path).map_err(|e| {
            Error::io(
                format!("cannot read action `{name}` from {}", path.display()),
                e,
            )
        })?;
        let prepared = self.prepare(&bytes, &path.display().to_string(), Some(name))?;
        self.lock_names().insert(name.to_owned(), prepared.clone());
        Ok(self.wrap(prepared))
    }

    /// The action in the component file at `path`, which must be pinned in
    /// the policy under the name its manifest declares.
    pub fn load_file(&self, path: &Path) -> Result<Action, Error> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        self.load_bytes(&bytes, &path.display().to_string())
    }

    /// The action in `component`; `origin` names it in messages.
    pub fn load_bytes(&self, component: &[u8], origin: &str) -> Result<Action, Error> {
        self.prepare(component, origin, None).map(|p| self.wrap(p))
    }

    fn wrap(&self, prepared: Arc<Prepared>) -> Action {
        Action {
            host: self.clone(),
            prepared,
        }
    }

    fn lock_names(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Prepared>>> {
        self.inner.by_name.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Check `component` against the policy and compile it.
    ///
    /// The digest is checked before anything of the component is trusted,
    /// and before it is compiled.
    fn prepare(
        &self,
        component: &[u8],
        origin: &str,
        asked: Option<&str>,
    ) -> Result<Arc<Prepared>, Error> {
        let policy = &self.inner.policy;
        let digest = Digest::of(component);
        let pin_check = |name: &str| -> Result<(), Refusal> {
            let source = policy
                .actions
                .get(name)
                .ok_or_else(|| Refusal::UnknownAction(name.into()))?;
            match source.digest {
                None => Err(Refusal::NotPinned {
                    name: name.into(),
                    digest,
                }),
                Some(pinned) if pinned != digest => Err(Refusal::DigestMismatch {
                    name: name.into(),
                    origin: origin.into(),
                    pinned,
                    actual: digest,
                }),
                Some(_) => Ok(()),
            }
        };
        if let Some(name) = asked {
            pin_check(name).map_err(|r| self.refuse(r, Some(digest)))?;
        }

        let text = section::extract(component).map_err(|error| {
            self.refuse(
                Refusal::ManifestSection {
                    origin: origin.into(),
                    error,
                },
                Some(digest),
            )
        })?;
        let manifest = Manifest::parse(&format!("manifest of {origin}"), text)
            .map_err(|e| self.refuse(Refusal::Manifest(e), Some(digest)))?;
        let name = &manifest.action.name;
        match asked {
            Some(asked) if asked != name => {
                let refusal = Refusal::NameMismatch {
                    origin: origin.into(),
                    asked: asked.into(),
                    declared: name.clone(),
                };
                return Err(self.refuse(refusal, Some(digest)));
            }
            Some(_) => {}
            None => pin_check(name).map_err(|r| self.refuse(r, Some(digest)))?,
        }

        if let Some(p) = self
            .inner
            .by_digest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok(p.clone());
        }
        let compiled = Component::new(&self.inner.engine, component).map_err(|e| {
            self.refuse(
                Refusal::InvalidComponent {
                    origin: origin.into(),
                    reason: crate::doc::one_line(&format!("{e:#}")),
                },
                Some(digest),
            )
        })?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&compiled)
            .and_then(ActionPre::new)
            .map_err(|e| {
                self.refuse(
                    Refusal::Unlinkable {
                        origin: origin.into(),
                        reason: crate::doc::one_line(&format!("{e:#}")),
                    },
                    Some(digest),
                )
            })?;
        let grant = Grant::new(&manifest, policy);
        let prepared = Arc::new(Prepared {
            secrets: Arc::new(grant.secrets.clone()),
            network: Arc::new(grant.network.clone()),
            grant,
            manifest,
            digest,
            pre,
        });
        self.inner
            .by_digest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(digest, prepared.clone());
        Ok(prepared)
    }

    /// Record a refusal and turn it into the error to return. If even the
    /// record fails, the audit failure is the error.
    fn refuse(&self, refusal: Refusal, digest: Option<Digest>) -> Error {
        let mut event = Event::new("run.refused").deny(refusal.to_string());
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
