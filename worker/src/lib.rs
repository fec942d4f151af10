//! airlock as a Temporal activity worker: workflows in any language run
//! third-party actions as activities, and each run is fenced and recorded
//! by airlock exactly as `airlock run` and `airlock serve` do.
//!
//! A worker polls one task queue for the activity `airlock.invoke`, whose
//! input is `{"action": NAME, "input": JSON}` (and optionally
//! `"timeout_ms"`, which can only shorten the grant's time limit). It
//! returns the action's JSON output, or fails with an application error
//! whose type is the run's stable outcome code (`docs/outcome.md`) and
//! whose details are the whole outcome ([`airlock::report::Report`]):
//!
//! | outcome | Temporal sees |
//! |---|---|
//! | `ok` | the action's output |
//! | `action_error` | retryable, unless the action's error is a JSON object with `"retryable": false` |
//! | `refused` (not approved, drift, bad signature, unknown action, bad input, ...) | non-retryable |
//! | `limit` (time, memory, output, refusals, a trap) | non-retryable |
//! | `cancelled` | the activity is cancelled |
//! | `host_fault` (the audit log cannot be written, the engine failed) | retryable, on another worker: this one stops polling |
//!
//! A `timeout` set by the attempt's own deadline is retryable, as
//! Temporal's own timeout is. Every attempt leaves one record: its run's,
//! or a `run.refused` when it started none (a malformed call, a refused
//! action, an attempt cancelled or out of time before its run).
//!
//! Temporal's names for the attempt (namespace, workflow id and run id,
//! workflow type, activity id, attempt, task queue, worker identity) are
//! recorded in the run's `run.start` (or `run.refused`) as its `context`,
//! and the airlock run id travels back in heartbeats and failure details,
//! so either history leads to the other.
//!
//! Every worker process writes its own audit log: the policy's `[audit]`
//! settings, moved under the worker's instance name
//! ([`airlock::rules::policy::AuditConfig::for_instance`]).

mod activity;

use airlock::compile::{CompileCache, Compiler};
use airlock::rules::policy::Policy;
use airlock::{Host, report};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions, Url,
};
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
use temporalio_sdk::{Runtime, Worker as SdkWorker, WorkerOptions};
use zeroize::Zeroizing;

/// The activity type a workflow schedules.
pub const ACTIVITY: &str = "airlock.invoke";

/// What a worker connects to, polls and enforces.
pub struct Config {
    /// The Temporal frontend: `HOST:PORT`, or an `http://` / `https://` URL.
    pub temporal: String,
    /// The Temporal namespace.
    pub namespace: String,
    /// The task queue to poll for `airlock.invoke`.
    pub task_queue: String,
    /// The policy (`airlock.toml`); its lock is found through it.
    pub policy: PathBuf,
    /// This worker's name among the workers that share the policy: its
    /// audit log is the policy's, moved under this name.
    pub instance: String,
    /// The identity Temporal records for this worker; default
    /// `airlock@<host>/<instance>`.
    pub identity: Option<String>,
    /// Activities run at once; more wait in Temporal's queue.
    pub concurrency: usize,
    /// On shutdown, how long in-flight activities may take before they are
    /// cancelled (each cancellation is recorded).
    pub grace: Duration,
    /// TLS to the frontend; with `api_key` and no `tls`, TLS with the
    /// system's roots. Either refuses an `http://` address.
    pub tls: Option<Tls>,
    /// An API key for the frontend (Temporal Cloud's way), sent on every
    /// call; never logged.
    pub api_key: Option<Zeroizing<String>>,
    /// Where components are compiled.
    pub compiler: Compiler,
    /// The compile cache, if any.
    pub compile_cache: Option<CompileCache>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("temporal", &self.temporal)
            .field("namespace", &self.namespace)
            .field("task_queue", &self.task_queue)
            .field("policy", &self.policy)
            .field("instance", &self.instance)
            .field("identity", &self.identity)
            .field("concurrency", &self.concurrency)
            .field("grace", &self.grace)
            .field("tls", &self.tls)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// TLS to the Temporal frontend, as PEM bytes (read by the caller).
#[derive(Clone)]
pub struct Tls {
    /// Roots to trust for the server's certificate; default the system's.
    pub ca: Option<Vec<u8>>,
    /// The name the server's certificate must carry, if not the address's
    /// host.
    pub domain: Option<String>,
    /// A client certificate and its key, for mutual TLS.
    pub client: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca", &self.ca.is_some())
            .field("domain", &self.domain)
            .field("client", &self.client.is_some())
            .finish()
    }
}

