//! The audit log: a run is recorded from start to end, any tampering is
//! detected, and a log that cannot be written stops the run.

use airlock::audit::verify::{Reason, verify_file};
use airlock::{Error, Host, Policy};
use airlock_tests::Setup;

async fn three_runs(setup: &mut Setup) {
    setup.probe("", "");
    let host = setup.host();
    for i in 0..3 {
        let op = format!(r#"{{"op": "log", "message": "run {i}"}}"#);
        host.invoke("probe", &op).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_recorded_from_start_to_end() {
    let mut setup = Setup::new();
    three_runs(&mut setup).await;
    let records = setup.records();
    let start = &records[0];
    assert_eq!(start["event"], "run.start");
    assert_eq!(start["action"], "probe@1.0.0");
    assert!(start["grant"]["limits"]["memory"].is_string());
    assert_eq!(start["input_sha256"].as_str().unwrap().len(), 64);
    let end = &records[2];
    assert_eq!(end["event"], "run.end");
    assert_eq!(end["outcome"], "ok");
    for field in [
        "duration_ms",
        "peak_memory",
        "output_sha256",
        "output_bytes",
    ] {
        assert!(end.get(field).is_some(), "run.end has no {field}: {end}");
    }
    let report = verify_file(&setup.audit_path()).unwrap();
    assert_eq!(report.records, 9);
    assert!(report.head_checked);
}

fn rewrite(setup: &Setup, edit: impl FnOnce(&mut Vec<String>)) {
    let mut lines: Vec<String> = setup.audit_text().lines().map(str::to_owned).collect();
    edit(&mut lines);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(setup.audit_path(), text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_reorders_and_truncation_are_detected() {
    let mut setup = Setup::new();
    three_runs(&mut setup).await;
    let original = setup.audit_text();
    type Edit = Box<dyn FnOnce(&mut Vec<String>)>;
    let cases: Vec<(&str, Edit, Reason)> = vec![
        (
            "edit",
            Box::new(|l| l[4] = l[4].replace("run 1", "run 7")),
            Reason::ChainBreak,
        ),
        ("reorder", Box::new(|l| l.swap(3, 4)), Reason::SeqGap),
        ("delete", Box::new(|l| drop(l.remove(4))), Reason::SeqGap),
        ("truncate", Box::new(|l| l.truncate(6)), Reason::Truncated),
        (
            "edit last",
            Box::new(|l| l[8] = l[8].replace("\"ok\"", "\"trap\"")),
            Reason::HeadMismatch,
        ),
    ];
    for (name, edit, reason) in cases {
        std::fs::write(setup.audit_path(), &original).unwrap();
        rewrite(&setup, edit);
        let failure = verify_file(&setup.audit_path()).expect_err(name);
        assert_eq!(failure.reason, reason, "{name}: {failure}");
    }
    std::fs::write(setup.audit_path(), &original).unwrap();
    assert!(verify_file(&setup.audit_path()).is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_audit_log_stops_the_run_before_it_starts() {
    let mut setup = Setup::new();
    let out = setup.mount("out", "read-write");
    setup.probe(r#"files = [{ mount = "out", access = "read-write" }]"#, "");
    // /dev/full accepts the open and fails every write with ENOSPC.
    setup.policy("[audit]\npath = \"/dev/full\"");
    setup.write_policy();
    let policy = Policy::load(&setup.policy_path()).unwrap();
    let host = Host::builder(policy).build().unwrap();
    let op = r#"{"op": "write", "path": "/out/side-effect.txt", "data": "x"}"#;
    match host.invoke("probe", op).await {
        Err(Error::Audit(e)) => assert!(e.to_string().starts_with("audit unavailable"), "{e}"),
        other => panic!("expected the audit to stop the run, got {other:?}"),
    }
    assert!(
        !out.join("side-effect.txt").exists(),
        "nothing may happen unrecorded"
    );
}
