//! [`HostBuilder`]: a host's settings, and building it: the lock read, the
//! mounts opened and checked against airlock's own files, the audit log
//! opened (on a helper thread while the engine is set up), the engine and
//! its linker.

use super::{Host, Inner};
use crate::Error;
use crate::caps::fs::Mounts;
use crate::caps::net::NetConfig;
use crate::runtime::cache::CompileCache;
use crate::runtime::compiler::Compiler;
use crate::runtime::pool::MAX_RUNS;
use crate::runtime::state::RunState;
use crate::runtime::{self, EpochTicker, Prelink};
use airlock_audit::{AuditLog, Checkpointer, Faults};
use airlock_rules::policy::Policy;
use airlock_rules::provenance::Lock;
use airlock_rules::units::ByteSize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
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
    audit_wait: Option<Duration>,
    /// The log (and the cache keyed to it) of the host this one replaces.
    shared: Option<(Arc<AuditLog>, Option<Arc<CompileCache>>)>,
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
            audit_wait: None,
            shared: None,
        }
    }

    /// Write to `audit` instead of opening the policy's log, and compile
    /// into `cache` (already keyed to it): a host that replaces one holding
    /// that log ([`Host::reload`]).
    pub(super) fn sharing(
        mut self,
        audit: Arc<AuditLog>,
        cache: Option<Arc<CompileCache>>,
    ) -> HostBuilder {
        self.shared = Some((audit, cache));
        self
    }

    /// How long `build` waits for another host that holds the audit log to
    /// let it go before it fails with [`AuditError::Busy`](airlock_audit::AuditError::Busy)
    /// (by default a quarter of a second: a long-lived host holds its log
    /// for its lifetime). A host that runs once beside others on the same
    /// log, like `airlock run`, waits as long as its run may take.
    pub fn audit_lock_wait(mut self, wait: Duration) -> HostBuilder {
        self.audit_wait = Some(wait);
        self
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
            audit_wait,
            shared,
        } = self;
        let pooled = matches!(engine, EngineSetup::Pooled);
        let config = &policy.audit;
        let open_log = move |faults: Faults| match audit_wait {
            Some(wait) => AuditLog::open_waiting(config, faults, wait),
            None => AuditLog::open_with(config, faults),
        };
        let lock = Lock::load(&policy.trust.lock)?;
        // The one use of ambient authority over the file system on behalf of
        // actions: turning the operator's mount paths into handles.
        let mounts = Mounts::open(&policy, cap_std::ambient_authority())?;
        // No mount may reach airlock's own files (after the mounts opened,
        // so that one that cannot be a mount at all says so first).
        let cache_path = match &shared {
            Some((_, shared_cache)) => shared_cache.as_deref().map(CompileCache::path),
            None => cache.as_ref().map(CompileCache::path),
        };
        crate::caps::fs::overlap::check(&policy, cache_path)?;
        let net = Arc::new(NetConfig::new(&policy.network)?);
        // With the operator's files read and sound, open the audit log
        // (reading it back to its last record and checking it against its
        // last checkpoint) while the engine is set up, neither depending on
        // the other: here while a prelinked engine finishes on its thread,
        // else on a helper while this thread builds the engine.
        let (engine, audit, cache) = match (engine, shared) {
            // Replacing a host: its log is open already.
            (setup, Some((audit, cache))) => {
                let engine = match setup {
                    EngineSetup::Prelinked(prelink) => prelink.join().map_err(runtime_error),
                    setup => {
                        let pool =
                            matches!(setup, EngineSetup::Pooled).then_some(policy.limits.memory);
                        Self::engine(pool)
                    }
                };
                (engine, audit, cache)
            }
            (EngineSetup::Prelinked(prelink), None) => {
                let audit = Arc::new(open_log(faults)?);
                tracing::debug!("the engine and linker were built ahead, on a thread of their own");
                let cache = keyed(cache, &audit);
                (prelink.join().map_err(runtime_error), audit, cache)
            }
            (setup, None) => {
                let (engine, audit) = std::thread::scope(|s| {
                    let thread_faults = faults.clone();
                    let open = move || open_log(thread_faults);
                    let opening = std::thread::Builder::new()
                        .name("airlock-audit-open".into())
                        .spawn_scoped(s, open);
                    let pool = matches!(setup, EngineSetup::Pooled).then_some(policy.limits.memory);
                    let engine = Self::engine(pool);
                    let audit = match opening {
                        Ok(thread) => thread
                            .join()
                            .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                        Err(_) => open_log(faults),
                    };
                    (engine, audit)
                });
                let audit = Arc::new(audit?);
                let cache = keyed(cache, &audit);
                (engine, audit, cache)
            }
        };
        let (engine, linker) = engine?;
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
                pooled,
                background_seal,
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

/// `cache`, its artifacts bound to `audit`'s key.
fn keyed(cache: Option<CompileCache>, audit: &AuditLog) -> Option<Arc<CompileCache>> {
    cache.map(|c| Arc::new(c.keyed(audit.derive_key(runtime::cache::KEY_CONTEXT))))
}

fn runtime_error(e: wasmtime::Error) -> Error {
    Error::runtime("cannot set up the WebAssembly engine", Some(e))
}