/// Why a worker could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The configuration cannot be used: fix it.
    #[error("{0}")]
    Config(String),
    /// The policy, its lock or the audit log could not be used.
    #[error("{0}")]
    Host(String),
    /// The Temporal frontend could not be reached, or refused the worker.
    #[error("{0}")]
    Temporal(String),
    /// A fault of the worker's own (its audit log, its engine, a mount)
    /// ended a run; it stopped taking activities so that healthy workers
    /// get them.
    #[error("{0}; this worker stopped taking activities")]
    OwnFault(String),
}

/// A worker connected to Temporal, with its host built: [`Worker::run`]
/// polls until told to stop.
pub struct Worker {
    host: Host,
    runtime: Runtime,
    client: Client,
    options: Option<WorkerOptions>,
    faults: Arc<activity::Faults>,
    inflight: Arc<activity::Inflight>,
    grace: Duration,
    identity: String,
    task_queue: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("identity", &self.identity)
            .field("task_queue", &self.task_queue)
            .field("audit_log", &self.host.audit_log())
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Load the policy and lock, open this instance's audit log, and
    /// connect to Temporal. Must be called within a Tokio runtime.
    pub async fn connect(config: Config) -> Result<Worker, WorkerError> {
        let mut policy =
            Policy::load(&config.policy).map_err(|e| WorkerError::Host(e.to_string()))?;
        policy.audit = policy
            .audit
            .for_instance(&config.instance)
            .map_err(|e| WorkerError::Config(format!("--instance: {e}")))?;
        if config.concurrency == 0 {
            return Err(WorkerError::Config(
                "--concurrency must be at least 1".into(),
            ));
        }
        let mut builder = Host::builder(policy).compiler(config.compiler.clone());
        if let Some(cache) = config.compile_cache {
            builder = builder.compile_cache(cache);
        }
        let host = builder.build().map_err(|e| match e {
            airlock::Error::Audit(airlock::audit::AuditError::Busy(_)) => WorkerError::Host(format!(
                "{}: another process writes this instance's audit log; give each worker its own \
                 --instance",
                report::chain(&e)
            )),
            e => WorkerError::Host(report::chain(&e)),
        })?;

        let identity = config.identity.clone().unwrap_or_else(|| {
            let host = gethostname::gethostname().to_string_lossy().into_owned();
            format!("airlock@{host}/{}", config.instance)
        });
        let secure = config.tls.is_some() || config.api_key.is_some();
        let target = target_url(&config.temporal, secure)?;
        let tls = match config.tls {
            Some(tls) => {
                let client = tls.client.map(|(cert, key)| {
                    ClientTlsOptions::builder()
                        .client_cert(cert)
                        .client_private_key(key.to_vec())
                        .build()
                });
                Some(
                    TlsOptions::builder()
                        .maybe_server_root_ca_cert(tls.ca)
                        .maybe_domain(tls.domain)
                        .maybe_client_tls_options(client)
                        .build(),
                )
            }
            // An API key only over TLS, with the system's roots.
            None if config.api_key.is_some() => Some(TlsOptions::default()),
            None => None,
        };
        let connection = ConnectionOptions::new(target.clone())
            .identity(identity.clone())
            .maybe_tls_options(tls)
            .maybe_api_key(config.api_key.as_ref().map(|k| k.to_string()))
            .connect_timeout(Duration::from_secs(10))
            .build();
        let connection = Connection::connect(connection).await.map_err(|e| {
            WorkerError::Temporal(format!(
                "cannot connect to Temporal at {target}: {}",
                report::chain(&e)
            ))
        })?;
        let client = Client::new(
            connection,
            ClientOptions::new(config.namespace.clone()).build(),
        )
        .map_err(|e| WorkerError::Temporal(format!("cannot make a Temporal client: {e}")))?;
        let runtime = Runtime::from_current_tokio(Default::default()).map_err(|e| {
            WorkerError::Temporal(format!("cannot start the Temporal runtime: {e}"))
        })?;

        let faults = Arc::new(activity::Faults::default());
        let inflight = Arc::new(activity::Inflight::default());
        let activities = activity::AirlockActivities::new(
            host.clone(),
            identity.clone(),
            faults.clone(),
            inflight.clone(),
        );
        let options = WorkerOptions::new(config.task_queue.clone())
            .register_activities(activities)
            .tuner(slots(config.concurrency))
            .client_identity_override(identity.clone())
            .graceful_shutdown_period(config.grace)
            .build();
        Ok(Worker {
            host,
            runtime,
            client,
            options: Some(options),
            faults,
            inflight,
            grace: config.grace,
            identity,
            task_queue: config.task_queue,
        })
    }

    /// The identity Temporal records for this worker.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The audit log this worker writes.
    pub fn audit_log(&self) -> &std::path::Path {
        self.host.audit_log()
    }

