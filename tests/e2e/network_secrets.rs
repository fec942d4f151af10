//! Secrets on the network: placeholders filled only for their audience,
//! exposed values refused on their way to anyone else, and unexposed values
//! never in the action — even when a server echoes them back.

use airlock_tests::server::{Reply, Server, TestCa};
use airlock_tests::{Setup, run_many};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const HOOK_PATH: &str = "T0001/B0002/hook-path-4f9c2a7e";
const TOKEN: &str = "tok_1b8d3605_placeholder_value";

fn post(url: &str, headers: &[(&str, &str)], body: &str) -> Value {
    json!({"op": "http", "method": "POST", "url": url, "headers": headers, "body": body})
}

/// Two declared HTTP hosts on 127.0.0.1: `audience.test` and `other.test`.
struct Two {
    setup: Setup,
    audience: Server,
    other: Server,
}

impl Two {
    fn new(secrets: &str) -> Two {
        let audience = Server::http(Reply::echo);
        let other = Server::http(Reply::echo);
        let mut setup = Setup::new();
        let local = vec!["127.0.0.1".to_owned()];
        setup.network(
            &[],
            &["127.0.0.1"],
            &[("audience.test", local.clone()), ("other.test", local)],
        );
        let caps = format!(
            "network = [\"http://audience.test:{}\", \"http://other.test:{o}\", \"http://*.other.test:{o}\"]\n\
             secrets = [{secrets}]",
            audience.port(),
            o = other.port()
        )
        .replace("AUDIENCE", &format!("http://audience.test:{}", audience.port()));
        setup.probe(&caps, "");
        Two {
            setup,
            audience,
            other,
        }
    }

    fn audience_url(&self, path: &str) -> String {
        format!("http://audience.test:{}{path}", self.audience.port())
    }

