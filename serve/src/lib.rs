//! `airlock serve`: one long-lived airlock host behind an authenticated HTTP
//! API, for workflow engines in any language.
//!
//! A [`Server`] is bound from a [`Config`]: it loads the policy and lock,
//! builds one [`airlock::Host`] (which holds the audit log for its
//! lifetime) and binds its listeners, refusing any that would be open to
//! callers it cannot authenticate. [`Server::run`] then answers the API
//! (JSON over HTTP/1.1 and HTTP/2, described by `openapi.json`) until the
//! future it is given completes, lets the runs in flight finish for a
//! grace period, and seals the log.
//!
//! Authentication: a Unix socket is mode 0600 (0660 with a socket group),
//! and its file permission is the authentication; TCP needs bearer tokens
//! (only their SHA-256 digests are kept, compared in constant time) or TLS
//! client certificates, and TLS unless it listens on loopback only. The
//! caller's identity goes into each run's `run.start` as `caller`.
//!
//! The library never touches process-wide state: the binary installs the
//! signal handlers and passes their future to [`Server::run`].

mod api;
mod listen;
mod metrics;
mod problem;
mod runs;
mod tls;

pub use listen::{Listen, Tokens};
pub use tls::TlsFiles;

use airlock::compile::{CompileCache, Compiler};
use airlock::{Host, Policy};
use api::State;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;

/// What the server is set up with.
#[derive(Debug)]
pub struct Config {
    /// The policy file (`airlock.toml`).
    pub policy: PathBuf,
    /// Where to listen; none means the Unix socket `airlock.sock` next to
    /// the policy.
    pub listen: Vec<Listen>,
    /// The bearer tokens file, for TCP.
    pub tokens: Option<PathBuf>,
    /// TLS for TCP listeners.
    pub tls: Option<TlsFiles>,
    /// A group whose members may use the Unix socket too (mode 0660).
    pub socket_group: Option<u32>,
    /// Runs at a time.
    pub concurrency: usize,
    /// Invocations that may wait for a run slot; the next gets `429`.
    pub queue: usize,
    /// How long runs in flight may take to finish once shutdown starts.
    pub grace: Duration,
    /// Where components are compiled (the `airlock` binary passes a child
    /// process held to the policy's `[compile]` bounds).
    pub compiler: Compiler,
    /// Where compiled components are kept between runs and restarts.
    pub compile_cache: Option<CompileCache>,
}

impl Config {
    /// A configuration with the defaults for `policy`: the Unix socket next
    /// to it, two runs per core at a time, a queue of 64, 30 s of grace.
    pub fn new(policy: impl Into<PathBuf>) -> Config {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Config {
            policy: policy.into(),
            listen: Vec::new(),
            tokens: None,
            tls: None,
            socket_group: None,
            concurrency: cores * 2,
            queue: 64,
            grace: Duration::from_secs(30),
            compiler: Compiler::InProcess,
            compile_cache: None,
        }
    }
}

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The policy, lock, audit log or engine cannot be set up.
    #[error("{0}")]
    Host(String),
    /// A listener would be open to callers it cannot authenticate.
    #[error("{0}")]
    Unsafe(String),
    /// The tokens file cannot be used.
    #[error("{0}")]
    Tokens(String),
    /// The TLS files cannot be used.
    #[error("{0}")]
    Tls(String),
    /// An address cannot be listened on.
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        /// The address.
        listen: Listen,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Makes a running server take its policy and lock again.
#[derive(Clone)]
pub struct Reloader {
    state: Arc<State>,
}

impl Reloader {
    /// Read the policy and its lock again. A malformed one is refused
    /// (recorded as a `policy.reload` that denies it, reported by
    /// `/readyz`) and the ones in force stay. Blocks while the new host is
    /// built: call it off the async threads.
    pub fn reload(&self) -> Result<(), String> {
        self.state.reload()
    }
}

/// Who is on the other end of a connection.
#[derive(Clone, Debug)]
enum Peer {
    /// A process on this machine, let in by the socket's permission.
    Unix {
        /// Its user id.
        uid: u32,
    },
    /// A TCP caller; with TLS client certificates, the certificate's
    /// identity.
    Tcp { certificate: Option<String> },
}

enum Bound {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    state: Arc<State>,
    bound: Vec<Bound>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    grace: Duration,
}

