//! [`Host`]: one engine, one policy, one audit log, and every action loaded
//! through them.

mod builder;
mod load;

pub use builder::HostBuilder;

use crate::Error;
use crate::caps::fs::Mounts;
use crate::caps::net::NetConfig;
use crate::outcome::{Invocation, Outcome};
use crate::runtime::EpochTicker;
use crate::runtime::cache::CompileCache;
use crate::runtime::compiler::Compiler;
use crate::runtime::invoke::{Prepared, Runner};
use crate::runtime::state::RunState;
use airlock_audit::{AuditLog, Checkpointer, Event, EventKind};
use airlock_rules::grant::Grant;
use airlock_rules::manifest::Manifest;
use airlock_rules::policy::Policy;
use airlock_rules::provenance::{Digest, Lock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

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
    cache: Option<Arc<CompileCache>>,
    compiler: Compiler,
    /// Whether runs' instances come from a pool (kept on reload).
    pooled: bool,
    /// Whether runs' ends are sealed in the background (kept on reload).
    background_seal: bool,
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
        self.invoke_with(input, &Invocation::default()).await
    }

    /// [`invoke`](Self::invoke), recording who asked (`how.caller`) and
    /// with a shorter time limit if `how.timeout` says so.
    pub async fn invoke_with(&self, input: &str, how: &Invocation) -> Result<Outcome, Error> {
        let inner = &self.host.inner;
        let _slot = inner
            .runs
            .acquire()
            .await
            .map_err(|e| Error::runtime(format!("the host is shutting down: {e}"), None))?;
        Runner {
            engine: &inner.engine,
            mounts: &inner.mounts,
            max_input: inner.policy.limits.input,
            net: &inner.net,
            audit: &inner.audit,
            checkpointer: &inner.checkpointer,
        }
        .invoke(&self.prepared, input, how)
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

    /// Time this host's audit log has spent appending records and waiting
    /// for them to be durable, since it was opened.
    pub fn audit_timings(&self) -> airlock_audit::TimingsNow {
        self.inner.audit.timings()
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

    /// A host for `policy` — and the lock it names, read now — that writes
    /// to this host's audit log, keeps its engine settings, compiler and
    /// compile cache, and records a `policy.reload` for the change: what a
    /// long-lived server swaps in when the operator changes the policy or
    /// the lock, without a restart. Runs in flight finish on this host;
    /// drop it when they have. A policy whose `[audit]` settings differ is
    /// refused (a log is changed only by a restart), and so is anything
    /// `build` refuses; each refusal is recorded, and this host stays as it
    /// was.
    pub fn reload(&self, policy: Policy) -> Result<Host, Error> {
        let inner = &self.inner;
        let file = policy
            .file
            .as_ref()
            .map_or_else(|| "the new policy".to_owned(), |f| f.display().to_string());
        if policy.audit != inner.policy.audit {
            let e = Error::Document(airlock_rules::doc::DocError::new(
                &file,
                "audit",
                "the [audit] settings differ from the ones in force; a log is changed only by a \
                 restart",
            ));
            self.refuse_reload(&crate::report::chain(&e))?;
            return Err(e);
        }
        let builder = HostBuilder::new(policy)
            .instance_pool(inner.pooled)
            .seal_in_background(inner.background_seal)
            .compiler(inner.compiler.clone())
            .sharing(inner.audit.clone(), inner.cache.clone());
        match builder.build() {
            Ok(host) => {
                let approved: Vec<String> = host
                    .lock()
                    .entries()
                    .map(|e| format!("{}@{} {}", e.name, e.version, e.digest))
                    .collect();
                let event = Event::new(EventKind::PolicyReload)
                    .allow()
                    .field("policy", file)
                    .field("approved", approved);
                inner
                    .audit
                    .append(None, event)
                    .and_then(|_| inner.audit.checkpoint())
                    .map_err(Error::Audit)?;
                Ok(host)
            }
            Err(e) => {
                self.refuse_reload(&crate::report::chain(&e))?;
                Err(e)
            }
        }
    }

    /// Record that a new policy or lock was not taken, because of `reason`
    /// (a `policy.reload` record that denies it): this host stays in force.
    /// For a policy that does not even parse, so that [`reload`](Self::reload)
    /// never saw it.
    pub fn refuse_reload(&self, reason: &str) -> Result<(), Error> {
        let audit = &self.inner.audit;
        audit
            .append(None, Event::new(EventKind::PolicyReload).deny(reason))
            .and_then(|_| audit.checkpoint())
            .map(drop)
            .map_err(Error::Audit)
    }

    /// Record that the run `how` describes was refused before any action
    /// was chosen, because of `reason`: a request that is not a call at
    /// all (a `run.refused` record with the caller and context, and no
    /// action). For a caller that must answer for everything it was asked,
    /// like a worker whose every activity attempt is on its workflow's
    /// history.
    pub fn refuse_request(&self, how: &Invocation, reason: &str) -> Result<(), Error> {
        let audit = &self.inner.audit;
        let event = how.describe(Event::new(EventKind::RunRefused)).deny(reason);
        audit
            .append(None, event)
            .and_then(|_| audit.checkpoint())
            .map(drop)
            .map_err(Error::Audit)
    }

    /// Load, verify and invoke the action `name` from the policy.
    pub async fn invoke(&self, name: &str, input: &str) -> Result<Outcome, Error> {
        self.action(name)?.invoke(input).await
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
}
