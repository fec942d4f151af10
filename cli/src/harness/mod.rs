//! `airlock test`: run an action against a file of cases, each with its
//! input, the output or error it should give, stand-ins for the HTTP
//! exchanges it should make, and the capabilities it should use.
//!
//! Each case is a real run on a real host, as a development run: the
//! component is neither approved nor signed, so the policy must be one for
//! development (`allow_dev = true`), or absent. The host's policy is that
//! policy with, for the case: its configuration values; a test value for
//! every declared secret (the case's, else `test-NAME`), never the
//! policy's own source; every stood-in host mapped to a stand-in on
//! 127.0.0.1 whose certificate authority it trusts; and an audit log of
//! the session's own, from which the capabilities a run used are read.

mod standin;

use super::{exit, fail};
use airlock::report::Code;
use airlock::rules::config::ConfigValue;
use airlock::rules::manifest::{Manifest, section};
use airlock::rules::net::HostAddr;
use airlock::rules::net::sensitive::Sensitive;
use airlock::rules::policy::{AuditConfig, SecretSource};
use airlock::{Host, Policy};
use airlock_rules::opfile;
use serde::Deserialize;
use serde_json::Value;
use standin::{Exchange, StandIns};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

/// Run an action against a file of test cases and report each one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component to test (default: the one action of the policy).
    component: Option<PathBuf>,
    /// The cases.
    #[arg(long, default_value = "tests/cases.toml")]
    cases: PathBuf,
    /// A development policy for mounts, limits and configuration (none is
    /// needed).
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
}

/// The cases file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

/// One case.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default = "empty_object")]
    input: Value,
    /// The output it must give, exactly.
    output: Option<Value>,
    /// Text the action's error must contain.
    error: Option<String>,
    /// The outcome code the run must end with (`ok`, `action_failed`,
    /// `timeout`, …; default `ok`, or `action_failed` with `error`).
    code: Option<String>,
    /// Configuration values for this case.
    #[serde(default)]
    config: BTreeMap<String, ConfigValue>,
    /// Test values of declared secrets.
    #[serde(default)]
    secrets: BTreeMap<String, String>,
    /// The exchanges it should make, answered by the stand-ins.
    #[serde(default)]
    http: Vec<Exchange>,
    /// The origins it must contact, all of them (checked when given).
    hosts: Option<Vec<String>>,
    /// The secrets it must have filled into requests (checked when given).
    secrets_sent: Option<Vec<String>>,
    /// The files it must have written, as the action named them (checked
    /// when given).
    files_written: Option<Vec<String>>,
    /// Text each refusal the run meets must contain, one entry a refusal;
    /// any other refusal fails the case.
    #[serde(default)]
    refused: Vec<String>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Run `args`.
pub fn run(args: Args) -> u8 {
    match Session::open(&args).and_then(|s| s.run_all()) {
        Ok(true) => exit::OK,
        Ok(false) => exit::ACTION_ERROR,
        Err(e) => fail(exit::USAGE, e),
    }
}

