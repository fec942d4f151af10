//! Paths of the guest components built by this crate's build script, so
//! tests and examples run real components built from `plugins/` and
//! `tests/guests/` — never committed binaries.
//!
//! Depending on this crate is what makes `cargo test` (or `cargo build`)
//! build the guests, in this crate's build output (`OUT_DIR`): each example
//! action at `plugins/<name>.wasm` there, each test-only action at
//! `test-guests/<name>.wasm`. The constants below name them; the
//! `airlock-test-artifacts` binary prints them for scripts.
//!
//! [`hostile`] generates components shaped to make a compiler work hard,
//! at the sizes a test asks for.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

pub mod hostile;
