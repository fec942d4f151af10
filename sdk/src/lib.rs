//! Write airlock actions in Rust.
//!
//! An *action* is one step of a workflow — post to Slack, sign a payload,
//! digest some files — compiled to a WebAssembly component that an airlock
//! host runs with only the capabilities its operator approved. This crate is
//! everything an author needs: the `airlock:action` WIT world, a typed `run`
//! entry point, [`secrets`], [`config`], [`log`], an HTTP client ([`http`]), and the
//! manifest embedded in the component so that one SHA-256 digest covers
//! both code and declaration.
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
//!
//! [config.greeting]
//! type = "string"
//! default = "Hello"
//! description = "The word to greet with"
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
//!     // The operator's value for this action, or the default.
//!     let greeting = airlock_sdk::config::string("greeting").map_err(|e| e.to_string())?;
//!     // Mounts are plain directories at `/<mount>`.
//!     let motd = std::fs::read_to_string("/workspace/motd.txt").unwrap_or_default();
//!     airlock_sdk::log::info(&format!("greeting {}", input.name));
//!     Ok(Output { greeting: format!("{greeting}, {}! {motd}", input.name) })
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
//! airlock keygen && airlock sign target/wasm32-wasip2/release/greet.wasm
//! airlock approve target/wasm32-wasip2/release/greet.wasm
//! airlock run target/wasm32-wasip2/release/greet.wasm --input '{"name": "Ada"}'
//! ```
//!
//! Operators run only what a person approved (`airlock approve` records it
//! in `airlock.lock`) and, by default, only what a publisher they trust
//! signed: the policy lists your public key under `[publishers.example]`.
//! For a build of your own you may instead mark it first-party with
//! `require_signature = false` under `[actions.greet]`.

//! # Calling an API without holding its token
//!
//! An action that posts to a webhook or calls an API declares the origin and
//! the secret, with the secret's audience:
//!
//! ```toml
//! [capabilities]
//! network = ["https://hooks.slack.com"]
//! secrets = [{ name = "SLACK_WEBHOOK_PATH", send_to = ["https://hooks.slack.com"] }]
//! ```
//!
//! and puts a [`Secret::placeholder`] where the value goes — in the URL's
//! path or query, a header, or the body. The host fills it in on the exact
//! request that leaves, and only when that request goes to an origin in the
//! secret's `send_to`; a request that carries it anywhere else is refused,
//! not sent. The action never holds the value, so it cannot leak it:
//!
//! ```no_run
//! use airlock_sdk::{Secret, http};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Input {
//!     text: String,
//! }
//!
//! fn run(input: Input) -> Result<u16, String> {
//!     let url = format!(
//!         "https://hooks.slack.com/services/{}",
//!         Secret::placeholder("SLACK_WEBHOOK_PATH")
//!     );
//!     let response = http::post(url)
//!         .json(&serde_json::json!({ "text": input.text }))
//!         .send()
//!         .map_err(|e| e.to_string())?;
//!     if !response.is_success() {
//!         return Err(format!("Slack answered {}", response.status()));
//!     }
//!     Ok(response.status())
//! }
//! # fn main() {}
//! ```
//!
//! Reading a response: [`http::Response::status`], [`header`](http::Response::header),
//! [`bytes`](http::Response::bytes), [`text`](http::Response::text) and
//! [`json`](http::Response::json); the body is read up to
//! [`max_response_bytes`](http::Request::max_response_bytes) (1 MiB unless
//! set) and the host's `http_response_body` limit. A refusal is an
//! [`http::Error`] of kind [`http::ErrorKind::Denied`]; the operator sees
//! why, with the manifest line that would allow it. The host follows no
//! redirects: a `3xx` is a response, and the next request is checked on
//! its own.
//!
//! A secret the action must compute with (an HMAC key) is declared
//! `expose = true` and read with [`secrets::get`]. The host then searches
//! requests to origins outside its `send_to` for its value — plain, base64,
//! base64url, hex or URL-encoded — and refuses them. That search is best
//! effort; placeholders are the way to send a secret.
//!
//! # What the host guarantees, and what it refuses
//!
//! Every invocation gets a fresh instance: no memory, globals or files of a
//! previous run survive. The action sees no environment variables, no
//! arguments and no host stdio; what it prints is captured and recorded.
//! Only the mounts in its grant exist, and a `read` mount refuses every write.
//! Sockets are denied; the network is `wasi:http` and only to declared
//! origins, never to a private, loopback or link-local address unless it is
//! granted by address.
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
//! | `capabilities.network` | `["https://api.example.com", "https://*.example.org", "http://10.0.0.0/8:8080"]`: `scheme://host[:port]`; `*.` for subdomains; IP or CIDR for addresses |
//! | `capabilities.files` | `[{ mount = "workspace", access = "read" \| "read-write" }]` |
//! | `capabilities.secrets` | `[{ name = "TOKEN", send_to = ["https://…"], expose = false }]` |
//! | `config.KEY` | `{ type = "string" \| "integer" \| "boolean", default = …, required = false, description = "…" }`: configuration that is not secret, set per action in the operator's policy (`[actions.NAME.config]`) and read with [`config`] |
//! | `limits.memory`, `limits.timeout`, `limits.output` | what the action needs: `"32 MiB"`, `"10s"`, `"1 MiB"` |
//! | `limits.http_requests` | requests per run (default 100) |
//! | `limits.http_request_body`, `limits.http_response_body` | body sizes per request (defaults 1 MiB, 8 MiB) |
//! | `limits.http_connect_timeout`, `limits.http_first_byte_timeout`, `limits.http_timeout` | per request (defaults 10s, 30s, 60s) |
//!
//! The operator's policy may lower a limit or a grant, never raise it.

#![deny(missing_docs)]

pub mod config;
pub mod http;
pub mod log;
pub mod secrets;

/// What every host call says when the code runs natively, as an author's
/// `cargo test` does: there is no airlock host to answer.
const NO_HOST: &str = "airlock-sdk calls work only inside an airlock run; this code runs \
                       natively (a `cargo test`?), where there is no host to answer";

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
