//! `airlock-worker` (also run as `airlock worker`): airlock as a Temporal
//! activity worker. Built apart from `airlock` so that the `airlock`
//! binary and library carry no gRPC.

use airlock_worker::{Config, Tls, Worker, WorkerError};
use clap::Parser;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use zeroize::Zeroizing;

/// Run third-party actions as Temporal activities (`airlock.invoke`), each
/// fenced by the policy and recorded in this worker's own audit log.
#[derive(Debug, Parser)]
#[command(name = "airlock worker", version)]
struct Args {
    /// The Temporal frontend: HOST:PORT, or an http:// or https:// URL.
    #[arg(long, value_name = "HOST:PORT", env = "AIRLOCK_TEMPORAL")]
    temporal: String,
    /// The Temporal namespace.
    #[arg(long, default_value = "default", env = "AIRLOCK_TEMPORAL_NAMESPACE")]
    namespace: String,
    /// The task queue to poll for `airlock.invoke`.
    #[arg(long, value_name = "QUEUE")]
    task_queue: String,
    /// The policy; its lock is found through it.
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
    /// This worker's name among those sharing the policy: its audit log,
    /// checkpoints and anchor are the policy's, in a directory of this
    /// name. Default: the host name. Keep it across restarts, so that a
    /// restarted worker recovers its own log.
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,
    /// The identity Temporal records for this worker (default
    /// airlock@HOST/INSTANCE).
    #[arg(long)]
    identity: Option<String>,
    /// Activities run at once by this worker.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// On SIGTERM, how long in-flight activities may run before they are
    /// cancelled.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
    /// TLS to the frontend, trusting these roots (PEM) for its certificate.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// The name the frontend's certificate must carry, if not its address.
    #[arg(long, value_name = "NAME")]
    tls_domain: Option<String>,
    /// A client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS with the system's roots, when no other TLS flag is given.
    #[arg(long)]
    tls: bool,
    /// A file holding an API key for the frontend (Temporal Cloud's way);
    /// it must not be readable by others.
    #[arg(long, value_name = "FILE")]
    api_key_file: Option<PathBuf>,
}

const HOST_FAULT: u8 = 5;
const USAGE: u8 = 2;

fn main() -> ExitCode {
    // The child side of compiling in a child process, as `airlock
    // __compile` is (airlock::compile::Compiler::Process).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == airlock::compile::COMMAND)
    {
        return ExitCode::from(compile_child());
    }
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    ExitCode::from(run(args))
}

fn run(args: Args) -> u8 {
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => return fail(USAGE, &e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("airlock-worker")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(HOST_FAULT, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        let stop = match shutdown_signal() {
            Ok(stop) => stop,
            Err(e) => return fail(HOST_FAULT, &format!("cannot watch for SIGTERM: {e}")),
        };
        let (queue, namespace) = (config.task_queue.clone(), config.namespace.clone());
        let worker = match Worker::connect(config).await {
            Ok(w) => w,
            Err(e @ WorkerError::Config(_)) => return fail(USAGE, &e.to_string()),
            Err(e) => return fail(HOST_FAULT, &e.to_string()),
        };
        eprintln!(
            "airlock: worker {} polling {namespace}/{queue}; audit log {}",
            worker.identity(),
            worker.audit_log().display()
        );
        match worker.run(stop).await {
            Ok(()) => {
                eprintln!("airlock: stopped; the audit log is sealed");
                0
            }
            Err(e) => fail(HOST_FAULT, &e.to_string()),
        }
    })
}

fn config(args: Args) -> Result<Config, String> {
    let compiler = std::env::current_exe()
        .map(airlock::compile::Compiler::Process)
        .map_err(|e| format!("cannot find this binary to compile in a child process: {e}"))?;
    let instance = match args.instance {
        Some(i) => i,
        None => gethostname::gethostname().to_string_lossy().into_owned(),
    };
    let any_tls = args.tls_ca.is_some() || args.tls_domain.is_some() || args.tls_cert.is_some();
    let tls = if any_tls || args.tls {
        let client = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some((read(cert, false)?, Zeroizing::new(read(key, true)?))),
            _ => None,
        };
        Some(Tls {
            ca: args.tls_ca.as_deref().map(|p| read(p, false)).transpose()?,
            domain: args.tls_domain,
            client,
        })
    } else {
        None
    };
    let api_key = match &args.api_key_file {
        Some(path) => {
            let bytes = Zeroizing::new(read(path, true)?);
            let key = std::str::from_utf8(&bytes)
                .map_err(|_| format!("{}: the API key is not UTF-8", path.display()))?
                .trim();
            if key.is_empty() {
                return Err(format!("{}: the API key file is empty", path.display()));
            }
            Some(Zeroizing::new(key.to_owned()))
        }
        None => None,
    };
    Ok(Config {
        temporal: args.temporal,
        namespace: args.namespace,
        task_queue: args.task_queue,
        policy: args.config,
        instance,
        identity: args.identity,
        concurrency: args.concurrency,
        grace: args.grace,
        tls,
        api_key,
        compiler,
        compile_cache: compile_cache()?,
    })
}

/// An operator file, as airlock reads them (a regular file, within its
/// cap); a secret one (a key) must not be readable by others.
fn read(path: &Path, secret: bool) -> Result<Vec<u8>, String> {
    use airlock::rules::opfile;
    use std::os::unix::fs::PermissionsExt as _;
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    if secret {
        let mode = std::fs::metadata(path).map_err(fail)?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is readable by others (mode {:o}); it holds a secret: chmod 600 it",
                path.display(),
                mode & 0o777
            ));
        }
        opfile::read_operator_file(path, opfile::KEY_MAX, "key file").map_err(fail)
    } else {
        opfile::read_operator_file(path, opfile::CA_MAX, "certificate").map_err(fail)
    }
}

/// The compile cache, where `airlock` keeps it (`AIRLOCK_CACHE_DIR`, `off`
/// for none).
fn compile_cache() -> Result<Option<airlock::compile::CompileCache>, String> {
    let Some(dir) = airlock::compile::CompileCache::dir_from_env() else {
        return Ok(None);
    };
    let max_size = airlock::compile::CompileCache::max_size_from_env()?;
    match airlock::compile::CompileCache::open(&dir, cap_std::ambient_authority()) {
        Ok(cache) => Ok(Some(cache.max_size(max_size))),
        Err(e) if std::env::var_os(airlock::compile::CompileCache::DIR_ENV).is_some() => Err(
            format!("{e} (fix it, or choose another directory with AIRLOCK_CACHE_DIR=DIR, or off)"),
        ),
        Err(e) => {
            eprintln!("airlock: note: compiling without a cache: {e}");
            Ok(None)
        }
    }
}

fn compile_child() -> u8 {
    let mut component = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut component) {
        return fail(
            HOST_FAULT,
            &format!("cannot read the component from stdin: {e}"),
        );
    }
    let artifact = match airlock::compile::compile_as_child(&component) {
        Ok(a) => a,
        Err(e) => {
            return fail(
                u8::try_from(e.exit_code()).unwrap_or(HOST_FAULT),
                &e.to_string(),
            );
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(&artifact).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => fail(
            HOST_FAULT,
            &format!("cannot write the compiled component: {e}"),
        ),
    }
}

fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("airlock: stopping: no new activities; in-flight ones may finish");
    })
}

fn fail(code: u8, message: &str) -> u8 {
    eprintln!("airlock: error: {}", airlock::rules::doc::one_line(message));
    code
}
