//! [`Host`]: one engine, one policy, one audit log, and every action loaded
//! through them.

use crate::audit::{AuditLog, Checkpointer, Event, Faults};
use crate::caps::fs::Mounts;
use crate::caps::net::NetConfig;
use crate::grant::Grant;
use crate::manifest::{Manifest, section};
use crate::outcome::Outcome;
use crate::policy::Policy;
use crate::provenance::admit::{self, Candidate};
use crate::provenance::trust::{self, SignatureFile};
use crate::provenance::{Digest, Lock};
use crate::runtime::bindings::ActionPre;
use crate::runtime::bounds;
use crate::runtime::cache::CompileCache;
use crate::runtime::compiler::{CompileError, Compiler};
use crate::runtime::invoke::{Prepared, Runner};
use crate::runtime::pool::MAX_RUNS;
use crate::runtime::state::RunState;
use crate::runtime::{self, EpochTicker, Prelink};
use crate::units::ByteSize;
use crate::{Error, Refusal};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// Builds a [`Host`].
#[derive(Debug)]
pub struct HostBuilder {
    policy: Policy,
    faults: Faults,
    cache: Option<CompileCache>,
    compiler: Compiler,
    engine: EngineSetup,
    background_seal: bool,
}

/// Where a host's engine and linker come from.
#[derive(Debug)]
enum EngineSetup {
    /// Built by [`HostBuilder::build`], with an instance pool.
    Pooled,
    /// Built by [`HostBuilder::build`], without one.
    OnDemand,
    /// Being built on a thread of their own, without one.
    Prelinked(Prelink),
}

impl HostBuilder {
    /// A host that enforces `policy`.
    pub fn new(policy: Policy) -> HostBuilder {
        HostBuilder {
            policy,
            faults: Faults::new(),
            cache: None,
            compiler: Compiler::InProcess,
            engine: EngineSetup::Pooled,
            background_seal: true,
        }
    }

    /// Whether instances come from a pool reserved when the host is built
    /// (the default: the fastest fresh instance per run). A host that runs
    /// one action once, like `airlock run`, starts faster without.
    pub fn instance_pool(mut self, pooled: bool) -> HostBuilder {
        self.engine = if pooled {
            EngineSetup::Pooled
        } else {
            EngineSetup::OnDemand
        };
        self
    }

    /// Take the engine and linker from `prelink`, started earlier, instead
    /// of building them: a host without an instance pool, as with
    /// `instance_pool(false)`, set up in less time than one that builds them
    /// after its policy is read. `build` opens the audit log while it waits.
    pub fn prelinked(mut self, prelink: Prelink) -> HostBuilder {
        self.engine = EngineSetup::Prelinked(prelink);
        self
    }

    /// Whether a thread seals runs' ends in the background under `sync =
    /// "group"` and `"none"` (the default). Without it a run's end is sealed
    /// by [`Host::seal`] or when the host is dropped — what a host that runs
    /// once and seals before it exits, like `airlock run`, wants.
    pub fn seal_in_background(mut self, background: bool) -> HostBuilder {
        self.background_seal = background;
        self
    }

    /// Keep compiled components in `cache` ([`CompileCache::open`]), so a
    /// later host (a later `airlock run`) loads them instead of compiling.
    pub fn compile_cache(mut self, cache: CompileCache) -> HostBuilder {
        self.cache = Some(cache);
        self
    }

    /// Where components are compiled: in this process (the default,
    /// [`Compiler::InProcess`]), or in a child process held to the policy's
    /// `[compile] timeout` and `memory` ([`Compiler::Process`] with the
    /// path of the `airlock` binary, which is what the CLI uses): a
    /// component that would compile for too long or in too much memory is
    /// then refused without taking the host down.
    pub fn compiler(mut self, compiler: Compiler) -> HostBuilder {
        self.compiler = compiler;
        self
    }

    /// Route the audit log's writes and syncs through `faults` — the test
    /// API for proving that nothing happens unrecorded when the log fails.
    pub fn audit_faults(mut self, faults: Faults) -> HostBuilder {
        self.faults = faults;
        self
    }

