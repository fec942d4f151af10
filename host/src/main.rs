//! The `airlock` command. Everything it does is in the library; see
//! [`airlock::cli`].

fn main() -> std::process::ExitCode {
    airlock::cli::main()
}
