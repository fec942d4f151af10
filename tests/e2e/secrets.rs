//! Secrets: only declared, granted and exposed ones can be read; values
//! never appear in an output, log line, error or audit record.

use airlock_tests::{Setup, output};
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