/// What every case of one `airlock test` shares.
struct Session {
    cases: Vec<Case>,
    policy: Policy,
    component: PathBuf,
    manifest: Manifest,
    stand_ins: StandIns,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Session {
    fn open(args: &Args) -> Result<Session, String> {
        let text = opfile::read_operator_text(&args.cases, opfile::POLICY_MAX, "cases file")
            .map_err(|e| format!("cannot read {}: {e}", args.cases.display()))?;
        let document = args.cases.display().to_string();
        let cases: Cases =
            airlock_rules::doc::from_toml(&document, &text).map_err(|e| e.to_string())?;
        let policy = match Policy::load(&args.config) {
            Ok(p) if p.trust.allow_dev => p,
            Ok(_) => {
                return Err(format!(
                    "{} is not a development policy: airlock test runs builds that are neither \
                     approved nor signed, so it needs allow_dev = true under [trust] (or no \
                     policy at all)",
                    args.config.display()
                ));
            }
            Err(_) if !args.config.exists() => Policy::empty("airlock-audit.jsonl"),
            Err(e) => return Err(e.to_string()),
        };
        let component = match (&args.component, one_action_path(&policy)) {
            (Some(path), _) => path.clone(),
            (None, Some(path)) => path,
            (None, None) => {
                return Err(
                    "name the component to test: the policy does not have exactly one action \
                     with a path"
                        .into(),
                );
            }
        };
        let bytes = opfile::read_operator_file(&component, opfile::COMPONENT_MAX, "component")
            .map_err(|e| format!("cannot read {}: {e} (build it first)", component.display()))?;
        let origin = component.display().to_string();
        let manifest = section::extract(&bytes)
            .map_err(|e| format!("{origin}: {e}"))
            .and_then(|text| {
                Manifest::parse(&format!("manifest of {origin}"), text).map_err(|e| e.to_string())
            })?;
        for case in &cases.case {
            for x in &case.http {
                if standin::origin_parts(&x.origin)
                    .is_none_or(|(_, host)| host.parse::<std::net::IpAddr>().is_ok())
                {
                    return Err(format!(
                        "case `{}`: {} cannot be stood in for: give an origin with a host name",
                        case.name, x.origin
                    ));
                }
            }
        }
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot make a scratch directory: {e}"))?;
        // The session's log gets a key of its own, made here.
        let key = airlock_audit::note::SigningKey::generate("airlock.test/session")
            .map_err(|e| e.to_string())?;
        airlock_audit::write_key_pair(&key, &dir.path().join("session.key"))
            .map_err(|e| e.to_string())?;
        let names: BTreeSet<String> = https_hosts(&cases.case);
        let names: Vec<String> = names.into_iter().collect();
        let stand_ins = StandIns::start(&names, &dir.path().join("stand-in-ca.pem"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Session {
            cases: cases.case,
            policy,
            component,
            manifest,
            stand_ins,
            dir,
            runtime,
        })
    }

    /// Run every case, print each result; whether all passed.
    fn run_all(&self) -> Result<bool, String> {
        let mut failed = 0;
        for case in &self.cases {
            let started = Instant::now();
            let problems = self.run_case(case)?;
            let ms = started.elapsed().as_millis();
            if problems.is_empty() {
                println!("ok    {} ({ms} ms)", case.name);
            } else {
                failed += 1;
                println!("FAIL  {} ({ms} ms)", case.name);
                for p in problems {
                    println!("      {p}");
                }
            }
        }
        let passed = self.cases.len() - failed;
        println!("{passed} passed, {failed} failed");
        Ok(failed == 0)
    }

    /// Run one case: what does not hold, in plain words.
    fn run_case(&self, case: &Case) -> Result<Vec<String>, String> {
        let name = &self.manifest.action.name;
        let mut policy = self.policy.clone();
        // The host's own log and checkpoints, kept out of the project.
        policy.audit = AuditConfig::at(self.dir.path().join("airlock-audit.jsonl"));
        policy.audit.key = Some(self.dir.path().join("session.key"));
        // The policy is one for development, or there is none (checked when
        // the session opened).
        policy.trust.allow_dev = true;
        let action = policy.actions.entry(name.clone()).or_insert_with(|| {
            airlock::rules::policy::ActionSource {
                path: None,
                require_signature: Some(false),
                config: BTreeMap::new(),
            }
        });
        action.config.extend(case.config.clone());
        for secret in self.manifest.capabilities.secrets.keys() {
            let value = case
                .secrets
                .get(secret)
                .cloned()
                .unwrap_or_else(|| format!("test-{secret}"));
            let file = self.dir.path().join(format!("secret-{secret}"));
            std::fs::write(&file, value).map_err(|e| format!("cannot write a test secret: {e}"))?;
            policy
                .secrets
                .insert(secret.clone(), SecretSource::File(file));
        }
        for (scheme, host) in all_origins(&self.cases) {
            let addr = HostAddr::Socket(self.stand_ins.addr(scheme));
            let host =
                airlock::rules::net::normalize_name(host).map_err(|e| format!("{host}: {e}"))?;
            policy.network.hosts.insert(host, vec![addr]);
        }
        policy.network.forbid.remove(&Sensitive::Loopback);
        policy
            .network
            .allow_private
            .push("127.0.0.1/32".parse().map_err(|e: String| e)?);
        policy
            .network
            .ca_certs
            .push(self.dir.path().join("stand-in-ca.pem"));
        self.stand_ins.expect(case.http.clone());

        // A cache of the session's own: the component is compiled once for
        // all its cases, and nothing is left behind (its files are bound
        // to the session's key, which no later session has).
        let cache = airlock::compile::CompileCache::open(
            &self.dir.path().join("compiled"),
            cap_std::ambient_authority(),
        )
        .map_err(|e| e.to_string())?;
        let host = Host::builder(policy)
            .compile_cache(cache)
            .instance_pool(false)
            .seal_in_background(false)
            .compiler(super::compiler()?)
            .build()
            .map_err(|e| e.to_string())?;
        let input = case.input.to_string();
        let result = host
            .load_dev(&self.component)
            .and_then(|action| self.runtime.block_on(action.invoke(&input)));
        let _ = host.seal();
        let mut problems = Vec::new();
        let (code, run) = match &result {
            Ok(outcome) => (
                match &outcome.result {
                    Ok(_) => "ok".to_owned(),
                    Err(failure) => Code::of_failure(failure).to_string(),
                },
                Some(outcome.run.clone()),
            ),
            Err(e) => (Code::of_error(e).to_string(), None),
        };
        let want_code = case
            .code
            .clone()
            .unwrap_or_else(|| match case.error.is_some() {
                true => Code::ActionFailed.to_string(),
                false => "ok".to_owned(),
            });
        if code != want_code {
            let why = match &result {
                Ok(o) => match &o.result {
                    Ok(out) => format!("output {out}"),
                    Err(f) => f.to_string(),
                },
                Err(e) => e.to_string(),
            };
            problems.push(format!("ended {code}, expected {want_code}: {why}"));
        }
        if let Ok(outcome) = &result {
            match (&outcome.result, &case.output, &case.error) {
                (Ok(out), Some(want), _) => {
                    let got: Value = serde_json::from_str(out).unwrap_or(Value::Null);
                    if &got != want {
                        problems.push(format!("output {got}, expected {want}"));
                    }
                }
                (Err(airlock::Failure::Action(message)), _, Some(want))
                    if !message.contains(want.as_str()) =>
                {
                    problems.push(format!("error {message:?} does not contain {want:?}"));
                }
                _ => {}
            }
            let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
            for reason in &reasons {
                if !case
                    .refused
                    .iter()
                    .any(|want| reason.contains(want.as_str()))
                {
                    problems.push(format!("refused: {reason}"));
                }
            }
            for want in &case.refused {
                if !reasons.iter().any(|r| r.contains(want.as_str())) {
                    problems.push(format!("no refusal containing {want:?}"));
                }
            }
        }
        let used = run
            .map(|run| self.used(&run))
            .transpose()?
            .unwrap_or_default();
        let check = |what: &str, want: &Option<Vec<String>>, got: &BTreeSet<String>| {
            let want: BTreeSet<String> = want.as_ref()?.iter().cloned().collect();
            (&want != got).then(|| format!("{what} {got:?}, expected {want:?}"))
        };
        problems.extend(check("contacted", &case.hosts, &used.hosts));
        problems.extend(check("filled secrets", &case.secrets_sent, &used.secrets));
        problems.extend(check("wrote", &case.files_written, &used.files));

        let received = self.stand_ins.received();
        for (i, x) in case.http.iter().enumerate() {
            let answered: Vec<_> = received
                .iter()
                .filter(|r| r.answered_by == Some(i))
                .collect();
            if answered.is_empty() {
                problems.push(format!("no request {} {}{}", x.method, x.origin, x.path));
            }
            for text in &x.request_contains {
                if !answered.iter().any(|r| r.text.contains(text.as_str())) {
                    problems.push(format!(
                        "the request {} {}{} does not contain {text:?}",
                        x.method, x.origin, x.path
                    ));
                }
            }
        }
        for r in received.iter().filter(|r| r.answered_by.is_none()) {
            problems.push(format!(
                "unexpected request {} {}://{}{} (no [[case.http]] stands in for it)",
                r.method, r.scheme, r.host, r.target
            ));
        }
        Ok(problems)
    }

    /// What the run `run` used, from its records in the session's log.
    fn used(&self, run: &str) -> Result<Used, String> {
        let log = self.dir.path().join("airlock-audit.jsonl");
        let text = std::fs::read_to_string(&log)
            .map_err(|e| format!("cannot read the session's audit log: {e}"))?;
        let mut used = Used::default();
        for record in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            if record["run"] != run || record["decision"] != "allow" {
                continue;
            }
            let field = |k: &str| record[k].as_str().unwrap_or_default().to_owned();
            match record["event"].as_str() {
                Some("net.request") if record["phase"] != "result" => {
                    let port = match (field("scheme").as_str(), record["port"].as_u64()) {
                        ("https", Some(443)) | ("http", Some(80)) | (_, None) => String::new(),
                        (_, Some(p)) => format!(":{p}"),
                    };
                    used.hosts
                        .insert(format!("{}://{}{port}", field("scheme"), field("host")));
                    for s in record["secrets"].as_array().into_iter().flatten() {
                        used.secrets.extend(s.as_str().map(str::to_owned));
                    }
                }
                Some("file.open") if record["phase"] == "intent" => {
                    used.files.insert(field("target"));
                }
                _ => {}
            }
        }
        Ok(used)
    }
}

/// The capabilities one run used.
#[derive(Default)]
struct Used {
    hosts: BTreeSet<String>,
    secrets: BTreeSet<String>,
    files: BTreeSet<String>,
}

/// The policy's one action's component, when it has exactly one with a
/// path.
fn one_action_path(policy: &Policy) -> Option<PathBuf> {
    let mut paths = policy.actions.values().filter_map(|a| a.path.clone());
    let first = paths.next()?;
    paths.next().is_none().then_some(first)
}

/// Every `(scheme, host)` any case stands in for.
fn all_origins(cases: &[Case]) -> BTreeSet<(&'static str, &str)> {
    cases
        .iter()
        .flat_map(|c| &c.http)
        .filter_map(|x| standin::origin_parts(&x.origin))
        .map(|(scheme, host)| (if scheme == "https" { "https" } else { "http" }, host))
        .collect()
}

/// Every host any case stands in for over HTTPS.
fn https_hosts(cases: &[Case]) -> BTreeSet<String> {
    all_origins(cases)
        .into_iter()
        .filter(|(s, _)| *s == "https")
        .map(|(_, h)| h.to_owned())
        .collect()
}
