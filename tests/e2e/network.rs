//! The network in this version: every HTTP request is refused and
//! recorded; raw sockets and name lookup are refused and recorded.

use airlock_tests::{Setup, output};
use serde_json::json;
use std::net::TcpListener;

#[tokio::test(flavor = "multi_thread")]
async fn http_requests_are_refused_recorded_and_never_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut setup = Setup::new();
    setup.probe(&format!("network = [\"http://{addr}\"]"), "");
    let host = setup.host();
    let ops = json!({"op": "many", "ops": [
        {"op": "http", "url": format!("http://{addr}/declared?token=abc")},
        {"op": "http", "url": "https://undeclared.example/path"},
    ]});
    let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
    let out = output(&outcome);
    for r in out.as_array().unwrap() {
        assert!(
            r["err"].as_str().unwrap().contains("HttpRequestDenied"),
            "{out}"
        );
    }
    assert!(listener.accept().is_err(), "nothing may reach the server");
    let requests = setup.events("net.request");
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0]["target"],
        format!("http://{addr}/declared"),
        "the query string is not recorded"
    );
    assert_eq!(requests[0]["method"], "GET");
    let undeclared = &outcome.denials[1];
    assert!(
        undeclared
            .reason
            .contains("network = [\"https://undeclared.example\"]"),
        "{}",
        undeclared.reason
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
