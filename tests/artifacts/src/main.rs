//! `airlock-test-artifacts NAME…`: the path of each guest component named,
//! one a line, for scripts like the demo (`demo/run.sh`). The components are
//! built in this crate's build output, whose directory scripts cannot know.

use airlock_test_artifacts::{PLUGINS, TEST_GUESTS};
use std::process::ExitCode;

fn main() -> ExitCode {
    for name in std::env::args().skip(1) {
        match PLUGINS.iter().chain(TEST_GUESTS).find(|(n, _)| *n == name) {
            Some((_, path)) => println!("{path}"),
            None => {
                let known: Vec<&str> = PLUGINS.iter().chain(TEST_GUESTS).map(|c| c.0).collect();
                eprintln!(
                    "no guest component named {name}; there are: {}",
                    known.join(", ")
                );
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