impl Server {
    /// Load the policy and lock, build the host, check that every listener
    /// authenticates its callers, and bind them. Must be called within a
    /// Tokio runtime.
    pub fn bind(mut config: Config) -> Result<Server, ServeError> {
        let policy = Policy::load(&config.policy).map_err(|e| ServeError::Host(e.to_string()))?;
        let listen = if config.listen.is_empty() {
            let dir = config.policy.parent().unwrap_or(Path::new("."));
            vec![Listen::Unix(dir.join("airlock.sock"))]
        } else {
            config.listen.clone()
        };
        let tokens = config.tokens.as_deref().map(Tokens::load).transpose()?;
        let tls = config.tls.as_ref().map(TlsFiles::acceptor).transpose()?;
        let client_certs = config.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        for l in &listen {
            if let Listen::Tcp(addr) = l {
                if tokens.is_none() && !client_certs {
                    return Err(ServeError::Unsafe(format!(
                        "{l} would let anyone who can reach it run actions: give --tokens FILE, \
                         or --tls-cert, --tls-key and --client-ca for client certificates"
                    )));
                }
                if !addr.ip().is_loopback() && tls.is_none() {
                    return Err(ServeError::Unsafe(format!(
                        "{l} is not a loopback address, and tokens would cross the network in \
                         the clear: give --tls-cert and --tls-key, or listen on 127.0.0.1 or ::1"
                    )));
                }
            }
        }
        let mut builder = Host::builder(policy).compiler(config.compiler.clone());
        if let Some(cache) = config.compile_cache.take() {
            builder = builder.compile_cache(cache);
        }
        let host = builder
            .build()
            .map_err(|e| ServeError::Host(airlock::report::chain(&e)))?;
        let mut bound = Vec::new();
        for l in listen {
            bound.push(bind_one(&l, config.socket_group)?);
        }
        Ok(Server {
            state: Arc::new(State {
                host: std::sync::RwLock::new(host),
                policy: config.policy.clone(),
                reload_error: std::sync::Mutex::new(None),
                reloading: std::sync::Mutex::new(()),
                tokens,
                slots: Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1))),
                runs: runs::Runs::default(),
                live: std::sync::Mutex::default(),
                queue: config.queue as u64,
                metrics: metrics::Metrics::default(),
                fault: std::sync::Mutex::new(None),
                closing: std::sync::atomic::AtomicBool::new(false),
            }),
            bound,
            tls,
            grace: config.grace,
        })
    }

    /// The addresses bound, a TCP port of 0 resolved.
    pub fn addresses(&self) -> Vec<Listen> {
        self.bound
            .iter()
            .filter_map(|b| match b {
                Bound::Unix(_, path) => Some(Listen::Unix(path.clone())),
                Bound::Tcp(l) => l.local_addr().ok().map(Listen::Tcp),
            })
            .collect()
    }

    /// The host the server runs actions on now.
    pub fn host(&self) -> Host {
        self.state.host()
    }

    /// A handle that makes the server read its policy and lock again (the
    /// binary calls it on SIGHUP). The server also does, by itself, when
    /// either file changes.
    pub fn reloader(&self) -> Reloader {
        Reloader {
            state: self.state.clone(),
        }
    }

    /// Answer requests until `shutdown` completes; then stop accepting,
    /// let the runs in flight finish for the grace period (those still
    /// running after it are stopped, and recorded as such by the log's
    /// recovery), remove the Unix sockets and seal the log.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let Server {
            state,
            bound,
            tls,
            grace,
        } = self;
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let mut acceptors = JoinSet::new();
        let mut sockets = Vec::new();
        for b in bound {
            if let Bound::Unix(_, path) = &b {
                sockets.push(path.clone());
            }
            acceptors.spawn(accept(b, state.clone(), tls.clone(), stopping.clone()));
        }
        let watcher = tokio::spawn(watch(state.clone()));
        tokio::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {}
            Some(ended) = acceptors.join_next() => {
                tracing::error!("a listener stopped: {ended:?}");
            }
        }
        let _ = stop.send(true);
        watcher.abort();
        let mut open = Vec::new();
        while let Some(joined) = acceptors.join_next().await {
            open.extend(joined.ok());
        }
        for path in sockets {
            let _ = std::fs::remove_file(path);
        }
        // The requests in flight are answered, and the runs started
        // without waiting for them end, within the grace period; then the
        // runs still going are cancelled (each run.end says so) and given a
        // moment to write it.
        let drain = async |open: &mut Vec<JoinSet<()>>| {
            for connections in open.iter_mut() {
                while connections.join_next().await.is_some() {}
            }
            while state
                .metrics
                .in_flight
                .load(std::sync::atomic::Ordering::Acquire)
                > 0
                || state
                    .metrics
                    .queued
                    .load(std::sync::atomic::Ordering::Acquire)
                    > 0
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(grace, drain(&mut open)).await.is_err() {
            state
                .closing
                .store(true, std::sync::atomic::Ordering::Release);
            let live: Vec<airlock::Cancel> = state
                .live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .cloned()
                .collect();
            tracing::warn!(
                "{} runs still in flight after {} of grace are cancelled",
                live.len(),
                humantime::format_duration(grace)
            );
            for cancel in live {
                cancel.cancel();
            }
            if tokio::time::timeout(CANCEL_GRACE, drain(&mut open))
                .await
                .is_err()
            {
                for connections in &mut open {
                    connections.shutdown().await;
                }
            }
        }
        state
            .host()
            .seal()
            .map_err(|e| ServeError::Host(airlock::report::chain(&e)))
    }
}

/// Connections served at once on one listener.
const MAX_CONNECTIONS: usize = 1024;

