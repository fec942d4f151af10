//! The network: only declared origins, checked before DNS; names that
//! resolve to blocked addresses refused unless granted by address; TLS
//! checked against the host name; no redirects followed; limits per run;
//! every request one `net.request` record. Real HTTP and HTTPS servers on
//! 127.0.0.1; names point there through the policy's `[network.hosts]`.

use airlock_tests::server::{Reply, Server, TestCa};
use airlock_tests::{Setup, output, run_many};
use serde_json::{Value, json};
use std::net::TcpListener;

fn get(url: &str) -> Value {
    json!({"op": "http", "url": url})
}

/// `[network.hosts]` entries pointing each of `names` at 127.0.0.1.
fn local<'a>(names: &[&'a str]) -> Vec<(&'a str, Vec<String>)> {
    names
        .iter()
        .map(|n| (*n, vec!["127.0.0.1".to_owned()]))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_request_works_and_is_recorded() {
    let server = Server::http(|r| Reply::ok(format!("hello {}", r.text())));
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["api.test"]));
    setup.probe(&format!("network = [\"http://api.test:{port}\"]"), "");
    let op = json!({"op": "http", "method": "POST", "url": format!("http://api.test:{port}/v1/items?token=abc"),
        "headers": [["x-request", "42"]], "body": "world"});
    let (out, outcome) = run_many(&setup, &[op]).await;
    assert_eq!(out[0]["status"], 200, "{out:?}");
    assert_eq!(out[0]["body"], "hello world");
    assert!(outcome.denials.is_empty(), "{:?}", outcome.denials);

    let got = server.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/v1/items?token=abc")
    );
    assert_eq!(
        got[0].header("host"),
        Some(format!("api.test:{port}").as_str())
    );
    assert_eq!(got[0].header("x-request"), Some("42"));

    // Written ahead: the intent is on record before the request leaves,
    // and the result closes it.
    let all = setup.events("net.request");
    assert_eq!(all.len(), 2, "{all:?}");
    let (intent, result) = (&all[0], &all[1]);
    assert_eq!(
        (intent["phase"].as_str(), result["phase"].as_str()),
        (Some("intent"), Some("result"))
    );
    assert_eq!(result["intent"], intent["seq"]);
    assert_eq!(intent["target"], result["target"]);
    assert!(
        intent.get("status").is_none(),
        "the intent precedes the response"
    );
    let records = setup.outcomes("net.request");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["method"], "POST");
    assert_eq!(
        (r["scheme"].as_str(), r["host"].as_str()),
        (Some("http"), Some("api.test"))
    );
    assert_eq!(r["port"], port);
    assert_eq!(r["path"], "/v1/items", "the query string is not recorded");
    assert_eq!(r["target"], format!("http://api.test:{port}/v1/items"));
    assert_eq!(r["resolved"], json!([format!("127.0.0.1:{port}")]));
    assert_eq!(r["resolved_by"], "policy");
    assert_eq!(r["address"], format!("127.0.0.1:{port}"));
    assert_eq!(r["status"], 200);
    assert_eq!(
        (r["bytes_out"].as_u64(), r["bytes_in"].as_u64()),
        (Some(5), Some(11))
    );
    assert!(r["duration_ms"].is_u64());
    assert!(!setup.audit_text().contains("token=abc"));
}

