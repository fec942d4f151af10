//! `airlock __compile` (hidden): compile the component on stdin for a
//! parent airlock process and write the compiled artifact on stdout
//! ([`crate::runtime::compiler`]). The parent has limited this process's
//! memory and CPU time before it writes the component.

use super::{exit, fail};
use crate::runtime::compiler::{EXIT_INVALID, EXIT_MEMORY};
use std::io::{Read, Write};

/// No arguments: the component comes on stdin.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_: Args) -> u8 {
    let mut component = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut component) {
        return fail(
            exit::HOST,
            format!("cannot read the component from stdin: {e}"),
        );
    }
    // The engine of every host (an instance pool changes nothing compiled).
    let artifact = crate::runtime::engine(None).and_then(|e| e.precompile_component(&component));
    let artifact = match artifact {
        Ok(a) => a,
        Err(e) if out_of_memory(&e) => return fail(code(EXIT_MEMORY), format!("{e:#}")),
        Err(e) => return fail(code(EXIT_INVALID), format!("{e:#}")),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(&artifact).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) => fail(
            exit::HOST,
            format!("cannot write the compiled component: {e}"),
        ),
    }
}

fn code(c: i32) -> u8 {
    u8::try_from(c).unwrap_or(exit::HOST)
}

/// Whether `e` is the system refusing memory (a mapping beyond the address
/// space limit), rather than wasmtime refusing the component.
fn out_of_memory(e: &wasmtime::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::OutOfMemory)
            || cause.to_string().contains("Cannot allocate memory")
    })
}
