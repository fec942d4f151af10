//! Paths of the guest components built by this crate's build script, so
//! tests and examples run real components built from `plugins/` and
//! `tests/guests/` — never committed binaries.
//!
//! Depending on this crate is what makes `cargo test` (or `cargo build`)
//! build the guests: each is left at `target/plugins/<name>.wasm` (example
//! actions) or `target/test-guests/<name>.wasm` (test-only actions).
//!
//! [`hostile`] generates components shaped to make a compiler work hard,
//! at the sizes a test asks for.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

pub mod hostile;
