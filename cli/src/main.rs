//! The `airlock` command: thin commands over the `airlock` library. This
//! is the only crate with clap, anyhow and tracing-subscriber in it.
//!
//! Exit codes, the same for every command that runs an action:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the action ran and returned an error (or `audit verify` found a fault); `verify`: the signature does not verify; `diff`: the new component asks for more; `approve`: not confirmed, nothing written |
//! | 2 | usage or configuration error: bad flags, malformed policy or lock, input not JSON |
//! | 3 | refused before running: unknown or unapproved action, digest mismatch, capability drift, bad or missing signature, bad manifest, unlinkable component, a component beyond the `[compile]` ceilings or bounds (`approve`: cannot be approved) |
//! | 4 | a limit was exceeded (memory, time, output) or the action trapped |
//! | 5 | host fault: the audit log or a file could not be written; nothing ran unrecorded |

mod approve;
mod audit;
mod compile;
mod diff;
mod harness;
mod inspect;
mod keygen;
mod new;
mod oci;
mod pack;
mod run;
mod serve;
mod sign;
mod verify;

use clap::{Parser, Subcommand};
use std::io::IsTerminal as _;
use std::process::ExitCode;

/// Exit codes; see the module documentation.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The action returned an error; a verification failed; `diff`: the new
    /// component asks for more; `approve`: not confirmed.
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
  1  the action returned an error (audit verify, verify: verification failed;
     diff: the new component asks for more; approve: not confirmed, nothing written)
  2  usage or configuration error (bad flags, a missing policy, an unreadable or malformed
     policy or lock, input not JSON)
  3  refused before running (unknown or unapproved action, digest mismatch, capability
     drift, bad or missing signature, bad manifest, beyond a [compile] ceiling or bound;
     approve: cannot be approved)
  4  a limit was exceeded (memory, time, output) or the action trapped
  5  host fault (the audit log could not be written, nothing ran unrecorded; approve:
     the lock could not be written)";

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
    Serve(serve::Args),
    Inspect(inspect::Args),
    Approve(approve::Args),
    Diff(diff::Args),
    Pack(pack::Args),
    Push(oci::PushArgs),
    Pull(oci::PullArgs),
    Sign(sign::Args),
    Verify(verify::Args),
    Keygen(keygen::Args),
    New(new::Args),
    Test(harness::Args),
    #[command(subcommand)]
    Audit(audit::Command),
    /// Run actions as Temporal activities: the `airlock-worker` binary,
    /// built apart so that `airlock` carries no gRPC (docs/temporal.md).
    #[command(disable_help_flag = true)]
    Worker {
        /// Its arguments (`airlock worker --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Compile a component from stdin for a parent airlock process.
    #[command(name = "__compile", hide = true)]
    Compile(compile::Args),
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    // The cryptography Sigstore bundles are verified with (`approve`).
    airlock_rules::provenance::sigstore::install_crypto();
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
        Command::Serve(args) => serve::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Approve(args) => approve::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Pack(args) => pack::run(args),
        Command::Push(args) => oci::push(args),
        Command::Pull(args) => oci::pull(args),
        Command::New(args) => new::run(args),
        Command::Test(args) => harness::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Worker { args } => worker(args),
        Command::Compile(args) => compile::run(args),
    };
    ExitCode::from(code)
}

/// `airlock worker ARGS`: becomes `airlock-worker ARGS`, the binary beside
/// this one (where `cargo install` puts both); never one found on `PATH`.
fn worker(args: Vec<std::ffi::OsString>) -> u8 {
    use std::os::unix::process::CommandExt as _;
    const WORKER: &str = "airlock-worker";
    let beside = match std::env::current_exe() {
        Ok(exe) => exe.with_file_name(WORKER),
        Err(e) => return fail(exit::HOST, format!("cannot find the airlock binary: {e}")),
    };
    if !beside.is_file() {
        return fail(
            exit::USAGE,
            format!(
                "`airlock worker` runs {}, which is not installed: cargo install --locked --path \
                 worker (docs/temporal.md)",
                beside.display()
            ),
        );
    }
    let e = std::process::Command::new(&beside).args(args).exec();
    fail(exit::HOST, format!("cannot run {}: {e}", beside.display()))
}

