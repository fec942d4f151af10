//! The example plugins doing their real jobs.

use airlock_tests::server::{Reply, Server, TestCa};
use airlock_tests::{Setup, artifacts, output};
use serde_json::json;
use std::process::Command;

fn plugin(name: &str) -> Vec<u8> {
    let path = artifacts::PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1;
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_greets() {
    let mut setup = Setup::new();
    setup.action("hello", &plugin("hello"));
    let host = setup.host();
    let out = output(
        &host
            .invoke("hello", r#"{"name": "Ada Lovelace"}"#)
            .await
            .unwrap(),
    );
    assert_eq!(
        out,
        json!({"greeting": "Hello, Ada Lovelace!", "vowels": 6})
    );
    let err = host.invoke("hello", r#"{"name": " "}"#).await.unwrap();
    assert_eq!(
        err.result.unwrap_err().to_string(),
        "the action failed: `name` is empty"
    );
    let bad = host.invoke("hello", r#"{"nom": "x"}"#).await.unwrap();
    assert!(
        bad.result
            .unwrap_err()
            .to_string()
            .contains("invalid input: missing field `name`")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn file_digest_reads_one_mount_and_writes_a_checkable_report_to_another() {
    let mut setup = Setup::new();
    let source = setup.mount("source", "read");
    let reports = setup.mount("reports", "read-write");
    std::fs::create_dir(source.join("sub")).unwrap();
    std::fs::write(source.join("a.txt"), "alpha\n").unwrap();
    std::fs::write(source.join("sub/b.bin"), [0u8, 1, 2, 255]).unwrap();
    setup.action("file-digest", &plugin("file-digest"));
    let host = setup.host();
    let out = output(&host.invoke("file-digest", "{}").await.unwrap());
    assert_eq!(out["files"].as_array().unwrap().len(), 2);
    assert_eq!(out["report"], "/reports/digests.txt");
    // The report checks out with the real sha256sum.
    let check = Command::new("sha256sum")
        .arg("-c")
        .arg(reports.join("digests.txt"))
        .current_dir(&source)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let opens = setup.events("file.open");
    assert!(opens.iter().any(|r| r["target"] == "/source/sub/b.bin"));
    assert!(
        opens.iter().any(|r| r["target"] == "/reports/digests.txt"
            && r["mode"].as_str().unwrap().contains("create"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_payload_signs_with_an_exposed_key_that_never_leaves() {
    use hmac::{Hmac, Mac};
    let key = "whsec_8c1f0e2d9b7a6354_signing";
    let mut setup = Setup::new();
    setup.secret("WEBHOOK_SIGNING_KEY", key);
    setup.action("sign-payload", &plugin("sign-payload"));
    let host = setup.host();
    let body = r#"{"ref":"refs/heads/main"}"#;
    let outcome = host
        .invoke("sign-payload", &json!({"body": body}).to_string())
        .await
        .unwrap();
    let out = output(&outcome);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    assert_eq!(
        out["signature"],
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    assert_eq!(out["header"], "X-Hub-Signature-256");
    let reads = setup.events("secret.read");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["target"], "WEBHOOK_SIGNING_KEY");
    assert!(!setup.audit_text().contains(key));
}

#[tokio::test(flavor = "multi_thread")]
async fn release_notes_runs_once_packed_with_the_demos_manifest() {
    // Built without a manifest: nothing to approve until one is packed in.
    let bare = plugin("release-notes");
    assert!(airlock::rules::manifest::section::extract(&bare).is_err());
    let manifest = include_str!("../../demo/release-notes/1.0.0.toml");
    let mut setup = Setup::new();
    setup.action(
        "release-notes",
        &airlock::rules::manifest::section::embed(&bare, manifest).unwrap(),
    );
    let host = setup.host();
    let input = json!({"project": "airlock", "version": "1.0.0", "changes": [" first release "]});
    let out = output(
        &host
            .invoke("release-notes", &input.to_string())
            .await
            .unwrap(),
    );
    assert_eq!(out["title"], "airlock 1.0.0 released");
    assert_eq!(out["text"], "airlock 1.0.0 released\n- first release\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_notify_posts_through_its_webhook_placeholder() {
    let path = "T0001/B0002/slackwebhooksecret9f8e";
    let mut setup = Setup::new();
    let ca = TestCa::new(setup.path());
    let slack = Server::https(&ca, &["hooks.slack.com"], |r| {
        if r.target.starts_with("/services/T0001/") {
            Reply::ok("ok")
        } else {
            Reply {
                status: 404,
                headers: vec![],
                body: b"no_service".to_vec(),
            }
        }
    });
    setup
        .network(
            &[ca.pem_file()],
            &["127.0.0.1"],
            &[("hooks.slack.com", vec![slack.addr().to_string()])],
        )
        .secret("SLACK_WEBHOOK_PATH", path);
    setup.action("slack-notify", &plugin("slack-notify"));
    let host = setup.host();
    let out = output(
        &host
            .invoke(
                "slack-notify",
                r#"{"text": "Deploy of app 1.4.2 finished"}"#,
            )
            .await
            .unwrap(),
    );
    assert_eq!(out, json!({"status": 200}));
    let got = &slack.received()[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, format!("/services/{path}"));
    assert_eq!(got.header("host"), Some("hooks.slack.com"));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&got.body).unwrap(),
        json!({"text": "Deploy of app 1.4.2 finished"})
    );
    let r = &setup.outcomes("net.request")[0];
    assert_eq!(
        r["target"],
        "https://hooks.slack.com:443/services/{{secret:SLACK_WEBHOOK_PATH}}"
    );
    assert_eq!(r["secrets"], json!(["SLACK_WEBHOOK_PATH"]));
    assert!(!setup.audit_text().contains(path));

    // A webhook Slack does not know: the action says what Slack answered.
    let mut wrong = Setup::new();
    wrong
        .network(
            &[ca.pem_file()],
            &["127.0.0.1"],
            &[("hooks.slack.com", vec![slack.addr().to_string()])],
        )
        .secret("SLACK_WEBHOOK_PATH", "T9/B9/revoked");
    wrong.action("slack-notify", &plugin("slack-notify"));
    let outcome = wrong
        .host()
        .invoke("slack-notify", r#"{"text": "hi"}"#)
        .await
        .unwrap();
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "the action failed: Slack answered 404: no_service"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_fetch_returns_one_field_and_reaches_only_its_host() {
    let mut setup = Setup::new();
    let ca = TestCa::new(setup.path());
    let github = Server::https(&ca, &["api.github.com"], |_| {
        Reply::ok(
            r#"{"full_name": "acme/app", "stargazers_count": 42, "owner": {"login": "acme"}}"#,
        )
    });
    setup.network(
        &[ca.pem_file()],
        &["127.0.0.1"],
        &[
            ("api.github.com", vec![github.addr().to_string()]),
            ("example.org", vec![github.addr().to_string()]),
        ],
    );
    setup.action("http-fetch", &plugin("http-fetch"));
    let host = setup.host();
    let input = json!({"url": "https://api.github.com/repos/acme/app", "field": "/owner/login"});
    let out = output(&host.invoke("http-fetch", &input.to_string()).await.unwrap());
    assert_eq!(out, json!({"status": 200, "value": "acme"}));
    assert_eq!(github.received()[0].target, "/repos/acme/app");

    let input = json!({"url": "https://example.org/repos/acme/app", "field": "/owner/login"});
    let outcome = host.invoke("http-fetch", &input.to_string()).await.unwrap();
    let err = outcome.result.unwrap_err().to_string();
    assert!(err.contains("the host refused the request"), "{err}");
    assert!(
        outcome.denials[0]
            .reason
            .contains("network = [\"https://example.org\"]"),
        "{:?}",
        outcome.denials
    );
    assert_eq!(github.received().len(), 1, "example.org was never reached");
}
