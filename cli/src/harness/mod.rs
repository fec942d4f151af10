//! `airlock test`: run an action against a file of cases, each with its
//! input, the output or error it should give, stand-ins for the HTTP
//! exchanges it should make, and the capabilities it should use.
//!
//! Each case is a real run on a real host, as a development run: the
//! component is neither approved nor signed, so the policy must be one for
//! development (`allow_dev = true`), or absent. The host's policy is that
//! policy with, for the case: its configuration values; a test value for
//! every declared secret (the case's, else `test-NAME`) and no other
//! secret, never the policy's own sources; every host name the manifest
//! declares mapped to a stand-in on a loopback address of the session's
//! own, whose certificate authority it trusts, and that address (only)
//! allowed; and an audit log of the session's own, from which the
//! capabilities a run used are read. A request no stand-in answers fails
//! the case, and so does one that left for a host the stand-ins do not
//! cover (a wildcard or an address grant).

mod standin;

use super::{exit, fail};
use airlock::report::Code;
use airlock::rules::config::ConfigValue;
use airlock::rules::manifest::{Manifest, section};
use airlock::rules::net::addr::IpBlock;
use airlock::rules::net::sensitive::Sensitive;
use airlock::rules::net::{HostAddr, HostPattern, Origin, Scheme};
use airlock::rules::policy::{AuditConfig, SecretSource};
use airlock::{Host, Policy};
use airlock_rules::doc::one_line;
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
    origin: String,
    component: Vec<u8>,
    manifest: Manifest,
    /// Every host name the stand-ins answer for, with its scheme.
    stood_in: BTreeMap<String, Scheme>,
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
        if policy.network.forbid.contains(&Sensitive::Loopback) {
            return Err(format!(
                "{} forbids loopback addresses, where airlock test's stand-ins listen: test under \
                 a development policy without forbid = [\"loopback\"]",
                args.config.display()
            ));
        }
        let path = match (&args.component, one_action_path(&policy)) {
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
        // Read once: every case runs these bytes, whatever a rebuild does.
        let component = opfile::read_operator_file(&path, opfile::COMPONENT_MAX, "component")
            .map_err(|e| format!("cannot read {}: {e} (build it first)", path.display()))?;
        let origin = path.display().to_string();
        let manifest = section::extract(&component)
            .map_err(|e| format!("{origin}: {e}"))
            .and_then(|text| {
                Manifest::parse(&format!("manifest of {origin}"), text).map_err(|e| e.to_string())
            })?;
        let stood_in = stood_in(&manifest, &cases.case)?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot make a scratch directory: {e}"))?;
        // The session's log gets a key of its own, made here.
        let key = airlock_audit::note::SigningKey::generate("airlock.test/session")
            .map_err(|e| e.to_string())?;
        airlock_audit::write_key_pair(&key, &dir.path().join("session.key"))
            .map_err(|e| e.to_string())?;
        let https: Vec<String> = stood_in
            .iter()
            .filter(|(_, s)| **s == Scheme::Https)
            .map(|(name, _)| name.clone())
            .collect();
        let stand_ins = StandIns::start(&https, &dir.path().join("stand-in-ca.pem"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Session {
            cases: cases.case,
            policy,
            origin,
            component,
            manifest,
            stood_in,
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
            let name = one_line(&case.name);
            if problems.is_empty() {
                println!("ok    {name} ({ms} ms)");
            } else {
                failed += 1;
                println!("FAIL  {name} ({ms} ms)");
                // What the action said is the action's text: one line each,
                // its control characters blanked.
                for p in problems {
                    println!("      {}", one_line(&p));
                }
            }
        }
        let passed = self.cases.len() - failed;
        println!("{passed} passed, {failed} failed");
        Ok(failed == 0)
    }

    /// The policy one case runs under.
    fn policy_for(&self, case: &Case) -> Result<Policy, String> {
        let mut policy = self.policy.clone();
        // The host's own log and checkpoints, kept out of the project.
        policy.audit = AuditConfig::at(self.dir.path().join("airlock-audit.jsonl"));
        policy.audit.key = Some(self.dir.path().join("session.key"));
        // The policy is one for development, or there is none (checked when
        // the session opened).
        policy.trust.allow_dev = true;
        let name = &self.manifest.action.name;
        let action = policy.actions.entry(name.clone()).or_insert_with(|| {
            airlock::rules::policy::ActionSource {
                path: None,
                source: None,
                require_signature: Some(false),
                require_sbom: None,
                config: BTreeMap::new(),
            }
        });
        action.config.extend(case.config.clone());
        // Test values only: none of the policy's own sources is read.
        policy.secrets.clear();
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
        for (host, scheme) in &self.stood_in {
            let addr = HostAddr::Socket(self.stand_ins.addr(*scheme));
            policy.network.hosts.insert(host.clone(), vec![addr]);
        }
        let ip = std::net::IpAddr::V4(self.stand_ins.ip());
        policy.network.allow_private.push(IpBlock::single(ip));
        policy
            .network
            .ca_certs
            .push(self.dir.path().join("stand-in-ca.pem"));
        Ok(policy)
    }

    /// Run one case: what does not hold, in plain words.
    fn run_case(&self, case: &Case) -> Result<Vec<String>, String> {
        let policy = self.policy_for(case)?;
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
            .load_dev_bytes(&self.component, &self.origin)
            .and_then(|action| self.runtime.block_on(action.invoke(&input)));
        let _ = host.seal();

        let mut problems = outcome_problems(case, &result);
        let used = match &result {
            Ok(outcome) => self.used(&outcome.run)?,
            Err(_) => Used::default(),
        };
        let check = |what: &str, want: &Option<Vec<String>>, got: &BTreeSet<String>| {
            let want: BTreeSet<String> = want.as_ref()?.iter().cloned().collect();
            (&want != got).then(|| format!("{what} {got:?}, expected {want:?}"))
        };
        problems.extend(check("contacted", &case.hosts, &used.hosts));
        problems.extend(check("filled secrets", &case.secrets_sent, &used.secrets));
        problems.extend(check("wrote", &case.files_written, &used.files));
        for (host, origin) in &used.names {
            if !self.stood_in.contains_key(host) {
                problems.push(format!(
                    "a request went to {origin}, which no stand-in covers (a wildcard or \
                     address grant reaches the network): stand in for it with [[case.http]]"
                ));
            }
        }
        problems.extend(self.exchange_problems(case));
        Ok(problems)
    }

    /// Each exchange the case lists that did not happen as it says, and
    /// each request no stand-in answered.
    fn exchange_problems(&self, case: &Case) -> Vec<String> {
        let mut problems = Vec::new();
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
        problems
    }

    /// What the run `run` used, from its records in the session's log.
    fn used(&self, run: &str) -> Result<Used, String> {
        let log = self.dir.path().join("airlock-audit.jsonl");
        let text = std::fs::read_to_string(&log)
            .map_err(|e| format!("cannot read the session's audit log: {e}"))?;
        let mut used = Used::default();
        for line in text.lines() {
            let record: Value = serde_json::from_str(line)
                .map_err(|e| format!("the session's audit log has a line that is not JSON: {e}"))?;
            if record["run"] != run || record["decision"] != "allow" {
                continue;
            }
            let field = |k: &str| record[k].as_str().unwrap_or_default().to_owned();
            // What was allowed: a single record, or the result of an
            // intent (whose intent record carries no decision).
            match record["event"].as_str() {
                Some("net.request") => {
                    let port = match (field("scheme").as_str(), record["port"].as_u64()) {
                        ("https", Some(443)) | ("http", Some(80)) | (_, None) => String::new(),
                        (_, Some(p)) => format!(":{p}"),
                    };
                    let origin = format!("{}://{}{port}", field("scheme"), field("host"));
                    used.names.insert((field("host"), origin.clone()));
                    used.hosts.insert(origin);
                    for s in record["secrets"].as_array().into_iter().flatten() {
                        used.secrets.extend(s.as_str().map(str::to_owned));
                    }
                }
                // Opened for writing, creating or truncating: the opens
                // that are intents.
                Some("file.open") if record["phase"] == "result" => {
                    used.files.insert(field("target"));
                }
                _ => {}
            }
        }
        Ok(used)
    }
}

/// Where the run's end differs from what the case expects: its code, its
/// output or error, and its refusals.
fn outcome_problems(case: &Case, result: &Result<airlock::Outcome, airlock::Error>) -> Vec<String> {
    let mut problems = Vec::new();
    let code = match result {
        Ok(outcome) => match &outcome.result {
            Ok(_) => "ok".to_owned(),
            Err(failure) => Code::of_failure(failure).to_string(),
        },
        Err(e) => Code::of_error(e).to_string(),
    };
    let want_code = case
        .code
        .clone()
        .unwrap_or_else(|| match case.error.is_some() {
            true => Code::ActionFailed.to_string(),
            false => "ok".to_owned(),
        });
    if code != want_code {
        let why = match result {
            Ok(o) => match &o.result {
                Ok(out) => format!("output {out}"),
                Err(f) => f.to_string(),
            },
            Err(e) => e.to_string(),
        };
        problems.push(format!("ended {code}, expected {want_code}: {why}"));
    }
    let Ok(outcome) = result else {
        return problems;
    };
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
    problems
}

/// The capabilities one run used.
#[derive(Default)]
struct Used {
    hosts: BTreeSet<String>,
    /// (host name, origin) of each request.
    names: BTreeSet<(String, String)>,
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

/// Every host name the stand-ins answer for, with its scheme: each one the
/// manifest declares (as an origin, or as a secret's audience), so that no
/// request to a declared name leaves the machine, and each one a case
/// stands in for. A case's origin must be a host name; a name is stood in
/// over one scheme.
fn stood_in(manifest: &Manifest, cases: &[Case]) -> Result<BTreeMap<String, Scheme>, String> {
    let caps = &manifest.capabilities;
    let declared = caps
        .network
        .iter()
        .chain(caps.secrets.values().flat_map(|s| &s.send_to))
        .cloned();
    let mut exchanges = Vec::new();
    for case in cases {
        for x in &case.http {
            let origin = Origin::parse(&x.origin)
                .map_err(|e| format!("case `{}`: {}: {e}", one_line(&case.name), x.origin))?;
            if !matches!(origin.host, HostPattern::Name(_)) {
                return Err(format!(
                    "case `{}`: {} cannot be stood in for: give an origin with a host name",
                    one_line(&case.name),
                    x.origin
                ));
            }
            exchanges.push(origin);
        }
    }
    let mut names = BTreeMap::new();
    for origin in declared.chain(exchanges) {
        let HostPattern::Name(name) = &origin.host else {
            continue;
        };
        if let Some(other) = names.insert(name.clone(), origin.scheme)
            && other != origin.scheme
        {
            return Err(format!(
                "{name} is used over both http and https: airlock test stands in for a name \
                 over one scheme"
            ));
        }
    }
    Ok(names)
}