    fn other_url(&self, path: &str) -> String {
        format!("http://other.test:{}{path}", self.other.port())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_reaches_its_audience_as_the_value() {
    let mut setup = Setup::new();
    let ca = TestCa::new(setup.path());
    let server = Server::https(&ca, &["hooks.test"], Reply::echo);
    let origin = format!("https://hooks.test:{}", server.port());
    setup
        .network(
            &[ca.pem_file()],
            &["127.0.0.1"],
            &[("hooks.test", vec!["127.0.0.1".to_owned()])],
        )
        .secret("HOOK_PATH", HOOK_PATH)
        .secret("TOKEN", TOKEN);
    setup.probe(
        &format!(
            "network = [\"{origin}\"]\nsecrets = [{{ name = \"HOOK_PATH\", send_to = [\"{origin}\"] }}, \
             {{ name = \"TOKEN\", send_to = [\"{origin}\"] }}]"
        ),
        "",
    );
    let op = post(
        &format!("{origin}/services/{{{{secret:HOOK_PATH}}}}?x=1"),
        &[("authorization", "Bearer {{secret:TOKEN}}")],
        r#"{"token": "{{secret:TOKEN}}"}"#,
    );
    let (out, outcome) = run_many(&setup, &[op]).await;
    assert_eq!(out[0]["status"], 200, "{out:?}");
    assert!(outcome.denials.is_empty(), "{:?}", outcome.denials);

    let got = &server.received()[0];
    assert_eq!(got.target, format!("/services/{HOOK_PATH}?x=1"));
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(got.text(), format!(r#"{{"token": "{TOKEN}"}}"#));
    assert_eq!(
        got.header("content-length"),
        Some(got.body.len().to_string().as_str()),
        "the length is the filled body's"
    );

    // The server echoed the values; the action got them taken out.
    let echoed = out[0]["body"].as_str().unwrap();
    assert!(
        !echoed.contains(TOKEN) && !echoed.contains(HOOK_PATH),
        "{echoed}"
    );
    assert!(echoed.contains("Bearer [redacted:TOKEN]"), "{echoed}");

    // The substitution is written ahead with the request: the intent names
    // the secrets it fills, before a byte leaves.
    let intent = &setup.events("net.request")[0];
    assert_eq!(intent["phase"], "intent");
    assert_eq!(intent["secrets"], json!(["HOOK_PATH", "TOKEN"]));
    let r = &setup.outcomes("net.request")[0];
    assert_eq!(r["secrets"], json!(["HOOK_PATH", "TOKEN"]));
    assert_eq!(r["path"], "/services/{{secret:HOOK_PATH}}");
    assert_eq!(r["response_redacted"], json!(["HOOK_PATH", "TOKEN"]));
    let audit = setup.audit_text();
    assert!(
        !audit.contains(TOKEN) && !audit.contains(HOOK_PATH),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_for_another_host_is_refused_and_nothing_is_sent() {
    let mut two = Two::new(r#"{ name = "TOKEN", send_to = ["AUDIENCE"] }"#);
    two.setup.secret("TOKEN", TOKEN);
    let bearer = [("authorization", "Bearer {{secret:TOKEN}}")];
    let ops = [
        post(&two.other_url("/"), &bearer, ""),
        post(&two.other_url("/"), &[], "{{secret:TOKEN}}"),
        post(&two.other_url("/q?t={{secret:TOKEN}}"), &[], ""),
        post(&two.audience_url("/"), &[], "{{secret:UNDECLARED}}"),
        post(&two.audience_url("/"), &[], "{{secret:token}}"),
        post(&two.audience_url("/"), &bearer, ""),
    ];
    let (out, outcome) = run_many(&two.setup, &ops).await;
    for r in &out[..5] {
        assert_eq!(r["kind"], "Denied", "{out:?}");
    }
    assert_eq!(out[5]["status"], 200, "{out:?}");
    assert!(
        two.other.received().is_empty(),
        "nothing reaches another host"
    );
    assert_eq!(two.audience.received().len(), 1);

    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    let audience = two.audience_url("");
    let other = two.other_url("");
    for reason in &reasons[..3] {
        assert!(
            reason.contains(&format!("secret `TOKEN` may be sent only to [{audience}]"))
                && reason.contains(&format!("send_to = [\"{other}\"]")),
            "{reason}"
        );
    }
    assert!(reasons[3].contains("does not declare"), "{reasons:?}");
    assert!(reasons[4].contains("is not a placeholder"), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exposed_secret_going_to_another_host_is_refused_in_any_encoding() {
    let key = "ex/posed+key=9f8e7d6c5b4a";
    let mut two = Two::new(
        r#"{ name = "KEY", expose = true, send_to = ["AUDIENCE"] }, { name = "LABEL", expose = true }"#,
    );
    two.setup
        .secret("KEY", key)
        .secret("LABEL", "labelsecret42");
    let b64 = base64::engine::general_purpose::STANDARD;
    let basic = format!("Basic {}", b64.encode(format!("user:{key}")));
    let url_encoded = key
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D");
    let read = json!({"op": "secret-length", "name": "KEY"});
    let ops = [
        read,
        post(&two.other_url("/"), &[], &format!("key={key}")),
        post(
            &two.other_url("/"),
            &[("authorization", basic.as_str())],
            "",
        ),
        post(&two.other_url(&format!("/?k={url_encoded}")), &[], ""),
        post(&two.other_url("/"), &[], &hex::encode(key)),
        // A name under a granted wildcard is sent to DNS: not this one.
        json!({"op": "http", "url": format!("http://LabelSecret42.other.test:{}/", two.other.port())}),
        post(
            &two.audience_url("/"),
            &[("authorization", basic.as_str())],
            "",
        ),
    ];
    let (out, outcome) = run_many(&two.setup, &ops).await;
    assert_eq!(out[0]["ok"], key.len(), "the action may read it: {out:?}");
    for r in &out[1..6] {
        assert_eq!(r["kind"], "Denied", "{out:?}");
    }
    assert_eq!(out[6]["status"], 200, "its audience may get it: {out:?}");
    assert!(two.other.received().is_empty());

    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    let forms = [
        "(plain, in the body)",
        "(base64, in header `authorization`)",
        "(URL-encoded, in the URL)",
        "(hex, in the body)",
    ];
    for (reason, form) in reasons.iter().zip(forms) {
        assert!(
            reason.contains(&format!("secret `KEY` {form}")) && reason.contains("best-effort"),
            "{reason}"
        );
    }
    assert!(
        reasons[4].contains("carries the value of secret `LABEL` (plain); it was not looked up"),
        "{reasons:?}"
    );
    let r = &two.setup.outcomes("net.request")[0];
    assert_eq!(r["exposed_scan"], json!(["KEY", "LABEL"]));
    assert_eq!(r["exposed_scan_kind"], "best-effort");
    assert!(!two.setup.audit_text().contains(key));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unexposed_secret_never_reaches_the_action() {
    let hidden = "hidden_7e1b8d3605_value";
    let shown = "shown_2a7e1b8d_value";
    let mut two = Two::new(
        r#"{ name = "HIDDEN", send_to = ["AUDIENCE"] }, { name = "SHOWN", expose = true }"#,
    );
    two.setup.secret("HIDDEN", hidden).secret("SHOWN", shown);
    let scan = |value: &str, ops: Value| json!({"op": "scan", "sha256": hex::encode(Sha256::digest(value)), "len": value.len(), "ops": ops});
    let ops = [
        // Every way the action could get HIDDEN: read it, or have a server
        // echo back the request it was filled into.
        scan(
            hidden,
            json!([
                {"op": "secret", "name": "HIDDEN"},
                post(
                    &two.audience_url("/{{secret:HIDDEN}}"),
                    &[("x-token", "{{secret:HIDDEN}}")],
                    "{{secret:HIDDEN}}",
                ),
            ]),
        ),
        // The scan finds an exposed value the action read: it works.
        scan(shown, json!([{"op": "secret", "name": "SHOWN"}])),
    ];
    let (out, _) = run_many(&two.setup, &ops).await;
    assert_eq!(out[0]["found"], false, "{out:?}");
    assert_eq!(out[1]["found"], true, "{out:?}");
    let results = &out[0]["results"];
    assert!(
        results[0]["err"].as_str().unwrap().contains("not exposed"),
        "{results}"
    );
    assert_eq!(results[1]["status"], 200, "{results}");
    assert!(
        results[1]["body"]
            .as_str()
            .unwrap()
            .contains("x-token: [redacted:HIDDEN]"),
        "the server did echo it: {results}"
    );
    assert!(two.audience.received()[0].text().contains(hidden));
}
