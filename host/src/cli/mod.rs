//! The `airlock` command line: thin commands over the library.
//!
//! Exit codes, the same for every command that runs an action:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the action ran and returned an error (or `audit verify` found a fault) |
//! | 2 | usage or configuration error: bad flags, malformed policy, input not JSON |
//! | 3 | refused before running: unknown or unpinned action, digest mismatch, bad manifest, unlinkable component |
//! | 4 | a limit was exceeded (memory, time, output) or the action trapped |
//! | 5 | host fault: the audit log or a file could not be written; nothing ran unrecorded |

mod audit;
mod inspect;
mod run;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit codes; see the module documentation.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The action returned an error; a verification failed.
    pub const ACTION_ERROR: u8 = 1;
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
    /// Refused before running.
    pub const REFUSED: u8 = 3;
    /// A limit was exceeded or the action trapped.
    pub const LIMIT: u8 = 4;
    /// The host could not keep its guarantees.
    pub const HOST: u8 = 5;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the action returned an error (audit verify: the log failed verification)
  2  usage or configuration error (bad flags, malformed policy, input not JSON)
  3  refused before running (unknown or unpinned action, digest mismatch, bad manifest)
  4  a limit was exceeded (memory, time, output) or the action trapped
  5  host fault (the audit log could not be written; nothing ran unrecorded)";

/// Run third-party workflow actions with only the capabilities an operator approved.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, after_help = EXIT_CODES)]
struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Run(run::Args),
    Inspect(inspect::Args),
    #[command(subcommand)]
    Audit(audit::Command),
}

/// The `airlock` binary's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    init_tracing(cli.verbose);
    let code = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Audit(cmd) => audit::run(cmd),
    };
    ExitCode::from(code)
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Print an error as one line on stderr, `airlock: error: …`, and return
/// `code`.
fn fail(code: u8, error: impl std::fmt::Display) -> u8 {
    eprintln!(
        "airlock: error: {}",
        crate::doc::one_line(&error.to_string())
    );
    code
}

/// The exit code for a library error.
fn code_of(e: &crate::Error) -> u8 {
    match e {
        crate::Error::Document(_)
        | crate::Error::Input(_)
        | crate::Error::Mount(_)
        | crate::Error::Network(_) => exit::USAGE,
        crate::Error::Refused(_) => exit::REFUSED,
        crate::Error::Audit(_) | crate::Error::Io { .. } | crate::Error::Runtime(_) => exit::HOST,
    }
}
