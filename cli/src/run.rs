//! `airlock run`: run one vetted action and print its JSON output.

use super::{exit, fail, failed};
use airlock::Prelink;
use airlock::compile::{CacheError, CompileCache};
use airlock::{Failure, Host, Outcome, Policy};
use airlock_rules::opfile;
use airlock_rules::units::ByteSize;
use std::path::{Path, PathBuf};

/// Run one action: by name (from the policy) or by component file; either
/// must be approved in the lock (`airlock approve`) and signed where the
/// policy requires it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An action name from the policy, or a path to a component (.wasm).
    action: String,
    /// The JSON input: inline, @FILE, or @- for stdin.
    #[arg(short, long, default_value = "{}")]
    input: String,
    /// The operator policy.
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
    /// Print the whole outcome (run id, output or failure, refusals) as JSON.
    #[arg(long)]
    json: bool,
    /// Compile the component even if a compiled copy is cached, and cache
    /// nothing (the cache is $AIRLOCK_CACHE_DIR, else
    /// $XDG_CACHE_HOME/airlock, else ~/.cache/airlock; AIRLOCK_CACHE_DIR=off
    /// turns it off too).
    #[arg(long)]
    no_cache: bool,
}

/// Run `args`.
pub fn run(args: Args) -> u8 {
    // The engine and linker take longer to build than anything else before
    // the run, and need nothing from the policy: start them first. A failed
    // start just means the host builds them itself.
    let prelink = Prelink::start().ok();
    let policy = match Policy::load(&args.config) {
        Ok(p) => p,
        Err(e) => return fail(exit::USAGE, e),
    };
    let input = match read_input(&args.input, policy.limits.input) {
        Ok(input) => input,
        Err(e) => return fail(exit::USAGE, e),
    };
    // One run: no instance pool to reserve, no checkpoint thread (the run
    // is sealed below, before it is reported).
    let mut builder = Host::builder(policy)
        .instance_pool(false)
        .seal_in_background(false);
    if let Some(prelink) = prelink {
        builder = builder.prelinked(prelink);
    }
    match super::compiler() {
        Ok(compiler) => builder = builder.compiler(compiler),
        Err(e) => return fail(exit::HOST, e),
    }
    if !args.no_cache {
        match compile_cache() {
            Ok(Some(cache)) => builder = builder.compile_cache(cache),
            Ok(None) => {}
            Err(e) => return fail(exit::HOST, e),
        }
    }
    let host = match builder.build() {
        Ok(h) => h,
        Err(e) => return failed(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(exit::HOST, format!("cannot start the async runtime: {e}")),
    };
    let action = if super::by_path(&args.action) {
        host.load_file(Path::new(&args.action))
    } else {
        host.action(&args.action)
    };
    let action = match action {
        Ok(a) => a,
        Err(e) => return failed(&e),
    };
    for note in &action.grant().narrowed {
        eprintln!("airlock: note: {note}");
    }
    let outcome = match runtime.block_on(action.invoke(&input)) {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    // The run is reported only once a checkpoint seals it.
    if let Err(e) = host.seal() {
        return failed(&e);
    }
    report(&outcome, args.json, host.audit_log())
}

/// The input `arg` gives: inline, `@FILE` or `@-` (stdin), of at most `max`
/// bytes. Reads no more than one byte past `max`.
fn read_input(arg: &str, max: ByteSize) -> Result<String, String> {
    let (bytes, from) = match arg.strip_prefix('@') {
        Some("-") => (
            opfile::read_capped(std::io::stdin().lock(), max, "input"),
            "stdin".to_owned(),
        ),
        // Not only regular files: `--input @<(command)` is a pipe.
        Some(path) => (
            std::fs::File::open(path).and_then(|f| opfile::read_capped(f, max, "input")),
            path.to_owned(),
        ),
        None => (Ok(arg.as_bytes().to_vec()), "--input".to_owned()),
    };
    let bytes = bytes.map_err(|e| match e.kind() {
        std::io::ErrorKind::FileTooLarge => format!(
            "the input from {from} is larger than {max}, the most the policy accepts: \
             send less, or raise [limits] input in the policy"
        ),
        _ => format!("cannot read the input from {from}: {e}"),
    })?;
    if bytes.len() as u64 > max.0 {
        return Err(airlock::Error::InputTooLarge { max }.to_string());
    }
    String::from_utf8(bytes).map_err(|_| format!("the input from {from} is not UTF-8 text"))
}

fn exit_code(result: &Result<String, Failure>) -> u8 {
    match result {
        Ok(_) => exit::OK,
        Err(Failure::Action(_)) => exit::ACTION_ERROR,
        Err(Failure::Limit(_) | Failure::Trap(_)) => exit::LIMIT,
        Err(Failure::Host(_)) => exit::HOST,
    }
}

fn report(outcome: &Outcome, json: bool, audit: &Path) -> u8 {
    let code = exit_code(&outcome.result);
    if json {
        let value = serde_json::json!({
            "run": outcome.run,
            "action": outcome.action,
            "digest": outcome.digest.to_string(),
            "ok": outcome.result.is_ok(),
            "output": outcome.result.as_ref().ok().and_then(|o| serde_json::from_str::<serde_json::Value>(o).ok()),
            "error": outcome.result.as_ref().err().map(ToString::to_string),
            "exit_code": code,
            "duration_ms": u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            "peak_memory": outcome.peak_memory,
            "denials": outcome.denials.iter().map(|d| serde_json::json!({
                "event": d.event, "target": d.target, "reason": d.reason,
            })).collect::<Vec<_>>(),
            "audit_log": audit.display().to_string(),
        });
        println!("{value}");
        return code;
    }
    for d in &outcome.denials {
        eprintln!(
            "airlock: refused {} {}: {}",
            d.event,
            d.target.escape_debug(),
            airlock_rules::doc::one_line(&d.reason)
        );
    }
    match &outcome.result {
        Ok(output) => println!("{output}"),
        Err(failure) => {
            eprintln!(
                "airlock: error: {} (run {}, see {})",
                airlock_rules::doc::one_line(&failure.to_string()),
                outcome.run,
                audit.display()
            );
        }
    }
    code
}

/// The environment variable that moves the compile cache, or turns it off
/// (`off`).
const CACHE_DIR_ENV: &str = "AIRLOCK_CACHE_DIR";

/// Where the compile cache is: `$AIRLOCK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/airlock`, else `$HOME/.cache/airlock`; `None` when
/// `$AIRLOCK_CACHE_DIR` is `off` (or empty) or no home is known.
fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(v) if v.is_empty() || v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .map(|base| base.join("airlock")),
    }
}

/// The compile cache `airlock run` (and `approve`) uses ([`cache_dir`]).
/// One named with `AIRLOCK_CACHE_DIR` must be usable; the default one is
/// skipped with a note if it is not (a read-only home, say): the cache only
/// saves time.
pub(super) fn compile_cache() -> Result<Option<CompileCache>, String> {
    let Some(dir) = cache_dir() else {
        return Ok(None);
    };
    let hint = |e: CacheError| {
        format!(
            "{e} (fix it, choose another directory with {CACHE_DIR_ENV}=DIR, or turn the cache \
             off with {CACHE_DIR_ENV}=off or --no-cache)"
        )
    };
    // Ambient authority on behalf of airlock itself, never of an action.
    match CompileCache::open(&dir, cap_std::ambient_authority()) {
        Ok(cache) => Ok(Some(cache)),
        Err(e) if std::env::var_os(CACHE_DIR_ENV).is_some() => Err(hint(e)),
        Err(e) => {
            eprintln!("airlock: note: compiling without a cache: {e}");
            Ok(None)
        }
    }
}
