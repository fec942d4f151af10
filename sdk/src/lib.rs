//! Write airlock actions in Rust.
//!
//! An *action* is one step of a workflow — post to Slack, sign a payload,
//! digest some files — compiled to a WebAssembly component that an airlock
//! host runs with only the capabilities its operator approved. This crate is
//! everything an author needs: the `airlock:action` WIT world, a typed `run`
//! entry point, [`secrets`], [`log`], and the manifest embedded in the
//! component so that one SHA-256 digest covers both code and declaration.
//!
//! # A complete action
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [package]
//! name = "greet"
//! version = "0.1.0"
//! edition = "2024"
//!
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! airlock-sdk = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```
//!
//! `action.toml`, next to `Cargo.toml` — what the action asks for. It is
//! embedded at compile time; the operator sees it with `airlock inspect`:
//!
//! ```toml
//! [action]
//! name = "greet"
//! version = "0.1.0"
//! publisher = "example"
//! description = "Say hello"
//!
//! [capabilities]
//! files = [{ mount = "workspace", access = "read" }]
//! secrets = [{ name = "GREETING_PREFIX", expose = true }]
//!
//! [limits]
//! memory = "16 MiB"
//! timeout = "2s"
//! ```
//!
//! `src/lib.rs`:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Input {
//!     name: String,
//! }
//!
//! #[derive(Serialize)]
//! struct Output {
//!     greeting: String,
//! }
//!
//! fn run(input: Input) -> Result<Output, String> {
//!     // An exposed secret is plaintext; an undeclared one is an error value.
//!     let prefix = airlock_sdk::secrets::get("GREETING_PREFIX")
//!         .map_err(|e| e.to_string())?;
//!     // Mounts are plain directories at `/<mount>`.
//!     let motd = std::fs::read_to_string("/workspace/motd.txt").unwrap_or_default();
//!     airlock_sdk::log::info(&format!("greeting {}", input.name));
//!     Ok(Output { greeting: format!("{prefix}, {}! {motd}", input.name) })
//! }
//!
//! airlock_sdk::action!(run);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`; the
//! component is `target/wasm32-wasip2/release/greet.wasm`. Then:
//!
//! ```text
//! airlock inspect target/wasm32-wasip2/release/greet.wasm
//! airlock run greet --input '{"name": "Ada"}'
//! ```
//!
//! # What the host guarantees, and what it refuses
//!
//! Every invocation gets a fresh instance: no memory, globals or files of a
//! previous run survive. The action sees no environment variables, no
//! arguments and no host stdio; what it prints is captured and recorded.
//! Only the mounts in its grant exist, and a `read` mount refuses every write.
//! Sockets are denied; the network is `wasi:http` and only to declared hosts.
//! A refusal reaches the action as an ordinary error value — an
//! [`secrets::Error`], an `std::io::Error` — and the operator sees it in the
//! audit log. Exceeding a limit (memory, time, output size) ends the run.
//!
//! # The manifest
//!
//! | key | meaning |
//! |---|---|
//! | `action.name` | `[a-z0-9-]+`, the name operators pin and run |
//! | `action.version` | semver |
//! | `action.publisher`, `action.description` | who ships it, what it does |
//! | `capabilities.network` | `["https://api.example.com"]`: `scheme://host[:port]` |
//! | `capabilities.files` | `[{ mount = "workspace", access = "read" \| "read-write" }]` |
//! | `capabilities.secrets` | `[{ name = "TOKEN", send_to = ["https://…"], expose = false }]` |
//! | `limits.memory`, `limits.timeout`, `limits.output` | what the action needs: `"32 MiB"`, `"10s"`, `"1 MiB"` |
//!
//! The operator's policy may lower a limit or a grant, never raise it.

#![deny(missing_docs)]

pub mod http;
pub mod log;
pub mod secrets;

pub use secrets::{Placeholder, Secret};

mod entry;

#[doc(hidden)]
pub mod __private {
    pub use crate::entry::dispatch;
}

/// The raw WIT bindings of the `airlock:action` world, generated from the
/// same `wit/` files the host reads. Prefer the typed wrappers of this crate;
/// these are here for what they do not cover yet.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "airlock:action/action",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_airlock_world",
        default_bindings_module: "airlock_sdk::bindings",
    });
}