/// `airlock … | head` closes stdout early; the standard library then
/// panics on the next `println!`. End the way a program killed by SIGPIPE
/// does (exit status 141, nothing printed) instead of with a panic message
/// — and never with a success code that could hide, say, a failed
/// verification printed before the pipe closed.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let (default, level) = match verbose {
        0 => ("warn", tracing::Level::WARN),
        1 => ("info", tracing::Level::INFO),
        _ => ("debug", tracing::Level::DEBUG),
    };
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_target(false);
    // A level alone is cheaper to set up than a filter; RUST_LOG still gets
    // the full syntax.
    let _ = match std::env::var_os(EnvFilter::DEFAULT_ENV) {
        Some(_) => fmt
            .with_env_filter(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default)),
            )
            .try_init(),
        None => fmt.with_max_level(level).try_init(),
    };
}

/// Whether diagnostics on stderr are coloured: only for a person at a
/// terminal, so that a pipe, a file or a CI log gets plain text, and never
/// when `NO_COLOR` is set to anything but an empty string (no-color.org).
fn colour(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Print an error as one line on stderr, `airlock: error: …`, and return
/// `code`.
fn fail(code: u8, error: impl std::fmt::Display) -> u8 {
    eprintln!(
        "airlock: error: {}",
        airlock_rules::doc::one_line(&error.to_string())
    );
    code
}

/// Print a library error with the errors that caused it, and return its
/// exit code.
fn failed(e: &airlock::Error) -> u8 {
    fail(code_of(e), airlock::report::chain(e))
}

/// The bytes of a file the command was given, or the usage error that
/// names it (already printed) as the exit code.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, u8> {
    airlock_rules::opfile::read_operator_file(
        path,
        airlock_rules::opfile::COMPONENT_MAX,
        "component",
    )
    .map_err(|e| fail(exit::USAGE, format!("cannot read {}: {e}", path.display())))
}

/// The exit code for a library error.
fn code_of(e: &airlock::Error) -> u8 {
    airlock::report::Code::of_error(e).exit_code()
}

/// Where the CLI compiles components: in a child process, this binary's
/// hidden `__compile` command, held to the policy's `[compile] timeout` and
/// `memory`.
fn compiler() -> Result<airlock::compile::Compiler, String> {
    std::env::current_exe()
        .map(airlock::compile::Compiler::Process)
        .map_err(|e| format!("cannot find the airlock binary to compile in a child process: {e}"))
}

/// Whether a command-line argument names a component file rather than an
/// action: it ends in `.wasm` or has a `/`.
fn by_path(arg: &str) -> bool {
    arg.ends_with(".wasm") || arg.contains('/')
}

/// The component file an argument names: a path, or the policy's path for
/// an action name.
fn component_path(
    policy: &airlock::Policy,
    arg: &str,
) -> Result<std::path::PathBuf, airlock::Refusal> {
    if by_path(arg) {
        return Ok(arg.into());
    }
    policy.component_path(arg).map(std::path::Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_only_at_a_terminal_and_never_under_no_color() {
        use std::ffi::OsStr;
        let cases: &[(bool, Option<&str>, bool)] = &[
            (true, None, true),
            (true, Some(""), true),
            (true, Some("1"), false),
            (true, Some("0"), false),
            (false, None, false),
            (false, Some("1"), false),
        ];
        for (terminal, no_color, expected) in cases {
            assert_eq!(
                colour(*terminal, no_color.map(OsStr::new)),
                *expected,
                "terminal {terminal}, NO_COLOR {no_color:?}"
            );
        }
    }
}