/// How long a TLS client may take to finish its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long cancelled runs get to write their end at shutdown.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// How often the policy and lock files are looked at for a change.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Reload whenever the policy file or its lock changes (by size, time or
/// file: an editor's rename counts).
async fn watch(state: Arc<State>) {
    let look = |state: &State| {
        let lock = state.host().policy().trust.lock.clone();
        [state.policy.clone(), lock].map(|path| {
            std::fs::metadata(&path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt as _;
                (m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.ctime_nsec())
            })
        })
    };
    let mut seen = look(&state);
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let now = look(&state);
        if now != seen {
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || state.reload()).await;
            // What was taken (or refused) is what the files held then.
            seen = now;
        }
    }
}

/// Accept connections on `bound` until told to stop; return the
/// connections still open, for the run loop to drain.
async fn accept(
    bound: Bound,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> JoinSet<()> {
    let mut open: JoinSet<()> = JoinSet::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = stopping.changed() => break,
            Some(_) = open.join_next(), if !open.is_empty() => continue,
            accepted = accept_one(&bound) => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Past the cap, a connection is closed at once: file descriptors
        // are left for the ones being served.
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!("{MAX_CONNECTIONS} connections are open; closing a new one");
            continue;
        };
        let (state, tls, stopping) = (state.clone(), tls.clone(), stopping.clone());
        open.spawn(async move {
            let _permit = permit;
            match (stream, tls) {
                (Stream::Tcp(s), Some(tls)) => {
                    match tokio::time::timeout(HANDSHAKE, tls.accept(s)).await {
                        Err(_) => tracing::debug!("a TLS handshake took longer than {HANDSHAKE:?}"),
                        Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
                        Ok(Ok(s)) => {
                            let certificate = tls::identity(s.get_ref().1);
                            let peer = Peer::Tcp { certificate };
                            serve_connection(s, peer, state, stopping).await;
                        }
                    }
                }
                (Stream::Tcp(s), None) => serve_connection(s, peer, state, stopping).await,
                (Stream::Unix(s), _) => serve_connection(s, peer, state, stopping).await,
            }
        });
    }
    open
}

enum Stream {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

async fn accept_one(bound: &Bound) -> std::io::Result<(Stream, Peer)> {
    match bound {
        Bound::Unix(l, _) => {
            let (s, _) = l.accept().await?;
            let uid = s.peer_cred()?.uid();
            Ok((Stream::Unix(s), Peer::Unix { uid }))
        }
        Bound::Tcp(l) => {
            let (s, _) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((Stream::Tcp(s), Peer::Tcp { certificate: None }))
        }
    }
}

/// HTTP/1.1 or HTTP/2 on one connection, until it closes or the server
/// stops (then gracefully: the requests in flight are answered).
async fn serve_connection<S>(
    stream: S,
    peer: Peer,
    state: Arc<State>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request| {
        let (state, peer) = (state.clone(), peer.clone());
        async move { Ok::<_, std::convert::Infallible>(api::handle(&state, &peer, request).await) }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = &mut connection => {}
        _ = stopping.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Bind `listen`: a TCP address, or a Unix socket created with its final
/// permission under a temporary name and then moved into place, so that
/// it is never open to others for a moment.
fn bind_one(listen: &Listen, group: Option<u32>) -> Result<Bound, ServeError> {
    let failed = |source: std::io::Error| ServeError::Listen {
        listen: listen.clone(),
        source,
    };
    match listen {
        Listen::Tcp(addr) => {
            let std = std::net::TcpListener::bind(addr).map_err(failed)?;
            std.set_nonblocking(true).map_err(failed)?;
            TcpListener::from_std(std).map(Bound::Tcp).map_err(failed)
        }
        Listen::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                use std::os::unix::fs::FileTypeExt as _;
                if !meta.file_type().is_socket() {
                    return Err(failed(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "a file that is not a socket is in the way; remove it or choose another path",
                    )));
                }
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(failed(std::io::Error::new(
                        std::io::ErrorKind::AddrInUse,
                        "another server answers on it",
                    )));
                }
            }
            // Made in a directory only this user can search, given its
            // mode there, then moved into place: nobody else can connect
            // before the mode is set.
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let staging = tempfile_dir(parent).map_err(failed)?;
            let fresh = staging.join("socket");
            let listener = UnixListener::bind(&fresh).map_err(failed)?;
            let mode = if group.is_some() { 0o660 } else { 0o600 };
            let placed = std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(mode))
                .and_then(|()| match group {
                    Some(gid) => {
                        rustix::fs::chown(&fresh, None, Some(rustix::process::Gid::from_raw(gid)))
                            .map_err(std::io::Error::from)
                    }
                    None => Ok(()),
                })
                .and_then(|()| std::fs::rename(&fresh, path));
            let _ = std::fs::remove_file(&fresh);
            let _ = std::fs::remove_dir(&staging);
            placed.map_err(failed)?;
            Ok(Bound::Unix(listener, path.clone()))
        }
    }
}

/// A new directory in `parent`, mode 0700.
fn tempfile_dir(parent: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt as _;
    let mut attempt = 0u32;
    loop {
        let dir = parent.join(format!(".airlock-sock-{}-{attempt}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1
            }
            other => return other.map(|()| dir),
        }
    }
}
