//! No known secret value leaves a run, in any form the redactor claims
//! (plain in any case, partly or wholly percent-encoded, hex in any case,
//! base64 and base64url): not in any field of any audit record — host
//! names, which the host lower-cases, included — nor in the output, the
//! error, or the refusals handed back. Each test searches every artifact.

use airlock::Outcome;
use airlock_tests::server::{Reply, Server};
use airlock_tests::{Setup, output};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Value, json};

/// Mixed case, so that lower-casing is a different string.
const LABEL: &str = "LabelSecret42Xyz";
const WILD: &str = "WildSecret77Abc";

/// The forms of `value` found in `text`, by name.
fn leaks(text: &str, value: &str) -> Vec<&'static str> {
    let folded = text.to_ascii_lowercase();
    let pct: String = value.bytes().map(|b| format!("%{b:02x}")).collect();
    let mut found = Vec::new();
    for (form, needle) in [
        ("plain, any case", value.to_ascii_lowercase()),
        ("hex, any case", hex::encode(value)),
        ("percent-encoded, any case", pct),
    ] {
        if folded.contains(&needle) {
            found.push(form);
        }
    }
    for (form, needle) in [
        ("base64", STANDARD.encode(value)),
        ("base64url", URL_SAFE.encode(value)),
    ] {
        if text.contains(needle.trim_end_matches('=')) {
            found.push(form);
        }
    }
    found
}

/// Everything a run left: its audit records, output, error and refusals.
fn artifacts(setup: &Setup, outcomes: &[&Outcome]) -> Vec<(String, String)> {
    let mut all = vec![("audit log".to_owned(), setup.audit_text())];
    for (i, o) in outcomes.iter().enumerate() {
        all.push((format!("run {i} result"), format!("{:?}", o.result)));
        if let Err(e) = &o.result {
            all.push((format!("run {i} error"), e.to_string()));
        }
        all.push((format!("run {i} refusals"), format!("{:?}", o.denials)));
    }
    all
}

fn assert_clean(setup: &Setup, outcomes: &[&Outcome]) {
    for (what, text) in artifacts(setup, outcomes) {
        for value in [LABEL, WILD] {
            let found = leaks(&text, value);
            assert!(
                found.is_empty(),
                "{what} carries a secret ({found:?}): {text}"
            );
        }
    }
}

/// `LABEL` may go to `other.test` only, `WILD` to any `*.other.test`; both
/// are exposed, and every name used resolves to 127.0.0.1.
fn setup(server: &Server) -> Setup {
    let mut setup = Setup::new();
    let local = || vec!["127.0.0.1".to_owned()];
    let (label_host, wild_host) = (
        format!("{}.other.test", LABEL.to_ascii_lowercase()),
        format!("{}.other.test", WILD.to_ascii_lowercase()),
    );
    setup
        .network(
            &[],
            &["127.0.0.1"],
            &[
                ("other.test", local()),
                (label_host.as_str(), local()),
                (wild_host.as_str(), local()),
            ],
        )
        .secret("LABEL", LABEL)
        .secret("WILD", WILD);
    let p = server.port();
    setup.probe(
        &format!(
            "network = [\"http://other.test:{p}\", \"http://*.other.test:{p}\"]\n\
             secrets = [{{ name = \"LABEL\", expose = true, send_to = [\"http://other.test:{p}\"] }}, \
             {{ name = \"WILD\", expose = true, send_to = [\"http://*.other.test:{p}\"] }}]"
        ),
        "",
    );
    setup
}

fn with_secret(name: &str, ops: Vec<Value>) -> Value {
    json!({"op": "with-secret", "name": name, "ops": ops})
}

