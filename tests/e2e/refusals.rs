//! Refusals have a budget: past `[limits] refusals` a run's refused host
//! calls are counted in one record instead of one each, and the run ends
//! with the `refusals` limit — whatever kind of call was refused, and
//! whatever the action does next. Other runs are unaffected.

use airlock::{Failure, LimitExceeded};
use airlock_tests::Setup;
use serde_json::{Value, json};

const BUDGET: u64 = 5;

fn setup() -> Setup {
    let mut setup = Setup::new();
    setup.policy(&format!("[limits]\nrefusals = {BUDGET}\ntimeout = \"30s\""));
    setup.mount("work", "read");
    setup.probe(
        "files = [{ mount = \"work\", access = \"read\" }]",
        "timeout = \"30s\"",
    );
    setup
}

/// `n` refused calls of each kind the tests use.
fn refused(kind: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| match kind {
            "secret" => json!({"op": "secret", "name": format!("UNDECLARED_{i}")}),
            "http" => json!({"op": "http", "url": format!("http://undeclared-{i}.test/")}),
            "file" => json!({"op": "write", "path": format!("/work/f{i}"), "data": "x"}),
            _ => unreachable!(),
        })
        .collect()
}

fn assert_refusal_limit(result: &Result<String, Failure>) {
    match result {
        Err(Failure::Limit(LimitExceeded::Refusals(n))) => assert_eq!(u64::from(*n), BUDGET),
        other => panic!("expected the refusals limit, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_refusals_is_one_record_and_ends_the_run() {
    for kind in ["secret", "http", "file"] {
        let setup = setup();
        let host = setup.host();
        let ops = json!({"op": "many", "ops": refused(kind, 200)});
        let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
        assert_refusal_limit(&outcome.result);
        // A refused write closes the intent written before it, so the one
        // that goes past the budget is written too.
        let written = match kind {
            "file" => BUDGET + 1,
            _ => BUDGET,
        };
        assert_eq!(outcome.denials.len() as u64, written, "{kind}");

        let records = setup.records();
        let denied = records.iter().filter(|r| r["decision"] == "deny").count() as u64;
        assert_eq!(
            denied, written,
            "{kind}: only the budget is written one by one"
        );
        let summary = setup.events("refusals.dropped");
        // A write past the budget is written to close its intent, and ends
        // the run; if the run is stopped before its next refused call,
        // nothing was dropped and there is nothing to summarise.
        if !(kind == "file" && summary.is_empty()) {
            assert_eq!(summary.len(), 1, "{kind}");
            let summary = &summary[0];
            assert_eq!(summary["budget"], BUDGET);
            let count = summary["count"].as_u64().unwrap();
            assert!((1..=200 - BUDGET).contains(&count), "{kind}: {summary}");
            let by: u64 = summary["by"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["count"].as_u64().unwrap())
                .sum();
            assert_eq!(by, count, "{summary}");
            assert!(summary["first"]["target"].is_string(), "{summary}");
            assert!(summary["last"]["reason"].is_string(), "{summary}");
        }
        let end = setup.events("run.end").pop().unwrap();
        assert_eq!(end["outcome"], "limit");
        assert!(end["error"].as_str().unwrap().contains("refusals"), "{end}");
        drop(host);
        airlock::audit::verify::verify_file(&setup.audit_path()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_past_its_budget_is_stopped_even_while_it_computes() {
    let setup = setup();
    let host = setup.host();
    let mut ops = refused("secret", BUDGET as usize + 1);
    ops.push(json!({"op": "spin"}));
    let outcome = host
        .invoke("probe", &json!({"op": "many", "ops": ops}).to_string())
        .await
        .unwrap();
    // Stopped by the budget, not by its 30-second timeout.
    assert_refusal_limit(&outcome.result);
    assert!(outcome.duration.as_secs() < 25, "{:?}", outcome.duration);
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_within_the_budget_and_other_runs_are_unaffected() {
    let setup = setup();
    let host = setup.host();
    let flood = json!({"op": "many", "ops": refused("secret", 50)}).to_string();
    let within = json!({"op": "many", "ops": refused("secret", BUDGET as usize)}).to_string();
    let (a, b) = tokio::join!(host.invoke("probe", &flood), host.invoke("probe", &within),);
    assert_refusal_limit(&a.unwrap().result);
    let b = b.unwrap();
    assert!(b.result.is_ok(), "{:?}", b.result);
    assert_eq!(b.denials.len() as u64, BUDGET);
    assert_eq!(setup.events("refusals.dropped").len(), 1);
}