    /// Set up the engine, read the lock, open the policy's mounts and the
    /// audit log.
    pub fn build(self) -> Result<Host, Error> {
        let HostBuilder {
            policy,
            faults,
            cache,
            compiler,
            engine,
            background_seal,
        } = self;
        let lock = Lock::load(&policy.trust.lock)?;
        // The one use of ambient authority over the file system on behalf of
        // actions: turning the operator's mount paths into handles.
        let mounts = Mounts::open(&policy, cap_std::ambient_authority())?;
        // No mount may reach airlock's own files (after the mounts opened,
        // so that one that cannot be a mount at all says so first).
        crate::caps::fs::overlap::check(&policy, cache.as_ref().map(CompileCache::path))?;
        let net = Arc::new(NetConfig::new(&policy.network)?);
        // With the operator's files read and sound, open the audit log
        // (reading it back to its last record and checking it against its
        // last checkpoint) while the engine is set up, neither depending on
        // the other: here while a prelinked engine finishes on its thread,
        // else on a helper while this thread builds the engine.
        let (engine, audit) = match engine {
            EngineSetup::Prelinked(prelink) => {
                let audit = AuditLog::open_with(&policy.audit, faults);
                tracing::debug!("the engine and linker were built ahead, on a thread of their own");
                (prelink.join().map_err(runtime_error), audit)
            }
            setup => std::thread::scope(|s| {
                let (config, thread_faults) = (&policy.audit, faults.clone());
                let open = move || AuditLog::open_with(config, thread_faults);
                let opening = std::thread::Builder::new()
                    .name("airlock-audit-open".into())
                    .spawn_scoped(s, open);
                let pool = matches!(setup, EngineSetup::Pooled).then_some(policy.limits.memory);
                let engine = Self::engine(pool);
                let audit = match opening {
                    Ok(thread) => thread
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                    Err(_) => AuditLog::open_with(&policy.audit, faults),
                };
                (engine, audit)
            }),
        };
        let (engine, linker) = engine?;
        let audit = Arc::new(audit?);
        let cache = cache.map(|c| c.keyed(audit.derive_key(runtime::cache::KEY_CONTEXT)));
        let checkpointer = if background_seal {
            Checkpointer::start(&audit, policy.audit.checkpoint_interval)
                .map_err(|e| Error::io("cannot start the checkpoint thread", e))?
        } else {
            Checkpointer::none()
        };
        let ticker = EpochTicker::start(&engine)
            .map_err(|e| Error::io("cannot start the epoch thread", e))?;
        Ok(Host {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                compiler,
                runs: Semaphore::new(MAX_RUNS as usize),
                policy,
                lock,
                mounts,
                net,
                audit,
                by_name: Mutex::default(),
                by_digest: Mutex::default(),
                _ticker: ticker,
                checkpointer,
            }),
        })
    }

    /// An engine with a pool for runs granted at most `pool` of memory (or
    /// without one), and its linker.
    fn engine(pool: Option<ByteSize>) -> Result<(Engine, Linker<RunState>), Error> {
        let engine = runtime::engine(pool).map_err(runtime_error)?;
        let linker = runtime::linker(&engine).map_err(runtime_error)?;
        Ok((engine, linker))
    }
}

