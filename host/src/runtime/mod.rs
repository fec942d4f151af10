//! The engine, the linker, and the life of one run.
//!
//! A host has one [`Engine`] and one [`Linker`]; each action is compiled
//! once and pre-linked into an [`ActionPre`](bindings::ActionPre). Each
//! invocation then gets a fresh `Store` and instance ([`invoke`]), so no
//! memory, global or handle survives from one run to the next.

pub mod bindings;
pub mod invoke;
pub mod limits;
pub mod state;

use crate::caps::fs::audited::AuditedFs;
use crate::caps::log::LogCap;
use crate::caps::net::DeniedSockets;
use crate::caps::secrets::SecretsCap;
use state::RunState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

/// How often the epoch advances; a run's timeout is counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The engine configuration every host uses.
pub fn engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    Engine::new(&config)
}

/// The linker every run of a host is instantiated with.
///
/// wasmtime-wasi and wasmtime-wasi-http provide WASI; airlock's capability
/// modules then replace the parts whose every use must be decided and
/// recorded: filesystem preopens and operations, socket creation and name
/// lookup. `secrets` and `log` are airlock's own interfaces.
pub fn linker(engine: &Engine) -> wasmtime::Result<Linker<RunState>> {
    use wasmtime_wasi::p2::bindings::{filesystem, sockets};
    let mut l = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;

    l.allow_shadowing(true);
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
    bindings::airlock::action::log::add_to_linker::<_, LogCap>(&mut l, RunState::log_view)?;
    Ok(l)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Start ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("airlock-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
