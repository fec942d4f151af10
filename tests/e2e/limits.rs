//! Limits end a run with a failure that names the limit.

use airlock::Prelink;
use airlock::{Failure, Host, LimitExceeded, Policy};
use airlock_tests::Setup;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    let mut setup = Setup::new();
    setup.probe("", r#"memory = "24 MiB""#);
    let host = setup.host();
    let outcome = host
        .invoke("probe", r#"{"op": "alloc", "mib": 512}"#)
        .await
        .unwrap();
    match &outcome.result {
        Err(Failure::Limit(LimitExceeded::Memory(limit))) => {
            assert_eq!(limit.to_string(), "24 MiB")
        }
        other => panic!("expected the memory limit, got {other:?}"),
    }
    assert!(outcome.peak_memory <= 24 << 20, "{}", outcome.peak_memory);
    let end = setup.events("run.end").pop().unwrap();
    assert_eq!(end["outcome"], "limit");
    assert!(
        end["error"]
            .as_str()
            .unwrap()
            .contains("memory limit of 24 MiB exceeded")
    );
    // Within the limit, the same action succeeds.
    let ok = host
        .invoke("probe", r#"{"op": "alloc", "mib": 4}"#)
        .await
        .unwrap();
    assert!(ok.result.is_ok(), "{:?}", ok.result);
}

/// `airlock run`'s host: its engine and linker built before the policy was
/// read, on a thread of their own. Nothing of a run's grant lives in them,
/// so the memory grant and the timeout hold as in a host built at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_host_whose_engine_was_built_ahead_enforces_the_grant() {
    let mut setup = Setup::new();
    setup.probe("", "memory = \"24 MiB\"\ntimeout = \"300ms\"");
    setup.write_policy();
    let policy = Policy::load(&setup.policy_path()).unwrap();
    let host = Host::builder(policy)
        .prelinked(Prelink::start().unwrap())
        .build()
        .unwrap();
    let bomb = host
        .invoke("probe", r#"{"op": "alloc", "mib": 512}"#)
        .await
        .unwrap();
    assert!(
        matches!(&bomb.result, Err(Failure::Limit(LimitExceeded::Memory(l))) if l.to_string() == "24 MiB"),
        "{:?}",
        bomb.result
    );
    let spin = host.invoke("probe", r#"{"op": "spin"}"#).await.unwrap();
    assert!(
        matches!(spin.result, Err(Failure::Limit(LimitExceeded::Timeout(t))) if t == Duration::from_millis(300)),
        "{:?}",
        spin.result
    );
    let ok = host
        .invoke("probe", r#"{"op": "alloc", "mib": 4}"#)
        .await
        .unwrap();
    assert!(ok.result.is_ok(), "{:?}", ok.result);
    assert_eq!(setup.events("run.end").len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_is_stopped_by_the_timeout() {
    let mut setup = Setup::new();
    setup.probe("", r#"timeout = "300ms""#);
    let host = setup.host();
    let started = Instant::now();
    let outcome = host.invoke("probe", r#"{"op": "spin"}"#).await.unwrap();
    assert!(
        matches!(outcome.result, Err(Failure::Limit(LimitExceeded::Timeout(t))) if t == Duration::from_millis(300)),
        "{:?}",
        outcome.result
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_blocked_in_the_host_is_stopped_by_the_timeout() {
    let mut setup = Setup::new();
    setup.probe("", r#"timeout = "300ms""#);
    let host = setup.host();
    let started = Instant::now();
    let outcome = host
        .invoke("probe", r#"{"op": "sleep", "ms": 60000}"#)
        .await
        .unwrap();
    assert!(
        matches!(
            outcome.result,
            Err(Failure::Limit(LimitExceeded::Timeout(_)))
        ),
        "{:?}",
        outcome.result
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_output_over_the_limit_is_refused() {
    let mut setup = Setup::new();
    setup.probe("", r#"output = "1 KiB""#);
    let host = setup.host();
    let outcome = host
        .invoke("probe", &json!({"op": "output", "bytes": 4096}).to_string())
        .await
        .unwrap();
    assert!(
        matches!(&outcome.result, Err(Failure::Limit(LimitExceeded::Output { size, .. })) if *size > 4096),
        "{:?}",
        outcome.result
    );
    let small = host
        .invoke("probe", &json!({"op": "output", "bytes": 100}).to_string())
        .await
        .unwrap();
    assert!(small.result.is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_policy_lowers_what_the_manifest_asks_for() {
    let mut setup = Setup::new();
    setup.policy("[limits]\nmemory = \"24 MiB\"");
    setup.probe("", r#"memory = "1 GiB""#);
    let host = setup.host();
    let action = host.action("probe").unwrap();
    assert_eq!(action.grant().limits.memory.to_string(), "24 MiB");
    let outcome = action
        .invoke(r#"{"op": "alloc", "mib": 64}"#)
        .await
        .unwrap();
    assert!(
        matches!(
            outcome.result,
            Err(Failure::Limit(LimitExceeded::Memory(_)))
        ),
        "{:?}",
        outcome.result
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_trap_with_its_message() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let outcome = host
        .invoke("probe", r#"{"op": "panic", "message": "boom at step 3"}"#)
        .await
        .unwrap();
    match &outcome.result {
        Err(Failure::Trap(message)) => assert!(message.contains("boom at step 3"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}
