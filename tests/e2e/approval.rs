//! The vetting workflow through the library: an approved version runs; a
//! rebuild that asks for more is refused as capability drift until it is
//! approved; signatures are checked against the trusted publishers; a
//! malformed lock or signature is a clear error that changes nothing.

use airlock::rules::provenance::minisign::SecretKey;
use airlock::rules::provenance::trust::SignatureProblem;
use airlock::rules::provenance::{Digest, Lock};
use airlock::{Error, Host, Policy, Refusal};
use airlock_tests::{Setup, output, probe_manifest, probe_with};
use serde_json::json;
use std::path::Path;

fn refusal(result: Result<airlock::Action, Error>) -> Refusal {
    match result {
        Err(Error::Refused(r)) => r,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(action) => panic!("{} was accepted", action.digest()),
    }
}

fn signature_problem(result: Result<airlock::Action, Error>) -> SignatureProblem {
    match refusal(result) {
        Refusal::Signature { problem, .. } => problem,
        other => panic!("expected a signature refusal, got {other}"),
    }
}

/// A probe manifest of `version` asking for `network`.
fn probe_version(version: &str, network: &str) -> Vec<u8> {
    let manifest = probe_manifest(&format!("network = [{network}]"), "")
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""));
    probe_with(&manifest)
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_run_drift_reapprove_run() {
    let mut setup = Setup::new();
    let path = setup.action(
        "probe",
        &probe_version("1.0.0", "\"https://api.example.com\""),
    );
    let host = setup.host();
    let echo = json!({"op": "output", "bytes": 1}).to_string();
    let out = host.invoke("probe", &echo).await.unwrap();
    assert_eq!(output(&out), json!("x"), "version 1 is approved and runs");

    // Version 2 of the same action adds a host: the publisher signed it, but
    // nobody approved what it now asks for.
    std::fs::write(
        &path,
        probe_version(
            "1.1.0",
            "\"https://api.example.com\", \"https://telemetry.example.net\"",
        ),
    )
    .unwrap();
    setup.sign(&path);
    // One host writes a log at a time: the next one is built after it.
    drop(host);
    let host = setup.host();
    let r = refusal(host.action("probe"));
    let Refusal::Drift { changes, .. } = &r else {
        panic!("expected drift, got {r}");
    };
    assert_eq!(changes, &["new host https://telemetry.example.net"]);
    assert!(
        r.to_string()
            .ends_with("vet it and run `airlock approve probe`"),
        "{r}"
    );
    let refused = setup.events("run.refused");
    assert!(
        refused.last().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("capability drift): new host https://telemetry.example.net"),
        "{refused:?}"
    );

    // Approved, it runs.
    setup.approve(&path);
    drop(host);
    let host = setup.host();
    let out = host.invoke("probe", &echo).await.unwrap();
    assert_eq!(output(&out), json!("x"));
    assert_eq!(
        host.lock().get("probe").unwrap().version.to_string(),
        "1.1.0"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_narrower_than_the_manifest_is_drift() {
    // The approved digest, but the lock was edited to approve less than the
    // manifest asks for: the manifest is held to the lock.
    let mut setup = Setup::new();
    setup.action("probe", &probe_version("1.0.0", "\"https://a.example\""));
    let text = std::fs::read_to_string(setup.lock_path()).unwrap();
    let narrowed = text.replace("network = [\n    \"https://a.example\",\n]", "network = []");
    assert_ne!(narrowed, text);
    std::fs::write(setup.lock_path(), narrowed).unwrap();
    let host = setup.host();
    let r = refusal(host.action("probe"));
    assert!(
        matches!(&r, Refusal::Drift { changes, .. } if changes == &["new host https://a.example"]),
        "{r}"
    );
}

/// Replace the approved `probe` with one whose manifest asks for `limits`,
/// signed but not approved, and load it in a new host: its refusal.
fn rebuilt_with(setup: &Setup, path: &Path, limits: &str) -> Refusal {
    std::fs::write(path, probe_with(&probe_manifest("", limits))).unwrap();
    setup.sign(path);
    refusal(setup.host().action("probe"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raise_of_any_limit_is_drift() {
    // (approved [limits], rebuilt [limits], the change it is refused for)
    let cases: &[(&str, &str, &str)] = &[
        (
            "http_requests = 3",
            "http_requests = 1000",
            "http_requests rises from 3 to 1000",
        ),
        (
            "http_response_body = \"64 KiB\"",
            "http_response_body = \"512 MiB\"",
            "http_response_body rises from 64 KiB to 512 MiB",
        ),
        (
            "http_request_body = \"4 KiB\"",
            "http_request_body = \"16 MiB\"",
            "http_request_body rises from 4 KiB to 16 MiB",
        ),
        (
            "http_connect_timeout = \"2s\"",
            "http_connect_timeout = \"30s\"",
            "http_connect_timeout rises from 2s to 30s",
        ),
        (
            "http_first_byte_timeout = \"2s\"",
            "http_first_byte_timeout = \"1m\"",
            "http_first_byte_timeout rises from 2s to 1m",
        ),
        (
            "http_timeout = \"5s\"",
            "http_timeout = \"5m\"",
            "http_timeout rises from 5s to 5m",
        ),
        (
            "memory = \"16 MiB\"",
            "memory = \"128 MiB\"",
            "memory rises from 16 MiB to 128 MiB",
        ),
        (
            "timeout = \"1s\"",
            "timeout = \"30s\"",
            "timeout rises from 1s to 30s",
        ),
        (
            "output = \"1 KiB\"",
            "output = \"1 MiB\"",
            "output rises from 1 KiB to 1 MiB",
        ),
        // Absent, a limit was approved at the default a run gets.
        (
            "",
            "http_requests = 101",
            "http_requests rises from 100 to 101",
        ),
    ];
    for (approved, raised, change) in cases {
        let mut setup = Setup::new();
        let path = setup.probe("", approved);
        let r = rebuilt_with(&setup, &path, raised);
        let Refusal::Drift { changes, .. } = &r else {
            panic!("{raised} over {approved:?}: expected drift, got {r}");
        };
        assert_eq!(changes, &[*change], "{raised} over {approved:?}");
        // Approved, the same bytes load.
        setup.approve(&path);
        assert!(setup.host().action("probe").is_ok(), "{raised}");
    }
}

/// Rewrite the setup's lock as airlock wrote it before it recorded the
/// `http_*` limits: memory and timeout alone (at their defaults), inline.
fn as_before_the_http_limits(setup: &Setup) {
    let text = std::fs::read_to_string(setup.lock_path()).unwrap();
    let at = text.find("\n[action.limits]").unwrap();
    let old = format!(
        "{}limits = {{ memory = \"64 MiB\", timeout = \"10s\" }}\n",
        &text[..=at]
    );
    std::fs::write(setup.lock_path(), old).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_from_before_the_http_limits_holds_them_at_the_defaults() {
    let mut setup = Setup::new();
    let path = setup.probe("", "http_requests = 1000\nhttp_response_body = \"512 MiB\"");
    as_before_the_http_limits(&setup);

    // It loads; what it did not record is not taken to be approved.
    let host = setup.host();
    let r = refusal(host.action("probe"));
    let Refusal::Drift { changes, .. } = &r else {
        panic!("expected drift, got {r}");
    };
    assert_eq!(
        changes,
        &[
            "http_requests rises from 100 to 1000",
            "http_response_body rises from 8 MiB to 512 MiB"
        ]
    );
    drop(host);

    // An action that asks for no more than the defaults still runs.
    std::fs::write(&path, probe_with(&probe_manifest("", ""))).unwrap();
    setup.sign(&path);
    setup.approve(&path);
    as_before_the_http_limits(&setup);
    let out = setup
        .host()
        .invoke("probe", &json!({"op": "output", "bytes": 1}).to_string())
        .await
        .unwrap();
    assert_eq!(output(&out), json!("x"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_untrusted_and_missing_signatures_are_refused() {
    let mut setup = Setup::new();
    let path = setup.probe("", "");
    let sig_path = Path::new(&format!("{}.minisig", path.display())).to_path_buf();
    let good = std::fs::read_to_string(&sig_path).unwrap();

    // Tampered: one character of the signature line changed.
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    let flipped = if lines[1].as_bytes()[20] == b'A' {
        "B"
    } else {
        "A"
    };
    lines[1].replace_range(20..21, flipped);
    std::fs::write(&sig_path, lines.join("\n") + "\n").unwrap();
    let problem = signature_problem(setup.host().action("probe"));
    assert!(
        matches!(problem, SignatureProblem::Invalid { .. }),
        "{problem}"
    );
    assert!(
        problem
            .to_string()
            .contains("the file or its signature was changed")
    );

    // A signature whose trusted comment was edited.
    std::fs::write(&sig_path, good.replace("file:test component", "file:other")).unwrap();
    let problem = signature_problem(setup.host().action("probe"));
    assert!(
        problem.to_string().contains("trusted comment was changed"),
        "{problem}"
    );

    // Signed, validly, by a key nobody trusts.
    let stranger = SecretKey::generate().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&sig_path, stranger.sign(&bytes, "x").unwrap().to_text()).unwrap();
    let problem = signature_problem(setup.host().action("probe"));
    assert!(
        matches!(problem, SignatureProblem::UntrustedKey { key_id, .. } if key_id == stranger.id()),
        "{problem}"
    );

    // Not signed at all.
    std::fs::remove_file(&sig_path).unwrap();
    let host = setup.host();
    let problem = signature_problem(host.action("probe"));
    assert!(
        matches!(problem, SignatureProblem::Missing { .. }),
        "{problem}"
    );
    assert_eq!(setup.events("run.refused").len(), 4);
    assert!(setup.events("run.start").is_empty(), "nothing ran");

    // A malformed signature file is a clear error naming the file and line.
    std::fs::write(
        &sig_path,
        "untrusted comment: x\nnot a signature\ntrusted comment: y\nAAAA\n",
    )
    .unwrap();
    drop(host);
    let r = refusal(setup.host().action("probe"));
    assert!(
        r.to_string().contains(&format!(
            "{}: line 2: the signature is not base64",
            sig_path.display()
        )),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_party_action_may_opt_out_of_signatures() {
    let run = json!({"op": "output", "bytes": 2}).to_string();
    for opt_out in [
        "require_signature = false",          // in [actions.probe]
        "[trust]\nrequire_signature = false", // for every action
    ] {
        let mut setup = Setup::new();
        let path = setup.probe("", "");
        std::fs::remove_file(format!("{}.minisig", path.display())).unwrap();
        assert!(matches!(
            signature_problem(setup.host().action("probe")),
            SignatureProblem::Missing { .. }
        ));
        setup.policy(opt_out);
        let out = setup.host().invoke("probe", &run).await.unwrap();
        assert_eq!(output(&out), json!("xx"), "{opt_out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_lock_is_a_clear_error_and_changes_nothing() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let text = std::fs::read_to_string(setup.lock_path()).unwrap();
    let broken = text.replace("digest = \"sha256:", "digest = \"sha1:");
    std::fs::write(setup.lock_path(), &broken).unwrap();
    setup.write_policy();
    let policy = Policy::load(&setup.policy_path()).unwrap();
    let e = Host::builder(policy).build().unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("airlock.lock line ") && message.contains(": action[0].digest: "),
        "{message}"
    );
    assert!(matches!(e, Error::Document(_)));
    assert_eq!(std::fs::read_to_string(setup.lock_path()).unwrap(), broken);
    assert!(!setup.audit_path().exists(), "nothing was recorded or run");
}

#[test]
fn approvals_are_recorded_in_canonical_form() {
    let mut setup = Setup::new();
    let path = setup.probe(
        "network = [\"https://b.example\", \"https://a.example\"]\n\
         files = [{ mount = \"w\", access = \"read-write\" }]\n\
         secrets = [{ name = \"TOKEN\", send_to = [\"https://a.example\"] }]",
        "memory = \"32 MiB\"",
    );
    let lock = Lock::load(&setup.lock_path()).unwrap();
    let entry = lock.get("probe").unwrap();
    assert_eq!(entry.digest, Digest::of(&std::fs::read(&path).unwrap()));
    assert_eq!(entry.publisher, "airlock-tests");
    assert_eq!(entry.key_id, Some(setup.key().id()));
    let text = std::fs::read_to_string(setup.lock_path()).unwrap();
    assert!(
        text.contains(
            "network = [\n    \"https://a.example\",\n    \"https://b.example\",\n]\n\
             files = [\n    { mount = \"w\", access = \"read-write\" },\n]\n\
             secrets = [\n    { name = \"TOKEN\", send_to = [\"https://a.example\"], expose = false },\n]\n\
             \n[action.limits]\nmemory = \"32 MiB\"\ntimeout = \"10s\"\nhttp_requests = 100\n\
             http_request_body = \"1 MiB\"\nhttp_response_body = \"8 MiB\"\n\
             http_connect_timeout = \"10s\"\nhttp_first_byte_timeout = \"30s\"\nhttp_timeout = \"1m\"\n"
        ),
        "{text}"
    );
}