#[tokio::test(flavor = "multi_thread")]
async fn https_checks_the_certificate_against_the_host_name() {
    let mut setup = Setup::new();
    let ca = TestCa::new(setup.path());
    let server = Server::https(&ca, &["api.test"], |_| Reply::ok("secure"));
    let port = server.port();
    setup.network(
        &[ca.pem_file()],
        &["127.0.0.1"],
        &local(&["api.test", "other.test"]),
    );
    setup.probe(
        &format!("network = [\"https://api.test:{port}\", \"https://other.test:{port}\"]"),
        "",
    );
    let (out, _) = run_many(
        &setup,
        &[
            get(&format!("https://api.test:{port}/")),
            // The same server under a name its certificate does not carry.
            get(&format!("https://other.test:{port}/")),
        ],
    )
    .await;
    assert_eq!(out[0]["status"], 200, "{out:?}");
    assert_eq!(out[0]["body"], "secure");
    assert!(
        out[1]["err"]
            .as_str()
            .unwrap()
            .contains("TlsCertificateError"),
        "{out:?}"
    );
    assert_eq!(server.received().len(), 1);

    // Without the operator's CA the certificate is not trusted.
    let mut untrusted = Setup::new();
    untrusted.network(&[], &["127.0.0.1"], &local(&["api.test"]));
    untrusted.probe(&format!("network = [\"https://api.test:{port}\"]"), "");
    let (out, _) = run_many(&untrusted, &[get(&format!("https://api.test:{port}/"))]).await;
    assert!(
        out[0]["err"]
            .as_str()
            .unwrap()
            .contains("TlsCertificateError"),
        "{out:?}"
    );
    let r = &untrusted.outcomes("net.request")[0];
    assert_eq!(r["decision"], "allow");
    assert!(r["error"].as_str().unwrap().contains("certificate"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_declared_origin_is_reached_and_the_check_comes_before_dns() {
    let server = Server::http(|_| Reply::ok("reached"));
    let port = server.port();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_port = other.local_addr().unwrap().port();
    other.set_nonblocking(true).unwrap();
    let mut setup = Setup::new();
    // Every name points at the server: only the grant check keeps them out.
    setup.network(
        &[],
        &["127.0.0.1"],
        &local(&[
            "api.test",
            "evil.test",
            "api.test.evil.test",
            "sub.api.test",
        ]),
    );
    setup.probe(&format!("network = [\"http://api.test:{port}\"]"), "");
    let refused = [
        format!("http://evil.test:{port}/"),
        format!("http://api.test:{other_port}/"),
        format!("https://api.test:{port}/"),
        format!("http://api.test.evil.test:{port}/"),
        format!("http://sub.api.test:{port}/"),
        format!("http://api.test@evil.test:{port}/"),
        format!("http://evil.test@api.test:{port}/"),
        format!("http://%61pi.test:{port}/"),
        format!("http://127.0.0.1:{port}/"),
    ];
    let mut ops: Vec<Value> = refused.iter().map(|u| get(u)).collect();
    ops.push(get(&format!("http://API.Test.:{port}/mixed")));
    let (out, outcome) = run_many(&setup, &ops).await;
    for (i, url) in refused.iter().enumerate() {
        let err = out[i]["err"]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: {}", out[i]));
        // wasi:http itself refuses a percent-encoded authority while the
        // request is built (and airlock records that); airlock's check
        // would refuse it too.
        let kind = if url.contains('%') {
            "Request"
        } else {
            "Denied"
        };
        assert_eq!(out[i]["kind"], kind, "{url}: {err}");
    }
    assert_eq!(out[refused.len()]["status"], 200, "{out:?}");
    let got = server.received();
    assert_eq!(got.len(), 1, "only the declared origin is reached: {got:?}");
    assert_eq!(got[0].target, "/mixed");
    assert_eq!(
        got[0].header("host"),
        Some(format!("api.test:{port}").as_str())
    );
    assert!(other.accept().is_err());

    let records = setup.outcomes("net.request");
    // Every request is a record, the one wasi:http refused itself too.
    assert_eq!(records.len(), ops.len());
    assert!(
        records[7]["reason"]
            .as_str()
            .unwrap()
            .contains("its host `%61pi.test"),
        "{}",
        records[7]
    );
    for r in &records[..refused.len()] {
        assert_eq!(r["decision"], "deny", "{r}");
        assert!(
            r.get("resolved").is_none(),
            "refused before any lookup: {r}"
        );
    }
    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons[0].contains(&format!("network = [\"http://evil.test:{port}\"]")),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains(&format!("network = [\"https://api.test:{port}\"]")),
        "{reasons:?}"
    );
    assert!(reasons[5].contains("names a user"), "{reasons:?}");
    assert!(reasons[6].contains("names a user"), "{reasons:?}");
    assert_eq!(
        outcome.denials[0].target,
        format!("http://evil.test:{port}/")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_resolve_to_blocked_addresses_are_refused_unless_granted() {
    let server = Server::http(|_| Reply::ok("internal"));
    let port = server.port();
    let hosts = vec![
        ("internal.test", vec!["127.0.0.1".to_owned()]),
        ("mapped.test", vec!["::ffff:127.0.0.1".to_owned()]),
        ("metadata.test", vec!["169.254.169.254".to_owned()]),
        (
            "mixed.test",
            vec!["93.184.216.34".to_owned(), "127.0.0.1".to_owned()],
        ),
    ];
    let network = format!(
        "network = [\"http://internal.test:{port}\", \"http://mapped.test:{port}\", \"http://metadata.test\", \"http://mixed.test:{port}\"]"
    );
    let ops = [
        get(&format!("http://internal.test:{port}/")),
        get(&format!("http://mapped.test:{port}/")),
        get("http://metadata.test/latest/meta-data/"),
        get(&format!("http://mixed.test:{port}/")),
    ];

    let mut setup = Setup::new();
    setup.network(&[], &[], &hosts);
    setup.probe(&network, "");
    let (out, outcome) = run_many(&setup, &ops).await;
    for r in &out {
        assert_eq!(r["kind"], "Denied", "{out:?}");
        assert!(r["err"].as_str().unwrap().contains("address"), "{r}");
    }
    assert!(
        server.received().is_empty(),
        "nothing reaches a blocked address"
    );
    let reasons: Vec<&str> = outcome.denials.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons[0].contains("internal.test resolves to 127.0.0.1, a loopback address")
            && reasons[0].contains(&format!("network = [\"http://127.0.0.1:{port}\"]"))
            && reasons[0].contains("allow_private = [\"127.0.0.1\"]"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("loopback"), "{reasons:?}");
    assert!(
        reasons[2].contains("169.254.169.254, a link-local"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].contains("127.0.0.1"),
        "one blocked address is enough: {reasons:?}"
    );
    let r = &setup.outcomes("net.request")[0];
    assert_eq!(r["resolved"], json!([format!("127.0.0.1:{port}")]));
    assert!(r.get("address").is_none(), "never connected: {r}");

    // Granted by address in the manifest: reached.
    let mut granted = Setup::new();
    granted.network(&[], &[], &hosts);
    granted.probe(
        &format!("network = [\"http://internal.test:{port}\", \"http://127.0.0.1:{port}\"]"),
        "",
    );
    let (out, _) = run_many(&granted, &ops[..1]).await;
    assert_eq!(out[0]["status"], 200, "{out:?}");

    assert_eq!(server.received().len(), 1);

    // Named by the operator: reached, and only that block. (Not the mixed
    // name: its public address is never to be connected to from a test.)
    let mut allowed = Setup::new();
    allowed.network(&[], &["127.0.0.0/8"], &hosts);
    allowed.probe(&network, "");
    let (out, _) = run_many(&allowed, &ops[..3]).await;
    assert_eq!(out[0]["status"], 200, "{out:?}");
    assert_eq!(out[1]["status"], 200, "{out:?}");
    assert_eq!(out[2]["kind"], "Denied", "{out:?}");
    assert_eq!(server.received().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_not_followed_and_the_next_hop_is_checked() {
    let elsewhere = Server::http(|_| Reply::ok("should not be reached"));
    let target = format!("http://elsewhere.test:{}/loot", elsewhere.port());
    let location = target.clone();
    let start = Server::http(move |_| Reply::redirect(&location));
    let mut setup = Setup::new();
    setup.network(
        &[],
        &["127.0.0.1"],
        &local(&["start.test", "elsewhere.test"]),
    );
    setup.probe(
        &format!("network = [\"http://start.test:{}\"]", start.port()),
        "",
    );
    let op =
        json!({"op": "http", "url": format!("http://start.test:{}/", start.port()), "follow": 1});
    let (out, outcome) = run_many(&setup, &[op]).await;
    assert_eq!(
        out[0]["status"], 302,
        "the action sees the redirect: {out:?}"
    );
    assert_eq!(out[0]["next"]["kind"], "Denied", "{out:?}");
    assert!(elsewhere.received().is_empty());
    // The 302's result is written while the action goes on (step 10), so
    // it may land after the next hop's refusal: find each by its target.
    let records = setup.outcomes("net.request");
    assert_eq!(records.len(), 2, "{records:?}");
    let record = |t: &str| {
        records
            .iter()
            .find(|r| r["target"] == t)
            .unwrap_or_else(|| panic!("no record of {t}: {records:?}"))
    };
    let first = record(&format!("http://start.test:{}/", start.port()));
    assert_eq!(
        (first["decision"].as_str(), first["status"].as_u64()),
        (Some("allow"), Some(302))
    );
    assert_eq!(record(&target)["decision"], "deny");
    assert_eq!(outcome.denials[0].target, target);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_over_the_cap_are_cut_with_a_clear_error() {
    let server = Server::http(|_| Reply::ok(vec![b'x'; 4096]));
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["big.test"]));
    setup.probe(
        &format!("network = [\"http://big.test:{port}\"]"),
        "http_response_body = \"1 KiB\"",
    );
    let url = format!("http://big.test:{port}/");
    let (out, outcome) = run_many(
        &setup,
        &[get(&url), json!({"op": "http", "url": url, "max": 100})],
    )
    .await;
    assert_eq!(out[0]["kind"], "ResponseTooLarge", "{out:?}");
    assert!(
        out[0]["err"]
            .as_str()
            .unwrap()
            .contains("exceeds limit: 1024 bytes"),
        "{out:?}"
    );
    assert_eq!(out[1]["kind"], "ResponseTooLarge", "{out:?}");
    assert!(
        out[1]["err"].as_str().unwrap().contains("100 bytes"),
        "{out:?}"
    );
    let r = &setup.outcomes("net.request")[0];
    assert_eq!(
        (r["response_cut_at"].as_u64(), r["bytes_in"].as_u64()),
        (Some(1024), Some(1024))
    );
    assert!(outcome.denials.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn request_count_and_body_limits_hold() {
    let server = Server::http(|_| Reply::ok("ok"));
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["api.test"]));
    setup.probe(
        &format!("network = [\"http://api.test:{port}\"]"),
        "http_requests = 2\nhttp_request_body = \"16 B\"",
    );
    let url = format!("http://api.test:{port}/");
    let post = |body: &str| json!({"op": "http", "method": "POST", "url": url, "body": body});
    let (out, outcome) = run_many(&setup, &[post(&"y".repeat(17)), get(&url), get(&url)]).await;
    assert_eq!(out[0]["kind"], "Denied", "{out:?}");
    assert_eq!(out[1]["status"], 200, "{out:?}");
    assert_eq!(out[2]["kind"], "Denied", "{out:?}");
    assert_eq!(server.received().len(), 1);
    assert!(
        outcome.denials[0]
            .reason
            .contains("http_request_body limit of 16 B"),
        "{:?}",
        outcome.denials
    );
    assert!(
        outcome.denials[1].reason.contains("http_requests"),
        "{:?}",
        outcome.denials
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_and_name_lookup_are_refused_and_recorded() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let ops = json!({"op": "many", "ops": [
        {"op": "tcp", "addr": addr.to_string()},
        {"op": "dns", "host": "localhost"},
    ]});
    let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
    let out = output(&outcome);
    assert!(
        out[0].get("err").is_some() && out[1].get("err").is_some(),
        "{out}"
    );
    assert!(listener.accept().is_err(), "nothing may reach the listener");
    let kinds: Vec<_> = setup
        .events("net.socket")
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kinds.contains(&"tcp".to_owned()) && kinds.contains(&"dns".to_owned()),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_the_run_outlived_is_recorded_before_the_run_ends() {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let server = Server::http(move |_| {
        // Answer only when the test is over.
        let _ = wait.lock().unwrap().recv();
        Reply::ok("late")
    });
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["slow.test"]));
    setup.probe(
        &format!("network = [\"http://slow.test:{port}\"]"),
        "timeout = \"1s\"",
    );
    let outcome = setup
        .host()
        .invoke(
            "probe",
            &get(&format!("http://slow.test:{port}/")).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.result.unwrap_err().to_string(),
        "timeout of 1s exceeded"
    );
    let records = setup.records();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["run.start", "net.request", "net.request", "run.end"],
        "{records:?}"
    );
    assert_eq!(records[1]["phase"], "intent");
    let r = &records[2];
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["error"], "the run ended before the response was read");
    assert_eq!(r["address"].as_str(), None);
    assert_eq!(server.received().len(), 1, "it was sent");
    drop(release);
}

/// An answered request's record is written beside its response rather than
/// before it. It still closes its intent before the run ends, whichever
/// writes it: the task beside the response, or the run's end when that
/// comes first.
#[tokio::test(flavor = "multi_thread")]
async fn every_answered_request_is_recorded_before_its_run_ends() {
    let server = Server::http(|_| Reply::ok("x"));
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["api.test"]));
    setup.probe(
        &format!("network = [\"http://api.test:{port}\"]"),
        "http_requests = 20",
    );
    let ops = vec![get(&format!("http://api.test:{port}/")); 20];
    for _ in 0..5 {
        let (out, _) = run_many(&setup, &ops).await;
        assert!(out.iter().all(|r| r["status"] == 200), "{out:?}");
    }

    let records = setup.records();
    let mut ended = std::collections::BTreeSet::new();
    for r in &records {
        let Some(run) = r["run"].as_str() else {
            continue;
        };
        assert!(!ended.contains(run), "a record after its run's end: {r}");
        if r["event"] == "run.end" {
            ended.insert(run.to_owned());
        }
    }
    assert_eq!(ended.len(), 5);
    let results = setup.outcomes("net.request");
    assert_eq!(results.len(), 100);
    assert!(
        results
            .iter()
            .all(|r| r["decision"] == "allow" && r["status"] == 200 && r["phase"] == "result"),
        "{results:?}"
    );
    let report = airlock::audit::verify::verify_file(&setup.audit_path()).unwrap();
    assert!(report.open_intents.is_empty(), "{:?}", report.open_intents);
    assert_eq!(server.received().len(), 100);
}

/// The log fails (through the library's fault injector) at every record of
/// a run of three requests — intents, the results written beside their
/// responses, the run's end: the run fails with `audit unavailable` (or
/// never starts), no request leaves without its intent on record, and once
/// the log takes writes again and the host seals it (writing first what was
/// owed) it verifies with every intent closed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_log_stops_requests_and_fails_the_run() {
    use airlock::audit::verify::verify_file;
    use airlock::audit::{Fault, Faults};
    use airlock::{Error, Failure, Host, Policy};

    let server = Server::http(|_| Reply::ok("x"));
    let port = server.port();
    let mut setup = Setup::new();
    setup.network(&[], &["127.0.0.1"], &local(&["api.test"]));
    setup.probe(&format!("network = [\"http://api.test:{port}\"]"), "");
    setup.write_policy();
    let op = json!({"op": "many", "ops": vec![get(&format!("http://api.test:{port}/")); 3]});
    let mut sent = 0;
    for fault in [Fault::Write, Fault::Sync] {
        for after in 1..9 {
            let ctx = format!("{fault:?} after {after}");
            let faults = Faults::new();
            let host = Host::builder(Policy::load(&setup.policy_path()).unwrap())
                .audit_faults(faults.clone())
                .build()
                .unwrap();
            faults.fail(fault, after);
            match host.invoke("probe", &op.to_string()).await {
                Ok(outcome) => match outcome.result {
                    Err(Failure::Host(e)) => {
                        assert!(e.to_string().contains("audit unavailable"), "{ctx}: {e}")
                    }
                    other => panic!("{ctx}: expected audit unavailable, got {other:?}"),
                },
                Err(Error::Audit(_)) => {}
                Err(e) => panic!("{ctx}: {e}"),
            }
            faults.heal();
            // Sealing the log writes first what the failure left owed.
            host.seal().unwrap();
            drop(host);
            let intents = setup
                .events("net.request")
                .into_iter()
                .filter(|r| r["phase"] == "intent")
                .count();
            sent = server.received().len();
            assert!(sent <= intents, "{ctx}: {sent} sent, {intents} intents");
            let report = verify_file(&setup.audit_path()).unwrap_or_else(|f| panic!("{ctx}: {f}"));
            assert!(
                report.open_intents.is_empty(),
                "{ctx}: {:?}",
                report.open_intents
            );
        }
    }
    assert!(sent > 0, "some runs got as far as a request");
}
