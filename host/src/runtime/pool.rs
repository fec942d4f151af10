//! The engine configuration: wasmtime's pooling instance allocator, sized
//! for a fresh instance per invocation.
//!
//! A fresh instance per run is the security model; the pool is what makes
//! it cheap. Memories, tables, instance metadata and async stacks are
//! reserved once when the host starts and handed to one run after another:
//!
//! - linear memory is initialised copy-on-write from the compiled image,
//!   and after a run only the pages it dirtied are reset (`memset` up to
//!   [`KEEP_RESIDENT`], found with Linux's `PAGEMAP_SCAN` where the kernel
//!   has it) instead of unmapping and faulting them in again;
//! - tables are kept resident the same way;
//! - a run's async fiber stack comes from the pool.
//!
//! Nothing of one run is visible to the next: wasmtime resets every page of
//! a slot to the module's initial image before it is reused.
//!
//! The pool never decides a run's memory: each memory slot can hold the
//! policy's ceiling (`[limits] memory`, the largest any grant can be), and
//! the run's [`RunLimiter`](super::limits::RunLimiter) enforces its grant,
//! across all of its memories, as without the pool.

use airlock_rules::units::ByteSize;
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Runs that can be in flight at once on one host; an invocation beyond
/// that waits for one to finish.
pub const MAX_RUNS: u32 = 256;

/// Core instances one component may create (a Rust component has 3 or 4;
/// other toolchains more).
const CORE_INSTANCES_PER_RUN: u32 = 32;

/// Linear memories one component may define.
const MEMORIES_PER_RUN: u32 = 4;

/// Tables one component may define.
const TABLES_PER_RUN: u32 = 32;

/// Bytes of each memory (and table) kept mapped between runs and reset
/// with `memset`; pages beyond are returned with `madvise`.
pub const KEEP_RESIDENT: usize = 2 << 20;

/// The largest linear memory wasmtime supports for 32-bit memories.
const MAX_MEMORY: u64 = 4 << 30;

/// The configuration of a host's engine: with a pool whose memory slots
/// hold `pool`, the policy's memory limit (the most any run may be
/// granted), or without one (`None`), each instance allocated on demand:
/// slower per run, but nothing is reserved up front — what a process that
/// runs once (`airlock run`) wants.
pub fn config(pool: Option<ByteSize>) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        // `.eh_frame` for wasm code serves only outside unwinders (wasmtime
        // takes its own backtraces and carries host panics across wasm
        // frames itself); registering it was a tenth of loading a compiled
        // component.
        .native_unwind_info(false);
    if let Some(ceiling) = pool {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(ceiling)));
    }
    config
}

fn pooling(ceiling: ByteSize) -> PoolingAllocationConfig {
    let page = 64 * 1024;
    let slot = ceiling.0.min(MAX_MEMORY).div_ceil(page) * page;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_RUNS)
        .total_core_instances(MAX_RUNS * CORE_INSTANCES_PER_RUN)
        .max_core_instances_per_component(CORE_INSTANCES_PER_RUN)
        .total_memories(MAX_RUNS * MEMORIES_PER_RUN)
        .max_memories_per_component(MEMORIES_PER_RUN)
        .total_tables(MAX_RUNS * TABLES_PER_RUN)
        .max_tables_per_component(TABLES_PER_RUN)
        .total_stacks(MAX_RUNS)
        .max_memory_size(usize::try_from(slot).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .pagemap_scan(Enabled::Auto);
    pool
}