fn get(url: String) -> Value {
    json!({"op": "http", "url": url})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_in_a_host_name_is_redacted_from_every_record() {
    let server = Server::http(Reply::echo);
    let setup = setup(&server);
    let p = server.port();
    let ops = json!({"op": "many", "ops": [
        // Outside LABEL's audience: refused before DNS, in each case.
        with_secret("LABEL", vec![
            get(format!("http://{{{{value}}}}.other.test:{p}/")),
            get(format!("http://{{{{upper}}}}.other.test:{p}/")),
            get(format!("http://{{{{lower}}}}.other.test:{p}/x?{{{{pct}}}}")),
        ]),
        // Inside WILD's audience: allowed, and its intent and result
        // records name a host that is the value, lower-cased.
        with_secret("WILD", vec![
            get(format!("http://{{{{value}}}}.other.test:{p}/path")),
        ]),
    ]});
    let outcome = setup
        .host()
        .invoke("probe", &ops.to_string())
        .await
        .unwrap();
    let out = output(&outcome);
    let refused = &out[0];
    for r in refused.as_array().unwrap() {
        assert_eq!(r["kind"], "Denied", "{out}");
    }
    assert_eq!(out[1][0]["status"], 200, "{out}");
    let refusals: Vec<_> = outcome
        .denials
        .iter()
        .filter(|d| d.event == "net.request")
        .collect();
    assert_eq!(refusals.len(), 3, "{:?}", outcome.denials);
    // The records are there, with the host redacted, not dropped.
    let hosts: Vec<Value> = setup
        .events("net.request")
        .iter()
        .map(|r| r["host"].clone())
        .collect();
    assert!(hosts.len() >= 4, "{hosts:?}");
    for host in &hosts {
        assert!(
            host.as_str().unwrap().starts_with("[redacted:"),
            "{hosts:?}"
        );
    }
    assert_clean(&setup, &[&outcome]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_claimed_form_is_redacted_from_output_error_and_log_lines() {
    let server = Server::http(Reply::echo);
    let setup = setup(&server);
    let forms = ["{{value}}", "{{upper}}", "{{lower}}", "{{hex}}", "{{pct}}"];
    let said: Vec<Value> = forms
        .iter()
        .flat_map(|f| {
            [
                json!({"op": "log", "message": format!("log {f}")}),
                json!({"op": "print", "stdout": format!("out {f}\n"), "stderr": format!("err {f}\n")}),
            ]
        })
        .collect();
    let mut ops = said.clone();
    // And returned: an echo puts each form into the output.
    ops.push(json!({"op": "http", "method": "POST",
        "url": format!("http://other.test:{}/", server.port()), "body": forms.join(" ")}));
    let run = json!({"op": "many", "ops": [with_secret("LABEL", ops)]});
    let host = setup.host();
    let shown = host.invoke("probe", &run.to_string()).await.unwrap();
    assert!(shown.result.is_ok(), "{:?}", shown.result);
    let out = output(&shown).to_string();
    assert!(out.contains("[redacted:LABEL]"), "{out}");

    // An error message, then a panic, in every form at once.
    let all = forms.join(" ");
    let failed = host
        .invoke(
            "probe",
            &json!({"op": "many", "ops": [with_secret("LABEL", vec![json!({"op": "fail", "message": all})])]})
                .to_string(),
        )
        .await
        .unwrap();
    assert!(failed.result.is_err());
    let panicked = host
        .invoke(
            "probe",
            &json!({"op": "many", "ops": [with_secret("WILD", vec![json!({"op": "panic", "message": all})])]})
                .to_string(),
        )
        .await
        .unwrap();
    assert!(panicked.result.is_err());
    assert!(
        !setup.events("secret.leak").is_empty(),
        "the redacted output is on the record"
    );
    assert_clean(&setup, &[&shown, &failed, &panicked]);
}

#[tokio::test(flavor = "multi_thread")]
async fn undeclared_secret_names_are_recorded_cut_and_hashed() {
    let server = Server::http(Reply::echo);
    let setup = setup(&server);
    let long = "X".repeat(200);
    let ops = json!({"op": "many", "ops": [
        {"op": "secret", "name": long},
        {"op": "secret", "name": "line\nbreak"},
    ]});
    let outcome = setup
        .host()
        .invoke("probe", &ops.to_string())
        .await
        .unwrap();
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let reads = setup.events("secret.read");
    assert_eq!(reads.len(), 2, "{reads:?}");
    let first = &reads[0];
    let target = first["target"].as_str().unwrap();
    assert!(target.len() <= 40 && target.ends_with('…'), "{target}");
    assert_eq!(first["target_len"], 200);
    assert_eq!(first["target_sha256"].as_str().unwrap().len(), 64);
    assert!(!first["reason"].as_str().unwrap().contains(&long));
    assert!(!reads[1]["target"].as_str().unwrap().contains('\n'));
}
