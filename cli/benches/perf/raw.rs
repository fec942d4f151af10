//! The baseline: the same component on raw wasmtime 48 with wasmtime-wasi,
//! no airlock in the way — one instance reused, and a fresh instance per
//! call from an `InstancePre` with the on-demand and the (default) pooling
//! allocator.

use crate::stats::{self, Report};
use airlock::bench_support::bindings::airlock::action::{log, secrets};
use airlock::rules::units::ByteSize;
use std::time::Duration;
use wasmtime::component::{Component, HasData, InstancePre, Linker, ResourceTable, TypedFunc};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// What `run` is typed as.
pub type Run = TypedFunc<(String,), (Result<String, String>,)>;

/// A store's data: WASI with the defaults (nothing granted), and
/// `wasi:http` with `hooks` deciding how requests go out.
pub struct RawState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Box<dyn WasiHttpHooks>,
}

impl RawState {
    pub fn new(hooks: Box<dyn WasiHttpHooks>) -> RawState {
        RawState {
            table: ResourceTable::new(),
            wasi: WasiCtx::builder().build(),
            http: WasiHttpCtx::new(),
            hooks,
        }
    }
}

impl Default for RawState {
    fn default() -> RawState {
        RawState::new(Box::new(crate::net::Direct))
    }
}

impl WasiView for RawState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RawState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.hooks,
        }
    }
}

/// How instances are allocated.
#[derive(Clone, Copy)]
pub enum Alloc {
    /// wasmtime's default: on demand.
    OnDemand,
    /// The pooling allocator with its defaults.
    Pooling,
    /// airlock's engine configuration (`airlock::bench_support::config`): the
    /// pool tuned for a fresh instance per call, and epoch interruption.
    Airlock,
}

/// wasmtime's default configuration, with `alloc`.
pub fn engine(alloc: Alloc) -> Engine {
    let config = match alloc {
        Alloc::OnDemand => Config::new(),
        Alloc::Pooling => {
            let mut config = Config::new();
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(
                PoolingAllocationConfig::default(),
            ));
            config
        }
        Alloc::Airlock => airlock::bench_support::config(Some(ByteSize::mib(256))),
    };
    Engine::new(&config).expect("engine")
}

/// airlock's own interfaces, which no workload here calls: a secret is
/// never there, and a log line goes nowhere.
struct Airlock;

impl HasData for Airlock {
    type Data<'a> = &'a mut RawState;
}

impl secrets::Host for &mut RawState {
    fn get(&mut self, _name: String) -> wasmtime::Result<Result<String, secrets::Error>> {
        Ok(Err(secrets::Error::NotDeclared))
    }
}

impl log::Host for &mut RawState {
    fn emit(&mut self, _level: log::Level, _message: String) -> wasmtime::Result<()> {
        Ok(())
    }
}

fn add_airlock(linker: &mut Linker<RawState>) {
    secrets::add_to_linker::<_, Airlock>(linker, |s| s).expect("secrets");
    log::add_to_linker::<_, Airlock>(linker, |s| s).expect("log");
}

/// A linker with WASI and `wasi:http`, for async calls.
pub fn linker_async(engine: &Engine) -> Linker<RawState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi:http");
    add_airlock(&mut linker);
    linker
}

/// A linker with WASI, for synchronous calls.
pub fn linker_sync(engine: &Engine) -> Linker<RawState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi");
    add_airlock(&mut linker);
    linker
}

fn check(output: Result<String, String>) {
    let output = output.expect("the workload succeeds");
    debug_assert!(output.starts_with("{\"vowels\":"), "{output}");
    std::hint::black_box(output);
}

/// One instance, `run` called again and again, synchronously.
pub fn reused_sync(bytes: &[u8], input: &str, n: usize) -> Duration {
    let engine = engine(Alloc::OnDemand);
    let component = Component::new(&engine, bytes).expect("compile");
    let linker = linker_sync(&engine);
    let mut store = Store::new(&engine, RawState::default());
    let instance = linker
        .instantiate(&mut store, &component)
        .expect("instantiate");
    let run: Run = instance
        .get_typed_func(&mut store, "run")
        .expect("run export");
    stats::per_call(n / 10, n, || {
        let (out,) = run.call(&mut store, (input.to_owned(),)).expect("call");
        check(out);
    })
}

