//! End-to-end tests: real components, real files in temporary directories,
//! a real audit log — one binary, one module per behaviour.

#![allow(clippy::unwrap_used)]

mod approval;
mod audit;
mod config;
mod file_kinds;
mod files;
mod isolation;
mod leaks;
mod limits;
mod network;
mod network_refusals;
mod network_secrets;
mod operator_files;
mod own_files;
mod pinning;
mod plugins;
mod polyglot;
mod refusals;
mod secrets;
