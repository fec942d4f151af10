//! One module per capability. Each owns the whole story of its capability:
//! it decides (from the [`Grant`](airlock_rules::grant::Grant)), enforces through
//! wasmtime's own hooks, and records every use and every refusal.
//!
//! | capability | decided and enforced in | recorded as |
//! |---|---|---|
//! | files | [`fs`]: preopens with `FsPerms`, audited `wasi:filesystem` | `file.*` |
//! | configuration | [`config`]: the `config` interface | `config.read` (refused keys; values are in `run.start`) |
//! | secrets | [`secrets`]: the `secrets` interface, redaction | `secret.read` |
//! | log and stdio | [`log`]: the `log` interface, captured stdout/stderr | `log` |
//! | network | [`net`]: the `wasi:http` `send_request` hook (grant, DNS pinning, blocked addresses, placeholders), refused sockets | `net.request`, `net.socket` |

pub mod config;
pub mod fs;
pub mod log;
pub mod net;
pub mod secrets;