/// One instance, `run` called again and again, through async calls (the
/// way a WASI p2 host with `wasi:http` calls it).
pub fn reused_async(rt: &tokio::runtime::Runtime, bytes: &[u8], input: &str, n: usize) -> Duration {
    let engine = engine(Alloc::OnDemand);
    let component = Component::new(&engine, bytes).expect("compile");
    let linker = linker_async(&engine);
    rt.block_on(async {
        let mut store = Store::new(&engine, RawState::default());
        let instance = linker
            .instantiate_async(&mut store, &component)
            .await
            .expect("instantiate");
        let run: Run = instance
            .get_typed_func(&mut store, "run")
            .expect("run export");
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let t = std::time::Instant::now();
            let (out,) = run
                .call_async(&mut store, (input.to_owned(),))
                .await
                .expect("call");
            check(out);
            if i >= n / 10 {
                samples.push(t.elapsed());
            }
        }
        stats::median(&mut samples)
    })
}

/// One call in a fresh store and instance of `pre` holding `state`: what
/// every fresh-instance row times.
pub async fn call_fresh(
    engine: &Engine,
    pre: &InstancePre<RawState>,
    state: RawState,
    input: &str,
) -> Result<String, String> {
    let mut store = Store::new(engine, state);
    store.set_epoch_deadline(1); // nothing advances the epoch here
    let instance = pre
        .instantiate_async(&mut store)
        .await
        .expect("instantiate");
    let run: Run = instance
        .get_typed_func(&mut store, "run")
        .expect("run export");
    let (out,) = run
        .call_async(&mut store, (input.to_owned(),))
        .await
        .expect("call");
    out
}

/// A fresh store and instance per call, from one `InstancePre`.
pub fn fresh(
    rt: &tokio::runtime::Runtime,
    alloc: Alloc,
    bytes: &[u8],
    input: &str,
    n: usize,
) -> Duration {
    let engine = engine(alloc);
    let component = Component::new(&engine, bytes).expect("compile");
    let linker = linker_async(&engine);
    let pre = linker.instantiate_pre(&component).expect("pre-link");
    rt.block_on(async {
        let mut samples = Vec::with_capacity(n);
        for i in 0..n + n / 10 {
            let t = std::time::Instant::now();
            check(call_fresh(&engine, &pre, RawState::default(), input).await);
            if i >= n / 10 {
                samples.push(t.elapsed());
            }
        }
        stats::median(&mut samples)
    })
}

/// Every raw-wasmtime row; returns the fastest reused-instance call, the
/// baseline of target 1.
pub fn measure(
    report: &mut Report,
    rt: &tokio::runtime::Runtime,
    bytes: &[u8],
    input: &str,
    n: usize,
) -> Raw {
    const S: &str = "raw wasmtime 48";
    let sync = report.time(
        S,
        "one instance reused, sync call",
        reused_sync(bytes, input, n),
    );
    let asy = report.time(
        S,
        "one instance reused, async call",
        reused_async(rt, bytes, input, n),
    );
    report.time(
        S,
        "fresh instance per call (InstancePre), on-demand allocator",
        fresh(rt, Alloc::OnDemand, bytes, input, n),
    );
    report.time(
        S,
        "fresh instance per call (InstancePre), pooling allocator (defaults)",
        fresh(rt, Alloc::Pooling, bytes, input, n),
    );
    let fresh_airlock = report.time(
        S,
        "fresh instance per call (InstancePre), airlock's engine configuration (tuned pool)",
        fresh(rt, Alloc::Airlock, bytes, input, n),
    );
    Raw {
        reused: sync.min(asy),
        fresh: fresh_airlock,
    }
}

/// The baselines the warm targets are ratios of.
pub struct Raw {
    /// One instance reused, the faster of a sync and an async call.
    pub reused: Duration,
    /// A fresh instance per call with airlock's own engine configuration:
    /// what a host that keeps nothing between runs cannot beat.
    pub fresh: Duration,
}

/// Calls per second with 1 and with N callers ([`stats::scaling`]), each
/// instantiating afresh from one `InstancePre` and calling, back to back.
pub fn fresh_scaling(alloc: Alloc, bytes: &[u8], input: &str, span: Duration) -> stats::Scaling {
    let engine = engine(alloc);
    let component = Component::new(&engine, bytes).expect("compile");
    let pre = linker_async(&engine)
        .instantiate_pre(&component)
        .expect("pre-link");
    stats::scaling(5, span, |rt| {
        check(rt.block_on(call_fresh(&engine, &pre, RawState::default(), input)))
    })
}
