//! What the network refuses however it is spelled, and that every refusal
//! is on record: unspecified addresses, kinds of address the policy
//! forbids, ports not written canonically, hop-by-hop headers, and
//! requests wasi-http refuses before airlock's own checks. Real servers on
//! 127.0.0.1; names point there through the policy's `[network.hosts]`.

use airlock::rules::manifest::Manifest;
use airlock_tests::server::{Reply, Server};
use airlock_tests::{Setup, probe_manifest, run_many};
use serde_json::{Value, json};

fn get(url: &str) -> Value {
    json!({"op": "http", "url": url})
}

/// A policy `[network]` naming `api.test` as 127.0.0.1, with `extra` lines.
fn api_test(extra: &str) -> String {
    format!("[network]\n{extra}\n[network.hosts]\n\"api.test\" = [\"127.0.0.1\"]\n")
}

/// The deny records of the log, each with its reason.
fn denials(setup: &Setup) -> Vec<Value> {
    setup
        .outcomes("net.request")
        .into_iter()
        .filter(|r| r["decision"] == "deny")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn unspecified_addresses_are_never_granted_nor_named_by_the_policy() {
    let server = Server::http(|_| Reply::ok("loopback service"));
    let port = server.port();
    for grant in [
        format!("http://0.0.0.0:{port}"),
        format!("http://0.1.2.3:{port}"),
        format!("http://0.0.0.0/8:{port}"),
        format!("http://[::]:{port}"),
        format!("http://[::ffff:0.0.0.0]:{port}"),
        format!("http://[::ffff:0:0]/96:{port}"),
    ] {
        let manifest = probe_manifest(&format!("network = [\"{grant}\"]"), "");
        let e = Manifest::parse("manifest", &manifest).expect_err(&grant);
        assert!(e.to_string().contains("unspecified"), "{grant} => {e}");

        // Nothing can approve it, so nothing runs.
        let mut setup = Setup::new();
        setup.probe(&format!("network = [\"{grant}\"]"), "");
        let url = grant.replace("/8", "").replace("/96", "");
        let ran = setup
            .host()
            .invoke("probe", &get(&format!("{url}/")).to_string())
            .await;
        assert!(
            ran.as_ref().map_or(true, |o| o.result.is_err()),
            "{grant}: {ran:?}"
        );
    }
    assert!(
        server.received().is_empty(),
        "the loopback listener was reached"
    );

    for (lines, path) in [
        (
            "allow_private = [\"0.0.0.0/8\"]",
            "network.allow_private[0]",
        ),
        ("allow_private = [\"::\"]", "network.allow_private[0]"),
        (
            "[network.hosts]\n\"zero.test\" = [\"0.0.0.0\"]",
            "network.hosts.\"zero.test\"[0]",
        ),
        (
            "[network.hosts]\n\"zero.test\" = [\"[::ffff:0.0.0.0]:8080\"]",
            "network.hosts.\"zero.test\"[0]",
        ),
    ] {
        let mut setup = Setup::new();
        setup.policy(&format!("[network]\n{lines}"));
        setup.write_policy();
        let e = airlock::Policy::load(&setup.policy_path()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains(path) && e.contains("unspecified"),
            "{lines} => {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kinds_of_address_the_policy_forbids_are_never_reached() {
    let server = Server::http(|_| Reply::ok("internal"));
    let port = server.port();
    let network = format!("network = [\"http://api.test:{port}\", \"http://127.0.0.1:{port}\"]");
    let ops = [
        get(&format!("http://api.test:{port}/")),
        get(&format!("http://127.0.0.1:{port}/")),
    ];

    // The operator allows loopback: both are reached.
    let mut allowed = Setup::new();
    allowed.policy(&api_test("allow_private = [\"127.0.0.0/8\"]"));
    allowed.probe(&network, "");
    let (out, _) = run_many(&allowed, &ops).await;
    assert_eq!(
        (&out[0]["status"], &out[1]["status"]),
        (&json!(200), &json!(200)),
        "{out:?}"
    );
    assert_eq!(server.received().len(), 2);

    // ... and forbids it: neither is, whatever the grant and allow_private say.
    let mut setup = Setup::new();
    setup.policy(&api_test(
        "allow_private = [\"127.0.0.0/8\"]\nforbid = [\"loopback\"]",
    ));
    setup.probe(&network, "");
    let (out, outcome) = run_many(&setup, &ops).await;
    for r in &out {
        assert_eq!(r["kind"], "Denied", "{out:?}");
    }
    assert_eq!(
        server.received().len(),
        2,
        "nothing more reached the server"
    );
    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons[0].contains(
            "api.test resolves to 127.0.0.1, a loopback address, which the policy forbids"
        ) && reasons[0].contains("forbid = [\"loopback\"]"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("is not a declared origin"),
        "{reasons:?}"
    );
    let records = denials(&setup);
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        records[0]["reason"]
            .as_str()
            .unwrap()
            .contains("the policy forbids")
    );
    assert_eq!(records[0]["resolved"], json!([format!("127.0.0.1:{port}")]));
}

#[tokio::test(flavor = "multi_thread")]
async fn ports_are_accepted_only_as_written_canonically() {
    let server = Server::http(|_| Reply::ok("ok"));
    let port = server.port();
    for grant in [
        format!("http://api.test:0{port}"),
        "http://api.test:".to_owned(),
    ] {
        let manifest = probe_manifest(&format!("network = [\"{grant}\"]"), "");
        let e = Manifest::parse("manifest", &manifest).expect_err(&grant);
        assert!(e.to_string().contains("not a port"), "{grant} => {e}");
    }

    let mut setup = Setup::new();
    setup.policy(&api_test("allow_private = [\"127.0.0.1\"]"));
    setup.probe(
        &format!("network = [\"http://api.test:{port}\", \"http://api.test\"]"),
        "",
    );
    let ops = [
        get(&format!("http://api.test:0{port}/")),
        get(&format!("http://api.test:000{port}/")),
        get("http://api.test:/"),
        get("http://api.test:080/"),
        json!({"op": "raw-http", "scheme": "http", "authority": format!("api.test:+{port}")}),
        // Canonical, with and without the scheme's default port: fine.
        get(&format!("http://api.test:{port}/")),
    ];
    let (out, outcome) = run_many(&setup, &ops).await;
    for r in &out[..5] {
        assert!(
            r["kind"] == "Denied" || r["err"].as_str().is_some_and(|e| e.contains("Denied")),
            "{out:?}"
        );
    }
    assert_eq!(out[5]["status"], 200, "{out:?}");
    assert_eq!(server.received().len(), 1, "only the canonical request");
    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons[0].contains(&format!(
            "`0{port}` is not a port: write it without leading zeros, like {port}"
        )),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("without leading zeros"), "{reasons:?}");
    assert!(
        reasons[2].contains("ends in `:` without a port"),
        "{reasons:?}"
    );
    assert!(reasons[3].contains("like 80"), "{reasons:?}");
    assert!(
        reasons[4].contains(&format!("`+{port}` is not a port")),
        "{reasons:?}"
    );
    let records = denials(&setup);
    assert_eq!(records.len(), 5, "{records:?}");
    assert_eq!(records[0]["target"], format!("http://api.test:0{port}/"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_headers_are_refused_and_recorded() {
    // The response carries hop-by-hop headers the action never sees.
    let server = Server::http(|_| {
        let mut reply = Reply::ok("ok");
        reply.headers = vec![
            ("keep-alive".into(), "timeout=5".into()),
            ("proxy-authenticate".into(), "Basic".into()),
            ("trailer".into(), "x-sig".into()),
            ("x-kept".into(), "1".into()),
        ];
        reply
    });
    let port = server.port();
    let mut setup = Setup::new();
    setup.policy(&api_test("allow_private = [\"127.0.0.1\"]"));
    setup.probe(&format!("network = [\"http://api.test:{port}\"]"), "");
    let url = format!("http://api.test:{port}/");
    let with = |headers: Value, body: &str| json!({"op": "http", "method": "POST", "url": url, "headers": headers, "body": body});
    let refused = [
        (json!([["te", "trailers"]]), "", "`te`"),
        (json!([["TE", "gzip"]]), "", "`te`"),
        (
            json!([["connection", "close, x-a"]]),
            "",
            "`connection` (naming close, x-a)",
        ),
        (json!([["keep-alive", "timeout=5"]]), "", "`keep-alive`"),
        (
            json!([["proxy-connection", "keep-alive"]]),
            "",
            "`proxy-connection`",
        ),
        (
            json!([["transfer-encoding", "chunked"]]),
            "",
            "`transfer-encoding`",
        ),
        (json!([["trailer", "x-sig"]]), "", "`trailer`"),
        (json!([["upgrade", "websocket"]]), "", "`upgrade`"),
        (
            json!([["proxy-authorization", "Basic eDp5"]]),
            "",
            "`proxy-authorization`",
        ),
        (
            json!([["http2-settings", "AAMAAABk"]]),
            "",
            "`http2-settings`",
        ),
        (
            json!([["host", "other.test"]]),
            "",
            "`host` header (`other.test`)",
        ),
        (
            json!([["content-length", "10"]]),
            "abc",
            "declares `content-length: 10` but its body is 3 bytes",
        ),
    ];
    let mut ops: Vec<Value> = refused.iter().map(|(h, b, _)| with(h.clone(), b)).collect();
    // What agrees with the request is fine, and the host sets it anyway.
    ops.push(with(
        json!([
            ["host", format!("API.test:{port}")],
            ["content-length", "3"],
            ["x-te", "1"]
        ]),
        "abc",
    ));
    let (out, outcome) = run_many(&setup, &ops).await;
    for r in &out[..refused.len()] {
        assert_eq!(r["kind"], "Denied", "{out:?}");
    }
    assert_eq!(out[refused.len()]["status"], 200, "{out:?}");
    let seen: Vec<&str> = out[refused.len()]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(seen.contains(&"x-kept"), "{seen:?}");
    for hop in ["keep-alive", "proxy-authenticate", "trailer", "connection"] {
        assert!(!seen.contains(&hop), "{hop} reached the action: {seen:?}");
    }
    let got = server.received();
    assert_eq!(got.len(), 1, "no refused request reached the server");
    assert_eq!(
        got[0].header("host"),
        Some(format!("api.test:{port}").as_str())
    );
    assert_eq!(got[0].header("x-te"), Some("1"));
    assert_eq!(got[0].text(), "abc");

    let records = denials(&setup);
    assert_eq!(records.len(), refused.len(), "{records:?}");
    for ((_, _, reason), (record, denial)) in
        refused.iter().zip(records.iter().zip(&outcome.denials))
    {
        let text = record["reason"].as_str().unwrap();
        assert!(text.contains(reason), "{reason} => {text}");
        assert!(
            denial.reason.contains(reason),
            "{reason} => {}",
            denial.reason
        );
        assert_eq!(record["target"], format!("http://api.test:{port}/"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_wasi_http_refuses_before_the_checks_are_recorded() {
    let server = Server::http(|_| Reply::ok("ok"));
    let port = server.port();
    let authority = format!("api.test:{port}");
    let mut setup = Setup::new();
    setup.policy(&api_test("allow_private = [\"127.0.0.1\"]"));
    setup.probe(&format!("network = [\"http://{authority}\"]"), "");
    let raw = |scheme: &str, headers: Value, body: Option<&str>| {
        json!({"op": "raw-http", "scheme": scheme, "authority": authority, "path": "/x",
               "method": "POST", "headers": headers, "body": body})
    };
    let ops = [
        // Not http or https.
        raw("ftp", json!([]), None),
        raw("gopher", json!([]), Some("")),
        // A length with no body: wasi-http refuses it in `handle`.
        raw("http", json!([["content-length", "5"]]), None),
        // Headers wasi-http would refuse when they are set reach the check.
        raw(
            "http",
            json!([["connection", "upgrade"], ["upgrade", "h2c"]]),
            None,
        ),
        raw("http", json!([["host", "evil.test"]]), None),
        // Control: a plain request goes through.
        raw("http", json!([]), Some("hi")),
        // Refused by the setters, while the request is being built.
        json!({"op": "raw-http", "scheme": "http", "authority": "api test"}),
        json!({"op": "raw-http", "scheme": "ht tp", "authority": authority}),
        json!({"op": "raw-http", "scheme": "http", "authority": authority, "path": "/a b"}),
        json!({"op": "raw-http", "scheme": "http", "authority": authority, "method": "GE T"}),
        // Percent-encoded: refused wherever it is refused first.
        json!({"op": "raw-http", "scheme": "http", "authority": format!("%61pi.test:{port}")}),
    ];
    let (out, _) = run_many(&setup, &ops).await;
    assert_eq!(out[5]["status"], 200, "{out:?}");
    assert_eq!(out.len(), 11);
    for r in &out[..5] {
        assert!(r["err"].is_string(), "{out:?}");
    }
    assert_eq!(out[2]["step"], "handle", "{out:?}");
    assert_eq!(server.received().len(), 1);

    let records = denials(&setup);
    let reasons: Vec<&str> = records
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(records.len(), 10, "{records:?}");
    assert!(
        reasons[0].contains("the scheme `ftp` is not http or https"),
        "{reasons:?}"
    );
    assert_eq!(records[0]["target"], format!("ftp://{authority}/x"));
    assert!(reasons[1].contains("`gopher`"), "{reasons:?}");
    assert!(
        reasons[2].contains(
            "refused before it was checked: it declares a content-length but has no body"
        ),
        "{reasons:?}"
    );
    assert_eq!(records[2]["host"], "api.test", "{:?}", records[2]);
    assert_eq!(records[2]["method"], "POST");
    assert!(reasons[3].contains("`connection`"), "{reasons:?}");
    assert!(
        reasons[4].contains("`host` header (`evil.test`)"),
        "{reasons:?}"
    );
    for (i, (step, what)) in [
        ("authority", "its host `api test` is not valid"),
        ("scheme", "its scheme `ht tp` is not valid"),
        ("path", "its path `/a b` is not valid"),
        ("method", "its method `GE T` is not valid"),
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(out[6 + i]["step"], step, "{out:?}");
        assert!(reasons[5 + i].contains(what), "{reasons:?}");
    }
    assert!(out[10]["err"].is_string(), "{out:?}");
    assert!(reasons[9].contains("%61pi.test"), "{reasons:?}");
    assert_eq!(server.received().len(), 1);
}

/// A request over `http_requests` is judged by its grant first: one to an
/// undeclared origin, or carrying a secret outside its audience, is
/// refused for that, and only a request the grant allows is refused for
/// the limit. Every deny record names the destination and the secrets the
/// request carries, by name; no value appears anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_over_the_limit_is_judged_by_its_grant_first() {
    const GH_TOKEN: &str = "ghp_judged0first0value0123456789";
    let api = Server::http(Reply::echo);
    let other = Server::http(Reply::echo);
    let api_origin = format!("http://api.test:{}", api.port());
    let other_origin = format!("http://other.test:{}", other.port());
    let mut setup = Setup::new();
    let local = vec!["127.0.0.1".to_owned()];
    setup
        .network(
            &[],
            &["127.0.0.1"],
            &[("api.test", local.clone()), ("other.test", local)],
        )
        .secret("GH_TOKEN", GH_TOKEN)
        .secret("ELSEWHERE", "elsewhere-value-0123456789");
    setup.probe(
        &format!(
            "network = [\"{api_origin}\"]\nsecrets = [{{ name = \"GH_TOKEN\", send_to = [\"{api_origin}\"] }}, \
             {{ name = \"ELSEWHERE\", send_to = [\"https://elsewhere.test\"] }}]"
        ),
        "http_requests = 2",
    );
    let request = |origin: &str, path: &str, headers: &[(&str, &str)], body: &str| {
        json!({"op": "http", "method": "POST", "url": format!("{origin}{path}"),
               "headers": headers, "body": body})
    };
    let bearer = [("authorization", "Bearer {{secret:GH_TOKEN}}")];
    let ops = [
        // Refused by wasi-http before the checks (a length with no body),
        // with the secret its header carries named: the first request.
        json!({"op": "raw-http", "scheme": "http", "authority": api_origin.replace("http://", ""),
               "method": "POST", "headers": [["content-length", "5"], bearer[0]]}),
        // The second, and the last the limit allows.
        request(&api_origin, "/", &bearer, ""),
        // Over the limit from here on.
        request(&other_origin, "/", &[], ""),
        request(&other_origin, "/", &bearer, ""),
        request(&other_origin, "/repos/{{secret:GH_TOKEN}}", &[], ""),
        request(
            &api_origin,
            "/",
            &bearer,
            "{\"t\": \"{{secret:GH_TOKEN}}\"}",
        ),
        request(
            &api_origin,
            "/",
            &[("authorization", "Bearer {{secret:ELSEWHERE}}")],
            "",
        ),
        request(&api_origin, "/", &[], "{{secret:UNDECLARED}}"),
    ];
    let (out, outcome) = run_many(&setup, &ops).await;
    assert!(out[0]["err"].is_string(), "{out:?}");
    assert_eq!(out[1]["status"], 200, "{out:?}");
    assert_eq!(api.received().len(), 1);
    assert!(other.received().is_empty(), "nothing reaches other.test");

    let undeclared = format!(
        "{other_origin} is not a declared origin: the manifest would need network = [\"{other_origin}\"]"
    );
    // (reason, host, secrets) of each refused request, in order.
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "it declares a content-length but has no body",
            "api.test",
            &["GH_TOKEN"],
        ),
        (&undeclared, "other.test", &[]),
        (&undeclared, "other.test", &["GH_TOKEN"]),
        (&undeclared, "other.test", &["GH_TOKEN"]),
        (
            "the run already made 2 HTTP requests, its http_requests limit",
            "api.test",
            &["GH_TOKEN"],
        ),
        (
            "secret `ELSEWHERE` may be sent only to [https://elsewhere.test]",
            "api.test",
            &["ELSEWHERE"],
        ),
        (
            "{{secret:UNDECLARED}} names a secret the manifest does not declare",
            "api.test",
            &["UNDECLARED"],
        ),
    ];
    let records = denials(&setup);
    assert_eq!(records.len(), expected.len(), "{records:?}");
    assert_eq!(
        outcome.denials.len(),
        expected.len(),
        "{:?}",
        outcome.denials
    );
    for ((record, denial), (reason, host, secrets)) in
        records.iter().zip(&outcome.denials).zip(expected)
    {
        assert!(
            record["reason"].as_str().unwrap().contains(reason),
            "{reason}: {record}"
        );
        assert_eq!(record["host"], *host, "{record}");
        // Declared secrets by name; an undeclared one as the first (and
        // only) undeclared name.
        let mut named: Vec<&str> = record["secrets"].as_array().map_or(Vec::new(), |a| {
            a.iter().map(|s| s.as_str().unwrap()).collect()
        });
        named.extend(record["undeclared_secret"].as_str());
        assert_eq!(named, *secrets, "{record}");
        assert!(denial.reason.contains(reason), "{denial:?}");
        assert!(denial.target.contains(&format!("{host}:")), "{denial:?}");
    }
    for r in &out[2..] {
        assert!(r["err"].is_string(), "{out:?}");
    }
    assert!(
        out[5]["err"]
            .as_str()
            .unwrap()
            .contains("http_requests limit"),
        "only a request the grant allows hears of the limit: {out:?}"
    );
    assert!(
        !setup.audit_text().contains(GH_TOKEN),
        "the value is in the log"
    );
    assert!(!format!("{out:?}{outcome:?}").contains(GH_TOKEN));
}

/// The names of undeclared secrets are the action's to choose: a request
/// carrying thousands of them, long ones, is recorded with their count and
/// the first, cut, so that its record stays small.
#[tokio::test(flavor = "multi_thread")]
async fn made_up_secret_names_cannot_swell_a_record() {
    let api = Server::http(Reply::echo);
    let origin = format!("http://api.test:{}", api.port());
    let mut setup = Setup::new();
    setup.network(
        &[],
        &["127.0.0.1"],
        &[("api.test", vec!["127.0.0.1".into()])],
    );
    setup.probe(&format!("network = [\"{origin}\"]"), "");
    let long = "N".repeat(120);
    for (body, count) in [
        (
            (0..2000)
                .map(|i| format!("{{{{secret:{long}{i}}}}}"))
                .collect::<String>(),
            2000,
        ),
        ("{{secret:B}}{{secret:A}}{{secret:A}}".to_owned(), 2),
    ] {
        let op = json!({"op": "http", "method": "POST", "url": format!("{origin}/"), "body": body});
        let (out, _) = run_many(&setup, &[op]).await;
        assert!(out[0]["err"].is_string(), "{out:?}");
        let record = denials(&setup).pop().unwrap();
        assert_eq!(record["undeclared_secrets"], count, "{record}");
        let first = record["undeclared_secret"].as_str().unwrap();
        assert!(first.len() <= 36, "{first}");
        assert!(
            record.to_string().len() < 2048,
            "{} bytes",
            record.to_string().len()
        );
    }
    assert!(api.received().is_empty());
}