    /// Poll and run activities until `stop` completes; then stop polling,
    /// let in-flight activities finish within the grace period (cancelling
    /// what outlasts it), and seal the audit log. If a fault of the
    /// worker's own ends a run, it stops polling at once and returns
    /// [`WorkerError::OwnFault`]; whatever ends it, each run still in
    /// flight is cancelled and its end recorded before the seal.
    pub async fn run(
        mut self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let options = self
            .options
            .take()
            .ok_or_else(|| WorkerError::Config("the worker has already run".into()))?;
        let mut worker = SdkWorker::new(&self.runtime, self.client.clone(), options)
            .map_err(|e| WorkerError::Temporal(format!("cannot start the worker: {e}")))?;
        let shutdown = worker.shutdown_handle();
        let faults = self.faults.clone();
        let watcher = tokio::spawn(async move {
            tokio::select! {
                () = stop => {}
                () = faults.failed() => {}
            }
            shutdown();
        });
        let ran = worker.run().await;
        watcher.abort();
        // A worker that stopped on an error of its own has not waited for
        // its activities: end each run (recorded) before the log is sealed.
        if !self.inflight.end_all(self.grace).await {
            tracing::error!(
                "runs still in flight after the grace period: their ends are not recorded"
            );
        }
        let sealed = self.host.seal();
        if let Some(why) = self.faults.failure() {
            return Err(WorkerError::OwnFault(why));
        }
        ran.map_err(|e| {
            WorkerError::Temporal(format!("the worker stopped: {}", report::chain(&e)))
        })?;
        sealed.map_err(|e| {
            WorkerError::Host(format!("cannot seal the audit log: {}", report::chain(&e)))
        })
    }
}

/// A worker's slots: `concurrency` tasks of each kind at once (it polls
/// only for activities).
pub fn slots(concurrency: usize) -> TunerHolder {
    let fixed = || FixedSizeSlotSupplier::new(concurrency);
    TunerHolder::builder()
        .workflow_task_slot_supplier(fixed())
        .activity_task_slot_supplier(fixed())
        .local_activity_task_slot_supplier(fixed())
        .nexus_task_slot_supplier(fixed())
        .build()
}

/// The frontend's URL: `HOST:PORT` gets `http://`, or `https://` when TLS
/// is on (TLS flags or an API key); a URL whose scheme says otherwise is
/// refused: an API key would cross the network in the clear and the server
/// would go unchecked, or TLS was asked for without saying whose roots.
fn target_url(temporal: &str, tls: bool) -> Result<Url, WorkerError> {
    let text = if temporal.contains("://") {
        temporal.to_owned()
    } else if tls {
        format!("https://{temporal}")
    } else {
        format!("http://{temporal}")
    };
    let url = Url::parse(&text).map_err(|e| {
        WorkerError::Config(format!(
            "--temporal {temporal:?} is not HOST:PORT or a URL: {e}"
        ))
    })?;
    match (url.scheme(), tls) {
        ("https", true) | ("http", false) => Ok(url),
        ("http", true) => Err(WorkerError::Config(format!(
            "--temporal {temporal:?} is plain http://, but TLS or an API key was given: use \
             https:// or HOST:PORT"
        ))),
        ("https", false) => Err(WorkerError::Config(format!(
            "--temporal {temporal:?} is https://: give --tls (the system's roots) or --tls-ca"
        ))),
        (other, _) => Err(WorkerError::Config(format!(
            "--temporal {temporal:?}: the scheme {other:?} is not http or https"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frontend_address_becomes_a_url_with_the_scheme_tls_implies() {
        let url = |t, tls| target_url(t, tls).map(|u| u.to_string());
        assert_eq!(
            url("127.0.0.1:7233", false).unwrap(),
            "http://127.0.0.1:7233/"
        );
        assert_eq!(
            url("example.tmprl.cloud:7233", true).unwrap(),
            "https://example.tmprl.cloud:7233/"
        );
        assert_eq!(
            url("https://[::1]:7233", true).unwrap(),
            "https://[::1]:7233/"
        );
        assert_eq!(
            url("http://[::1]:7233", false).unwrap(),
            "http://[::1]:7233/"
        );
        let refused = [
            ("no port at all:x", false, "is not HOST:PORT or a URL"),
            // An API key or TLS flags never go out over plain HTTP...
            ("http://temporal.internal:7233", true, "is plain http://"),
            // ...and https:// says nothing of whose roots to trust.
            ("https://temporal.internal:7233", false, "give --tls"),
            ("ftp://temporal.internal:7233", true, "is not http or https"),
        ];
        for (address, tls, expected) in refused {
            let e = url(address, tls).unwrap_err().to_string();
            assert!(e.contains(expected), "{address}: {e}");
        }
    }
}
