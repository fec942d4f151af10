//! The Python and JavaScript example actions, built with the pinned
//! componentize-py and ComponentizeJS from the SDKs in this repository, run
//! on the real host: configuration, a secret placeholder filled for its
//! audience on a loopback server, a refusal for any other host; and a
//! pure-compute action with nothing to warn about.

use airlock_tests::artifacts::{NOTIFY_JS, NOTIFY_PY, WORDCOUNT_PY};
use airlock_tests::server::{Reply, Server, TestCa};
use airlock_tests::{Setup, output};
use serde_json::{Value, json};

const TOKEN: &str = "tok_9e41c7_polyglot_do_not_leak";

fn json_reply(_: &airlock_tests::server::Received) -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"ok": true}"#.to_vec(),
    }
}

async fn posts_with_the_token_filled_in(name: &str, component: &str) {
    let mut setup = Setup::new();
    let ca = TestCa::new(setup.path());
    let server = Server::https(&ca, &["notify.test"], json_reply);
    setup
        .network(
            &[ca.pem_file()],
            &["127.0.0.1"],
            &[("notify.test", vec![format!("127.0.0.1:{}", server.port())])],
        )
        .secret("NOTIFY_TOKEN", TOKEN);
    setup.action(name, &std::fs::read(component).unwrap());
    setup.policy(&format!(
        "[actions.{name}.config]\nchannel = \"releases\"\n"
    ));
    let host = setup.host();

    let input = json!({"url": "https://notify.test/v1/messages", "text": "deployed 1.2"});
    let outcome = host.invoke(name, &input.to_string()).await.unwrap();
    let out = output(&outcome);
    assert_eq!(out["status"], 200, "{name}: {out}");
    assert_eq!(out["response"]["ok"], true, "{name}: {out}");

    let got = server.received();
    assert_eq!(got.len(), 1, "{name}");
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].target, "/v1/messages");
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str()),
        "{name}"
    );
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        body,
        json!({"channel": "releases", "text": "deployed 1.2"}),
        "{name}"
    );

    let start = &setup.events("run.start")[0];
    assert_eq!(
        start["grant"]["config"],
        json!({"channel": "releases"}),
        "{name}"
    );
    let sent = setup.outcomes("net.request");
    assert_eq!(sent[0]["secrets"], json!(["NOTIFY_TOKEN"]), "{name}");
    assert!(
        !setup.audit_text().contains(TOKEN),
        "{name}: the token is in the log"
    );

    // Any other host is refused before anything is sent.
    let input = json!({"url": "https://evil.test/collect", "text": "x"});
    let outcome = host.invoke(name, &input.to_string()).await.unwrap();
    assert!(outcome.result.is_err(), "{name}: {:?}", outcome.result);
    assert!(
        outcome
            .denials
            .iter()
            .any(|d| d.reason.contains("evil.test")),
        "{name}: {:?}",
        outcome.denials
    );
    assert_eq!(server.received().len(), 1, "{name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_example_posts_with_a_placeholder_filled_for_its_audience() {
    posts_with_the_token_filled_in("notify-py", NOTIFY_PY).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_javascript_example_posts_with_a_placeholder_filled_for_its_audience() {
    posts_with_the_token_filled_in("notify-js", NOTIFY_JS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pure_compute_python_action_runs_and_has_no_warnings() {
    let bytes = std::fs::read(WORDCOUNT_PY).unwrap();
    let inspection = airlock::rules::inspect::Inspection::of(&bytes, "wordcount-py").unwrap();
    let codes: Vec<_> = inspection.flags.iter().map(|f| f.code).collect();
    assert_eq!(
        codes,
        [airlock::rules::inspect::FlagCode::UngrantedImports],
        "{:?}",
        inspection.flags
    );
    let mut setup = Setup::new();
    setup.action("wordcount-py", &bytes);
    let outcome = setup
        .host()
        .invoke("wordcount-py", r#"{"text": "one two\nthree"}"#)
        .await
        .unwrap();
    assert_eq!(
        output(&outcome),
        json!({"words": 3, "lines": 2, "characters": 13})
    );
    // What it is granted nothing of, it cannot use: no record of any.
    assert!(setup.events("net.request").is_empty() && setup.events("file.open").is_empty());
}
