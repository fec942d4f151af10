//! Host bindings of the `airlock:action` world, generated from the same
//! `sdk/wit` files the SDK's guest bindings read.
//!
//! Every WASI package is mapped onto wasmtime-wasi's and
//! wasmtime-wasi-http's own bindings, so only `secrets`, `config`, `log` and
//! the `run` export are generated here.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../sdk/wit",
    world: "airlock:action/action",
    imports: { default: trappable },
    exports: { default: async },
    require_store_data_send: true,
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});
