//! Secrets: only declared, granted and exposed ones can be read; values
//! never appear in an output, log line, error or audit record.

use airlock_tests::server::{Reply, Server};
use airlock_tests::{Setup, output, run_many};
use serde_json::json;

const VALUE: &str = "tok_4f9c2a7e1b8d3605_do_not_leak";

#[tokio::test(flavor = "multi_thread")]
async fn only_declared_granted_exposed_secrets_resolve() {
    let mut setup = Setup::new();
    setup
        .secret("EXPOSED", VALUE)
        .secret("HIDDEN", "hidden-value-1234")
        .secret("UNDECLARED", "other-value-5678");
    setup.probe(
        r#"secrets = [{ name = "EXPOSED", expose = true }, { name = "HIDDEN" }, { name = "UNPROVIDED", expose = true }]"#,
        "",
    );
    let host = setup.host();
    let ops = json!({"op": "many", "ops": [
        {"op": "secret-length", "name": "EXPOSED"},
        {"op": "secret", "name": "HIDDEN"},
        {"op": "secret", "name": "UNPROVIDED"},
        {"op": "secret", "name": "UNDECLARED"},
    ]});
    let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
    let out = output(&outcome);
    assert_eq!(out[0], json!({"ok": VALUE.len()}));
    assert!(
        out[1]["err"].as_str().unwrap().contains("not exposed"),
        "{out}"
    );
    assert!(
        out[2]["err"].as_str().unwrap().contains("no source"),
        "{out}"
    );
    assert!(
        out[3]["err"].as_str().unwrap().contains("not declared"),
        "{out}"
    );

    let reads = setup.events("secret.read");
    let decisions: Vec<_> = reads
        .iter()
        .map(|r| {
            (
                r["target"].as_str().unwrap(),
                r["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        decisions,
        [
            ("EXPOSED", "allow"),
            ("HIDDEN", "deny"),
            ("UNPROVIDED", "deny"),
            ("UNDECLARED", "deny")
        ]
    );
    let undeclared = outcome
        .denials
        .iter()
        .find(|d| d.target == "UNDECLARED")
        .unwrap();
    assert!(
        undeclared.reason.contains("[capabilities] secrets"),
        "{}",
        undeclared.reason
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_values_never_leave_the_run() {
    let mut setup = Setup::new();
    setup.secret("TOKEN", VALUE);
    let out_dir = setup.mount("out", "read-write");
    setup.probe(
        r#"secrets = [{ name = "TOKEN", expose = true }]
files = [{ mount = "out", access = "read-write" }]"#,
        "",
    );
    let host = setup.host();
    // An action that tries every way out: output, stdout, stderr, log, a
    // file name, and finally its error message.
    let leak = |op: serde_json::Value| json!({"op": "many", "ops": [{"op": "secret", "name": "TOKEN"}, op]});
    let attempts = [
        leak(
            json!({"op": "print", "stdout": format!("stdout {VALUE}\n"), "stderr": format!("stderr {VALUE}\n")}),
        ),
        leak(json!({"op": "log", "message": format!("log {VALUE}")})),
        leak(json!({"op": "read", "path": format!("/out/{VALUE}")})),
        leak(json!({"op": "fail", "message": format!("error {VALUE}")})),
        leak(json!({"op": "panic", "message": format!("panic {VALUE}")})),
    ];
    let mut shown = String::new();
    for attempt in attempts {
        let outcome = host.invoke("probe", &attempt.to_string()).await.unwrap();
        shown.push_str(&format!("{:?}\n", outcome));
        if let Ok(json) = &outcome.result {
            assert!(json.contains("[redacted:TOKEN]"), "{json}");
        }
    }
    assert!(
        !shown.contains(VALUE),
        "a value reached an outcome: {shown}"
    );
    let audit = setup.audit_text();
    assert!(!audit.contains(VALUE), "a value reached the audit log");
    assert!(audit.contains("[redacted:TOKEN]"));
    assert!(
        !setup.events("secret.leak").is_empty(),
        "the redacted output is recorded"
    );
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_source_is_an_error_value_that_names_it() {
    let mut setup = Setup::new();
    setup.policy("[secrets.TOKEN]\nfile = \"does-not-exist\"");
    setup.probe(r#"secrets = [{ name = "TOKEN", expose = true }]"#, "");
    let host = setup.host();
    let out = output(
        &host
            .invoke("probe", r#"{"op": "secret", "name": "TOKEN"}"#)
            .await
            .unwrap(),
    );
    let err = out["err"].as_str().unwrap();
    assert!(
        err.contains("unavailable") && err.contains("does-not-exist"),
        "{err}"
    );
}

/// A source that gives an empty value (a file with nothing, or only its
/// line end) is refused at use like one that cannot be read, naming the
/// file: never handed out, never filled into a request. A secret the policy
/// has no entry for is told apart: that is what the policy lacks.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_source_is_refused_never_filled_in() {
    let server = Server::http(Reply::echo);
    let origin = format!("http://127.0.0.1:{}", server.port());
    let mut setup = Setup::new();
    setup
        .network(&[], &["127.0.0.1"], &[])
        .secret("EMPTY", "")
        .secret("NEWLINE", "\n")
        .secret("FILLED", VALUE);
    let declare =
        |name: &str| format!("{{ name = \"{name}\", expose = true, send_to = [\"{origin}\"] }}");
    let names = ["EMPTY", "NEWLINE", "UNSOURCED", "FILLED"];
    let declared: Vec<String> = names.iter().map(|n| declare(n)).collect();
    setup.probe(
        &format!(
            "network = [\"{origin}\"]\nsecrets = [{}]",
            declared.join(", ")
        ),
        "",
    );
    let mut ops = Vec::new();
    for name in names {
        ops.push(json!({"op": "secret-length", "name": name}));
        ops.push(json!({"op": "http", "url": format!("{origin}/"),
            "headers": [["authorization", format!("Bearer {{{{secret:{name}}}}}")]]}));
    }
    let (out, outcome) = run_many(&setup, &ops).await;
    assert_eq!(out[6], json!({"ok": VALUE.len()}), "{out:?}");
    assert_eq!(out[7]["status"], 200, "{out:?}");
    assert_eq!(server.received().len(), 1, "only the filled one is sent");

    let file = |name: &str| {
        setup
            .path()
            .join("secrets")
            .join(name)
            .display()
            .to_string()
    };
    let empty = |name: &str| {
        format!(
            "secret `{name}` is unavailable: the policy's [secrets.{name}] reads it from file {}, \
             which is empty; give it the secret's value (an empty value is never used)",
            file(name)
        )
    };
    let expected = [
        empty("EMPTY"),
        empty("NEWLINE"),
        "secret `UNSOURCED` has no source: add [secrets.UNSOURCED] with env = \"VAR\" or \
         file = \"path\" to the policy"
            .to_owned(),
    ];
    let reads = setup.events("secret.read");
    let requests = setup.outcomes("net.request");
    for (i, why) in expected.iter().enumerate() {
        assert!(out[2 * i]["err"].is_string(), "{out:?}");
        assert_eq!(out[2 * i + 1]["kind"], "Denied", "{out:?}");
        assert_eq!(reads[i]["decision"], "deny");
        assert_eq!(reads[i]["reason"], why.as_str());
        assert_eq!(requests[i]["decision"], "deny");
        assert_eq!(requests[i]["reason"], why.as_str());
        assert_eq!(requests[i]["secrets"], json!([names[i]]));
        let denials: Vec<_> = outcome
            .denials
            .iter()
            .filter(|d| d.reason == *why)
            .collect();
        assert_eq!(denials.len(), 2, "{:?}", outcome.denials);
    }
    assert!(!setup.audit_text().contains(VALUE));
}
