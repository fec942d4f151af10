//! `airlock run`: run one vetted action and print its JSON output.

use super::{fail, failed};
use airlock::Prelink;
use airlock::compile::{CacheError, CompileCache};
use airlock::report::{Code, Report};
use airlock::{Host, Outcome, Policy};
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
    /// Run a component file built just now, with neither approval nor
    /// signature: only under a development policy (allow_dev = true under
    /// [trust]); its run.start and run.end records say "dev".
    #[arg(long)]
    dev: bool,
}

/// Run `args`.
pub fn run(args: Args) -> u8 {
    let mut ended = Ended {
        json: args.json,
        action: &args.action,
        audit: None,
    };
    // The engine and linker take longer to build than anything else before
    // the run, and need nothing from the policy: start them first. A failed
    // start just means the host builds them itself.
    let prelink = Prelink::start().ok();
    if args.dev && !super::by_path(&args.action) {
        let why = format!(
            "--dev runs a component file, and `{}` names an action: give the path of the .wasm",
            args.action
        );
        return ended.not_run(Code::BadInput, &why);
    }
    let policy = match Policy::load(&args.config) {
        Ok(p) => p,
        Err(e) => return ended.not_run(Code::BadPolicy, &e.to_string()),
    };
    let input = match read_input(&args.input, policy.limits.input) {
        Ok(input) => input,
        Err(e) => return ended.not_run(Code::BadInput, &e),
    };
    // One run: no instance pool to reserve, no checkpoint thread (the run
    // is sealed below, before it is reported). Other runs on the same log
    // (parallel steps of a CI job) hold it while they run: wait for them
    // as long as a run may take.
    let wait = policy.limits.timeout;
    let mut builder = Host::builder(policy)
        .instance_pool(false)
        .seal_in_background(false)
        .audit_lock_wait(wait);
    if let Some(prelink) = prelink {
        builder = builder.prelinked(prelink);
    }
    match super::compiler() {
        Ok(compiler) => builder = builder.compiler(compiler),
        Err(e) => return ended.not_run(Code::HostError, &e),
    }
    if !args.no_cache {
        match compile_cache() {
            Ok(Some(cache)) => builder = builder.compile_cache(cache),
            Ok(None) => {}
            Err(e) => return ended.not_run(Code::HostError, &e),
        }
    }
    let host = match builder.build() {
        Ok(h) => h,
        Err(e) => return ended.error(&e),
    };
    ended.audit = Some(host.audit_log().to_path_buf());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let why = format!("cannot start the async runtime: {e}");
            return ended.not_run(Code::HostError, &why);
        }
    };
    let action = if args.dev {
        host.load_dev(Path::new(&args.action))
    } else if super::by_path(&args.action) {
        host.load_file(Path::new(&args.action))
    } else {
        host.action(&args.action)
    };
    let action = match action {
        Ok(a) => a,
        Err(e) => return ended.error(&e),
    };
    if args.dev {
        eprintln!("airlock: note: a development run: neither approved nor signature-checked");
    }
    for note in &action.grant().narrowed {
        eprintln!("airlock: note: {note}");
    }
    let outcome = match runtime.block_on(action.invoke(&input)) {
        Ok(o) => o,
        Err(e) => return ended.error(&e),
    };
    // The run is reported only once a checkpoint seals it.
    if let Err(e) = host.seal() {
        return ended.error(&e);
    }
    report(&outcome, args.json, host.audit_log())
}

/// How a run that did not get to run is reported: one line on stderr, and
/// with `--json` the [`Report`] on stdout as well.
struct Ended<'a> {
    json: bool,
    action: &'a str,
    audit: Option<PathBuf>,
}

impl Ended<'_> {
    fn error(&self, e: &airlock::Error) -> u8 {
        if self.json {
            let action = Some(self.action);
            print(&Report::of_error(action, e, self.audit.as_deref()));
        }
        failed(e)
    }

    fn not_run(&self, code: Code, message: &str) -> u8 {
        if self.json {
            print(&Report::not_run(Some(self.action), code, message));
        }
        fail(code.exit_code(), message)
    }
}

fn print(report: &Report) {
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("airlock: error: cannot encode the outcome as JSON: {e}"),
    }
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

fn report(outcome: &Outcome, json: bool, audit: &Path) -> u8 {
    let report = Report::of_outcome(outcome, audit);
    if json {
        print(&report);
        return report.exit_code();
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
    report.exit_code()
}

/// The compile cache `airlock run` (and `approve`) uses
/// ([`CompileCache::dir_from_env`]).
/// One named with `AIRLOCK_CACHE_DIR` must be usable; the default one is
/// skipped with a note if it is not (a read-only home, say): the cache only
/// saves time.
pub(super) fn compile_cache() -> Result<Option<CompileCache>, String> {
    let Some(dir) = CompileCache::dir_from_env() else {
        return Ok(None);
    };
    let hint = |e: CacheError| {
        format!(
            "{e} (fix it, choose another directory with AIRLOCK_CACHE_DIR=DIR, or turn the cache \
             off with AIRLOCK_CACHE_DIR=off or --no-cache)"
        )
    };
    let max_size = CompileCache::max_size_from_env()?;
    // Ambient authority on behalf of airlock itself, never of an action.
    match CompileCache::open(&dir, cap_std::ambient_authority()) {
        Ok(cache) => Ok(Some(cache.max_size(max_size))),
        Err(e) if std::env::var_os(CompileCache::DIR_ENV).is_some() => Err(hint(e)),
        Err(e) => {
            eprintln!("airlock: note: compiling without a cache: {e}");
            Ok(None)
        }
    }
}
