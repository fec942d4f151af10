//! `airlock __compile` (hidden): the child side of compiling in a child
//! process (`airlock::compile::Compiler::Process`). The component comes on
//! stdin, the compiled artifact goes to stdout; the parent has limited this
//! process's memory and CPU time before it writes the component.

use super::{exit, fail};
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
    let artifact = match airlock::compile::compile_as_child(&component) {
        Ok(a) => a,
        Err(e) => return fail(u8::try_from(e.exit_code()).unwrap_or(exit::HOST), e),
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
