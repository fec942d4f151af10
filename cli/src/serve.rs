//! `airlock serve`: one long-lived host behind an authenticated HTTP API.

use super::{exit, fail};
use airlock_serve::{Config, Listen, Server, TlsFiles};
use std::path::PathBuf;
use std::time::Duration;

/// Answer the HTTP API (docs/serve.md) with one long-lived host: by
/// default on the Unix socket airlock.sock next to the policy, mode 0600.
/// Stops on SIGTERM or SIGINT: no new requests, runs in flight finish for
/// --grace, the log is sealed. Takes the policy and lock again when they
/// change, or on SIGHUP.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operator policy.
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
    /// Where to listen: unix:PATH or tcp:HOST:PORT (again for more). TCP
    /// needs --tokens or client certificates, and TLS unless on loopback.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<Listen>,
    /// Bearer tokens for TCP callers: `NAME TOKEN` per line, mode 0600; the
    /// name is recorded as the caller of each run.
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// TLS certificate chain (PEM) for TCP listeners.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA (PEM) whose client certificates TCP callers must present.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// A group (name or id) that may use the Unix socket too (mode 0660).
    #[arg(long, value_name = "GROUP")]
    socket_group: Option<String>,
    /// Runs at a time [default: two per core].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Invocations that may wait for a run slot; the next is answered 429.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// How long runs in flight may take to finish after SIGTERM.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    grace: Duration,
}

/// Run `args`.
pub fn run(args: Args) -> u8 {
    let mut config = Config::new(&args.config);
    config.listen = args.listen;
    config.tokens = args.tokens;
    config.queue = args.queue;
    config.grace = args.grace;
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    match super::compiler() {
        Ok(compiler) => config.compiler = compiler,
        Err(e) => return fail(exit::HOST, e),
    }
    match super::run::compile_cache() {
        Ok(cache) => config.compile_cache = cache,
        Err(e) => return fail(exit::HOST, e),
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(TlsFiles {
            cert,
            key,
            client_ca: args.client_ca,
        });
    }
    if let Some(group) = &args.socket_group {
        match group_id(group) {
            Ok(gid) => config.socket_group = Some(gid),
            Err(e) => return fail(exit::USAGE, e),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("airlock-serve")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(exit::HOST, format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async {
        let server = match Server::bind(config) {
            Ok(s) => s,
            Err(
                e @ (airlock_serve::ServeError::Host(_) | airlock_serve::ServeError::Listen { .. }),
            ) => {
                return fail(exit::HOST, e);
            }
            Err(e) => return fail(exit::USAGE, e),
        };
        let stop = match shutdown_signal() {
            Ok(stop) => stop,
            Err(e) => return fail(exit::HOST, format!("cannot watch for SIGTERM: {e}")),
        };
        match reload_on_sighup(server.reloader()) {
            Ok(()) => {}
            Err(e) => return fail(exit::HOST, format!("cannot watch for SIGHUP: {e}")),
        }
        for address in server.addresses() {
            eprintln!("airlock: serving on {address}");
        }
        match server.run(stop).await {
            Ok(()) => {
                eprintln!("airlock: stopped; the audit log is sealed");
                exit::OK
            }
            Err(e) => fail(exit::HOST, e),
        }
    })
}

/// On each SIGHUP, read the policy and lock again; say on stderr what
/// came of it.
fn reload_on_sighup(reloader: airlock_serve::Reloader) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let reloader = reloader.clone();
            match tokio::task::spawn_blocking(move || reloader.reload()).await {
                Ok(Ok(())) => eprintln!("airlock: took the new policy and lock"),
                Ok(Err(why)) => {
                    eprintln!("airlock: error: {why}; the policy and lock in force stay")
                }
                Err(e) => eprintln!("airlock: error: the reload failed: {e}"),
            }
        }
    });
    Ok(())
}

/// Completes on the first SIGTERM or SIGINT. The handlers are the
/// binary's: the library never installs any.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// A group id, given as one or as a name in /etc/group.
fn group_id(group: &str) -> Result<u32, String> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group")
        .map_err(|e| format!("cannot read /etc/group to find group {group}: {e}"))?;
    groups
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?;
            let gid = fields.nth(1)?.parse().ok()?;
            (name == group).then_some(gid)
        })
        .next()
        .ok_or_else(|| format!("no group {group} in /etc/group; give its name or number"))
}
