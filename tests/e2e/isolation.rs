//! Isolation: a fresh instance per invocation, no ambient authority, and
//! everything the action prints captured and recorded.

use airlock_tests::{Setup, output};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn no_state_survives_between_runs() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    for _ in 0..3 {
        let out = output(&host.invoke("probe", r#"{"op": "counter"}"#).await.unwrap());
        assert_eq!(out, json!({"ok": 1}), "a static counter survived a run");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_action_sees_no_environment_arguments_or_files() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let out = output(&host.invoke("probe", r#"{"op": "env"}"#).await.unwrap());
    assert_eq!(out["vars"], json!([]), "{out}");
    assert_eq!(out["args"], json!([]), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stdout_and_stderr_are_captured_and_recorded_never_inherited() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let print =
        json!({"op": "print", "stdout": "to stdout\nsecond line\n", "stderr": "to stderr\n"});
    host.invoke("probe", &print.to_string()).await.unwrap();
    let lines: Vec<_> = setup
        .events("log")
        .into_iter()
        .map(|r| {
            (
                r["level"].as_str().unwrap().to_owned(),
                r["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("stdout".to_owned(), "to stdout".to_owned()),
            ("stdout".to_owned(), "second line".to_owned()),
            ("stderr".to_owned(), "to stderr".to_owned())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_beyond_the_capture_limit_is_counted_not_kept() {
    let mut setup = Setup::new();
    setup.policy("[limits]\nstdio = \"1 KiB\"\nlog_records = 5");
    setup.probe("", "");
    let host = setup.host();
    let line = "x".repeat(99) + "\n";
    let print = json!({"op": "print", "stdout": line.repeat(30), "stderr": ""});
    let outcome = host.invoke("probe", &print.to_string()).await.unwrap();
    assert!(
        outcome.result.is_ok(),
        "printing too much does not fail a run"
    );
    assert_eq!(setup.events("log").len(), 5);
    // 1 KiB kept is 10 whole lines and a partial one: 11 lines, 6 over budget.
    assert_eq!(setup.events("log.dropped")[0]["lines"], 6);
    assert_eq!(setup.events("stdio.dropped")[0]["bytes"], 30 * 100 - 1024);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_invocations_are_isolated_and_each_fully_recorded() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let op = json!({"op": "many", "ops": [{"op": "log", "message": format!("task {i}")}, {"op": "counter"}]});
            host.invoke("probe", &op.to_string()).await.unwrap()
        }));
    }
    let mut runs = Vec::new();
    for task in tasks {
        let outcome = task.await.unwrap();
        assert_eq!(output(&outcome)[1], json!({"ok": 1}));
        runs.push(outcome.run);
    }
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 8, "every run has its own id");
    for run in &runs {
        let records: Vec<_> = setup
            .records()
            .into_iter()
            .filter(|r| &r["run"] == run)
            .collect();
        let kinds: Vec<_> = records
            .iter()
            .map(|r| r["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, ["run.start", "log", "run.end"], "run {run}");
    }
    assert_eq!(
        airlock::audit::verify::verify_file(&setup.audit_path())
            .unwrap()
            .records,
        24
    );
}