fn runtime_error(e: wasmtime::Error) -> Error {
    Error::Runtime(format!("{e:#}"))
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
    cache: Option<CompileCache>,
    compiler: Compiler,
    /// One permit per run in flight: the engine's pool has a slot for each.
    runs: Semaphore,
    policy: Policy,
    lock: Lock,
    mounts: Mounts,
    net: Arc<NetConfig>,
    audit: Arc<AuditLog>,
    by_name: Mutex<HashMap<String, Arc<Prepared>>>,
    by_digest: Mutex<HashMap<Digest, Arc<Prepared>>>,
    _ticker: EpochTicker,
    checkpointer: Checkpointer,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Seal whatever the checkpoint thread has not sealed yet.
        if let Err(e) = self.audit.checkpoint() {
            tracing::error!("cannot write the last checkpoint: {e}");
        }
    }
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
        let _slot = inner
            .runs
            .acquire()
            .await
            .map_err(|e| Error::Runtime(e.to_string()))?;
        Runner {
            engine: &inner.engine,
            mounts: &inner.mounts,
            max_input: inner.policy.limits.input,
            net: &inner.net,
            audit: &inner.audit,
            checkpointer: &inner.checkpointer,
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

    /// The approvals this host holds actions to, read from the policy's
    /// lock file when the host was built.
    pub fn lock(&self) -> &Lock {
        &self.inner.lock
    }

    /// The audit log this host writes.
    pub fn audit_log(&self) -> &Path {
        self.inner.audit.path()
    }

    /// Write a checkpoint now that covers every record so far. Under `sync
    /// = "group"` and `"none"` a run's end is sealed in the background,
    /// shortly after the run returns; call this to wait for it (before
    /// exiting, or before handing the log to an auditor). An error means
    /// the log cannot be sealed: nothing more runs until it can.
    pub fn seal(&self) -> Result<(), Error> {
        self.inner
            .audit
            .checkpoint()
            .map(drop)
            .map_err(Error::Audit)
    }

    /// Load, verify and invoke the action `name` from the policy.
    pub async fn invoke(&self, name: &str, input: &str) -> Result<Outcome, Error> {
        self.action(name)?.invoke(input).await
    }

    /// The action `name` from the policy: its component read from the
    /// policy's path, checked against its approval in the lock and its
    /// signature (`<path>.minisig`), compiled once.
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
        let bytes =
            self.read_component(path, &format!(" (fix [actions.{name}] path in the policy)"))?;
        let signature = SignatureFile::next_to(path)?;
        let prepared = self.prepare(
            &bytes,
            &path.display().to_string(),
            Some(name),
            signature.as_ref(),
        )?;
        self.lock_names().insert(name.to_owned(), prepared.clone());
        Ok(self.wrap(prepared))
    }

    /// The action in the component file at `path`, which must be approved
    /// in the lock (under the name its manifest declares), with its
    /// signature `<path>.minisig` where one is required.
    pub fn load_file(&self, path: &Path) -> Result<Action, Error> {
        let bytes = self.read_component(path, "")?;
        let signature = SignatureFile::next_to(path)?;
        self.prepare(
            &bytes,
            &path.display().to_string(),
            None,
            signature.as_ref(),
        )
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
        self.prepare(component, origin, None, signature.as_ref())
            .map(|p| self.wrap(p))
    }

    /// Read the component file at `path` (a regular file, as operator files
    /// are read), refused unread if it is larger than the policy's
    /// `[compile] component` ceiling; `hint` says how to fix a path that
    /// cannot be read.
    fn read_component(&self, path: &Path, hint: &str) -> Result<Vec<u8>, Error> {
        bounds::read_file(path, &self.inner.policy.compile)
            .map_err(|e| {
                Error::from(crate::doc::DocError::new(
                    &path.display().to_string(),
                    "",
                    format!("cannot be read: {e}{hint}"),
                ))
            })?
            .map_err(|exceeded| {
                let origin = path.display().to_string();
                self.refuse(Refusal::OverCeiling { origin, exceeded }, None)
            })
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

    /// Check `component` against the lock and the policy, and compile it.
    ///
    /// Nothing of the component is compiled before the lock has admitted
    /// it, its signature has been checked, and parsing it has shown it
    /// within the policy's `[compile]` ceilings.
    fn prepare(
        &self,
        component: &[u8],
        origin: &str,
        asked: Option<&str>,
        signature: Option<&SignatureFile>,
    ) -> Result<Arc<Prepared>, Error> {
        let policy = &self.inner.policy;
        let digest = Digest::of(component);
        let refuse = |r: Refusal| self.refuse(r, Some(digest));

        let manifest = section::extract(component)
            .map_err(|error| Refusal::ManifestSection {
                origin: origin.into(),
                error,
            })
            .and_then(|text| {
                Manifest::parse(&format!("manifest of {origin}"), text).map_err(Refusal::Manifest)
            });
        let candidate = Candidate {
            asked,
            digest,
            origin,
        };
        let (_, manifest) = admit::admit(&self.inner.lock, candidate, manifest).map_err(refuse)?;
        let name = &manifest.action.name;
        trust::check(
            policy,
            name,
            &manifest.action.publisher,
            component,
            signature,
            &format!("{origin}.minisig"),
        )
        .map_err(|problem| {
            refuse(Refusal::Signature {
                name: name.clone(),
                origin: origin.into(),
                problem,
            })
        })?;

        if let Some(p) = self
            .inner
            .by_digest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&digest)
        {
            return Ok(p.clone());
        }
        // Compiling cannot be interrupted: what it may cost is bounded
        // first, by parsing alone.
        bounds::check(component, &policy.compile).map_err(|e| refuse(e.refusal(origin)))?;
        let compile = || {
            let engine = &self.inner.engine;
            let compiler = &self.inner.compiler;
            compiler.compile(engine, component, origin, &policy.compile)
        };
        let compiled = match &self.inner.cache {
            Some(cache) => cache.compiled(&self.inner.engine, &digest, compile),
            None => compile().map(|c| c.component),
        };
        let compiled = compiled.map_err(|e| {
            let origin = origin.into();
            match e {
                CompileError::Invalid(reason) => {
                    self.refuse(Refusal::InvalidComponent { origin, reason }, Some(digest))
                }
                CompileError::Bound(reason) => {
                    self.refuse(Refusal::CompileBound { origin, reason }, Some(digest))
                }
                CompileError::Host(reason) => Error::Runtime(reason),
            }
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
        let prepared = Arc::new(Prepared::new(manifest, digest, grant, pre)?);
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
