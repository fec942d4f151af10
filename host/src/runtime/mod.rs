//! The engine, the linker, and the life of one run.
//!
//! A host has one [`Engine`] and one [`Linker`]; each action is compiled
//! once (or loaded from the [`cache`]) and pre-linked into an
//! [`ActionPre`](bindings::ActionPre). Each invocation then gets a fresh
//! `Store` and instance ([`invoke`]), from a [`pool`] of slots sized for
//! that, so no memory, global or handle survives from one run to the next.
//! Before anything is compiled, [`airlock_rules::bounds`] holds the
//! component to the policy's ceilings on what compiling it may cost.

pub mod bindings;
pub mod cache;
pub mod compiler;
pub mod invoke;
pub mod limits;
pub mod pool;
pub mod state;

pub use pool::config;

use crate::caps::config::ConfigCap;
use crate::caps::fs::audited::AuditedFs;
use crate::caps::log::LogCap;
use crate::caps::net::{DeniedSockets, link_outgoing_handler};
use crate::caps::secrets::SecretsCap;
use state::RunState;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// How often the epoch advances; a run's timeout is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine of a host with an instance pool for runs granted at most
/// `pool` of memory, or without one ([`pool::config`]).
pub fn engine(pool: Option<airlock_rules::units::ByteSize>) -> wasmtime::Result<Engine> {
    Engine::new(&config(pool))
}

/// The linker every run of a host is instantiated with.
///
/// wasmtime-wasi and wasmtime-wasi-http provide WASI; airlock's capability
/// modules then replace the parts whose every use must be decided and
/// recorded: filesystem preopens and operations, socket creation and name
/// lookup, and the outgoing handler (wrapped, to record what wasi-http
/// refuses before airlock's hook). `secrets`, `config` and `log` are airlock's own
/// interfaces.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<RunState>> {
    use wasmtime_wasi::p2::bindings::{filesystem, sockets};
    let mut l = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;

    l.allow_shadowing(true);
    link_outgoing_handler(&mut l, RunState::outgoing_view)?;
    filesystem::preopens::add_to_linker::<_, AuditedFs>(&mut l, RunState::fs_view)?;
    filesystem::types::add_to_linker::<_, AuditedFs>(&mut l, RunState::fs_view)?;
    sockets::tcp_create_socket::add_to_linker::<_, DeniedSockets>(&mut l, RunState::sockets_view)?;
    sockets::udp_create_socket::add_to_linker::<_, DeniedSockets>(&mut l, RunState::sockets_view)?;
    sockets::ip_name_lookup::add_to_linker::<_, DeniedSockets>(&mut l, RunState::sockets_view)?;
    l.allow_shadowing(false);

    bindings::airlock::action::secrets::add_to_linker::<_, SecretsCap>(
        &mut l,
        RunState::secrets_view,
    )?;
    bindings::airlock::action::config::add_to_linker::<_, ConfigCap>(
        &mut l,
        RunState::config_view,
    )?;
    bindings::airlock::action::log::add_to_linker::<_, LogCap>(&mut l, RunState::log_view)?;
    Ok(l)
}

/// The engine of a host without an instance pool, and its linker, built on
/// a thread of their own.
///
/// Neither depends on the policy (without a pool, nothing in the engine is
/// sized by it: the run's limiter enforces its memory grant), so a process
/// that runs one action, like `airlock run`, starts them first and reads
/// its policy and its audit log meanwhile; they are the longest part of
/// setting up a host. Hand them to
/// [`HostBuilder::prelinked`](crate::HostBuilder::prelinked).
#[derive(Debug)]
pub struct Prelink {
    thread: JoinHandle<wasmtime::Result<(Engine, Linker<RunState>)>>,
}

impl Prelink {
    /// Start building them.
    pub fn start() -> std::io::Result<Prelink> {
        let thread = std::thread::Builder::new()
            .name("airlock-prelink".into())
            .spawn(|| {
                let engine = engine(None)?;
                let linker = linker(&engine)?;
                Ok((engine, linker))
            })?;
        Ok(Prelink { thread })
    }

    /// Wait for them.
    pub(crate) fn join(self) -> wasmtime::Result<(Engine, Linker<RunState>)> {
        self.thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped; dropping
/// it wakes and joins the thread at once (a host that is dropped does not
/// wait out a tick).
#[derive(Debug)]
pub struct EpochTicker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Start ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let (stop, stopped) = mpsc::channel::<()>();
        let weak = engine.weak();
        let thread = std::thread::Builder::new()
            .name("airlock-epoch".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
