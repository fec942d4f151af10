//! The audit log: a run is recorded from start to end with intents ahead of
//! every change, any tampering is detected, and a log that cannot be written
//! stops the run with nothing done unrecorded.

use airlock::audit::verify::{Reason, verify_file};
use airlock::audit::{Fault, Faults};
use airlock::{Error, Failure, Host, Policy};
use airlock_tests::Setup;
use serde_json::Value;

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
    assert_eq!(start["phase"], "single");
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
    // A signed checkpoint at the end of every run.
    assert_eq!((report.checkpoints, report.signed), (3, true));
    assert_eq!(report.latest.unwrap().size, 9);
}

/// Every change a run makes to the host's files is an intent, durable
/// before the call, closed by a result after it.
#[tokio::test(flavor = "multi_thread")]
async fn changes_are_written_ahead_as_intent_and_result() {
    let mut setup = Setup::new();
    let out = setup.mount("out", "read-write");
    setup.probe(r#"files = [{ mount = "out", access = "read-write" }]"#, "");
    let host = setup.host();
    let ops = r#"{"op": "many", "ops": [
        {"op": "write", "path": "/out/a.txt", "data": "x"},
        {"op": "mkdir", "path": "/out/d"},
        {"op": "rename", "from": "/out/a.txt", "to": "/out/d/b.txt"},
        {"op": "remove", "path": "/out/d/b.txt"},
        {"op": "read", "path": "/out/missing"}
    ]}"#;
    airlock_tests::output(&host.invoke("probe", ops).await.unwrap());
    assert!(out.join("d").is_dir());
    let records = setup.records();
    let mut pairs = Vec::new();
    for r in &records {
        match r["phase"].as_str().unwrap() {
            "intent" => pairs.push((
                r["event"].as_str().unwrap().to_owned(),
                r["target"].clone(),
                r["seq"].as_u64(),
            )),
            "result" => {
                let intent = r["intent"].as_u64();
                let opened = records
                    .iter()
                    .find(|i| i["seq"].as_u64() == intent)
                    .unwrap();
                assert_eq!(
                    (&opened["event"], &opened["target"]),
                    (&r["event"], &r["target"])
                );
                assert_eq!(opened["phase"], "intent");
            }
            _ => {}
        }
    }
    let kinds: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(e, t, _)| (e.as_str(), t.as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("file.open", "/out/a.txt"),
            ("file.mkdir", "/out/d"),
            ("file.rename", "/out/a.txt"),
            ("file.remove", "/out/d/b.txt"),
        ]
    );
    // Reading is recorded once, after the fact.
    let read = setup
        .events("file.open")
        .into_iter()
        .find(|r| r["target"] == "/out/missing")
        .unwrap();
    assert_eq!(read["phase"], "single");
    let report = verify_file(&setup.audit_path()).unwrap();
    assert!(report.open_intents.is_empty());
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
            Reason::LeafMismatch,
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
async fn an_audit_log_that_is_not_a_file_is_refused_before_anything_runs() {
    let mut setup = Setup::new();
    setup.probe("", "");
    setup.policy("[audit]\npath = \"/dev/full\"");
    setup.write_policy();
    let policy = Policy::load(&setup.policy_path()).unwrap();
    match Host::builder(policy).build() {
        Err(Error::Audit(e)) => assert!(e.to_string().starts_with("audit unavailable"), "{e}"),
        other => panic!("expected the audit to stop the host, got {other:?}"),
    }
}

/// Files in `out` that have no intent record for their path.
fn unrecorded(setup: &Setup, out: &std::path::Path) -> Vec<String> {
    let intents: Vec<Value> = setup
        .records()
        .into_iter()
        .filter(|r| r["phase"] == "intent")
        .collect();
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| format!("/out/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|p| !intents.iter().any(|r| r["target"] == p.as_str()))
        .collect()
}

/// Writes and syncs fail (through the library's fault injector) at every
/// point of a run: the host call that needed the record is refused, the
/// run ends with `audit unavailable`, new runs are refused until the log
/// takes writes again, and no file exists without its intent.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_log_refuses_the_call_and_new_runs_until_it_recovers() {
    for fault in [Fault::Write, Fault::TornWrite, Fault::Sync] {
        for after in 1..8 {
            let mut setup = Setup::new();
            let out = setup.mount("out", "read-write");
            setup.probe(r#"files = [{ mount = "out", access = "read-write" }]"#, "");
            setup.write_policy();
            let faults = Faults::new();
            let host = Host::builder(Policy::load(&setup.policy_path()).unwrap())
                .audit_faults(faults.clone())
                .build()
                .unwrap();
            let writes: Vec<String> = (0..6)
                .map(|i| format!(r#"{{"op": "write", "path": "/out/f{i}", "data": "x"}}"#))
                .collect();
            let op = format!(r#"{{"op": "many", "ops": [{}]}}"#, writes.join(","));
            faults.fail(fault, after);
            let ctx = format!("{fault:?} after {after}");
            match host.invoke("probe", &op).await {
                Ok(outcome) => match outcome.result {
                    Err(Failure::Host(e)) => {
                        assert!(e.to_string().contains("audit unavailable"), "{ctx}: {e}")
                    }
                    other => panic!("{ctx}: expected audit unavailable, got {other:?}"),
                },
                // The run's first record could not be written: it never started.
                Err(Error::Audit(_)) => {
                    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "{ctx}")
                }
                Err(e) => panic!("{ctx}: {e}"),
            }
            assert_eq!(unrecorded(&setup, &out), Vec::<String>::new(), "{ctx}");
            match host
                .invoke("probe", r#"{"op": "log", "message": "x"}"#)
                .await
            {
                Err(Error::Audit(_)) => {}
                other => {
                    panic!("{ctx}: a new run must be refused while the log fails, got {other:?}")
                }
            }
            faults.heal();
            let outcome = host
                .invoke("probe", r#"{"op": "log", "message": "x"}"#)
                .await
                .unwrap();
            airlock_tests::output(&outcome);
            drop(host);
            let report = verify_file(&setup.audit_path()).unwrap_or_else(|f| panic!("{ctx}: {f}"));
            assert!(
                report.open_intents.is_empty(),
                "{ctx}: {:?}",
                report.open_intents
            );
            // Every run that started has its end on the record, the failed
            // one's written once the log took writes again, and verify
            // lists a record written late.
            let records = setup.records();
            for start in records.iter().filter(|r| r["event"] == "run.start") {
                let end = records
                    .iter()
                    .find(|r| r["event"] == "run.end" && r["run"] == start["run"])
                    .unwrap_or_else(|| panic!("{ctx}: run {} has no end", start["run"]));
                if end["outcome"] == "host-error" {
                    assert!(
                        end["error"].as_str().unwrap().contains("audit unavailable"),
                        "{ctx}: {end}"
                    );
                }
                if end["late"] == true {
                    let seq = end["seq"].as_u64().unwrap();
                    assert!(
                        report.incidents.iter().any(|i| i.seq == seq),
                        "{ctx}: {:?}",
                        report.incidents
                    );
                }
            }
        }
    }
}

/// An engine tells apart, by the error's kind, a log another host holds
/// (retry), one changed behind the host's back (page a person), and
/// storage that fails (fail over).
#[tokio::test(flavor = "multi_thread")]
async fn an_audit_failure_says_which_kind_it_is() {
    use airlock::audit::AuditError;
    let mut setup = Setup::new();
    three_runs(&mut setup).await;
    let build = |setup: &Setup| {
        let policy = Policy::load(&setup.policy_path()).unwrap();
        Host::builder(policy).build()
    };

    // Held by another host, in this process or another.
    let holder = build(&setup).unwrap();
    match build(&setup) {
        Err(Error::Audit(AuditError::Busy(m))) => assert!(m.contains("another airlock host")),
        other => panic!("a held log: {other:?}"),
    }
    drop(holder);

    // A record edited after it was checkpointed.
    let log = setup.audit_path();
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("run 1", "run 7", 1)).unwrap();
    match build(&setup) {
        Err(Error::Audit(AuditError::Tampered(m))) => {
            assert!(m.contains("airlock audit verify"), "{m}")
        }
        other => panic!("an edited log: {other:?}"),
    }
    std::fs::write(&log, text).unwrap();

    // A write the file system refuses, mid-run: the run fails with the
    // storage error and its kind.
    let faults = Faults::default();
    let host = Host::builder(Policy::load(&setup.policy_path()).unwrap())
        .audit_faults(faults.clone())
        .build()
        .unwrap();
    // After the run's start: its log line is the write that fails.
    faults.fail(Fault::Write, 1);
    let outcome = host
        .invoke("probe", r#"{"op": "log", "message": "x"}"#)
        .await;
    let failure = match outcome {
        Ok(o) => o.result.unwrap_err(),
        Err(Error::Audit(e)) => Failure::Host(e),
        Err(e) => panic!("{e}"),
    };
    match failure {
        Failure::Host(AuditError::Storage { kind, .. }) => {
            assert_eq!(kind, std::io::ErrorKind::StorageFull)
        }
        other => panic!("a full disk: {other:?}"),
    }
}

/// A caller that names its runs in its own terms (a Temporal worker: the
/// workflow, the activity, the attempt) finds those names in the run's
/// `run.start`, and in the `run.refused` of an action refused before it
/// ran; bounded, however many and however long they are.
#[tokio::test(flavor = "multi_thread")]
async fn a_callers_context_is_recorded_with_its_run_and_its_refusals() {
    use airlock::Invocation;
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let long_value = "é".repeat(200); // 400 bytes of two-byte characters
    let mut how = Invocation::default()
        .caller("temporal:airlock@ci/w1")
        .context("temporal.workflow_id", "order-42")
        .context("k".repeat(100), long_value.as_str());
    for i in 0..30 {
        how = how.context(format!("extra.{i:02}"), "v");
    }

    let action = host.action_for("probe", &how).unwrap();
    let outcome = action
        .invoke_with(r#"{"op": "counter"}"#, &how)
        .await
        .unwrap();
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let start = setup.events("run.start").pop().unwrap();
    assert_eq!(start["caller"], "temporal:airlock@ci/w1");
    let context = start["context"].as_object().unwrap();
    assert_eq!(context.len(), Invocation::CONTEXT_ENTRIES, "{context:?}");
    assert_eq!(context["temporal.workflow_id"], "order-42");
    let (key, value) = context.iter().find(|(k, _)| k.starts_with("kk")).unwrap();
    assert_eq!(key.len(), 64);
    assert_eq!(
        value.as_str().unwrap(),
        "é".repeat(128),
        "cut on a character boundary"
    );
    assert!(context.contains_key("extra.00") && !context.contains_key("extra.29"));

    // Refused before running: the same names, no run.
    for name in ["nope", "also-nope"] {
        assert!(host.action_for(name, &how).is_err());
    }
    let refused = setup.events("run.refused");
    assert_eq!(refused.len(), 2);
    for r in &refused {
        assert_eq!(r["caller"], "temporal:airlock@ci/w1", "{r}");
        assert_eq!(r["context"]["temporal.workflow_id"], "order-42", "{r}");
        assert!(r.get("run").is_none(), "{r}");
    }
    // A request that is not a call at all: refused on the record, with the
    // caller's names and no action.
    host.refuse_request(&how, "the input is not a call")
        .unwrap();
    let request = setup.events("run.refused").pop().unwrap();
    assert_eq!(request["reason"], "the input is not a call", "{request}");
    assert_eq!(
        request["context"]["temporal.workflow_id"], "order-42",
        "{request}"
    );
    assert!(
        request.get("action").is_none() && request.get("run").is_none(),
        "{request}"
    );
    // Without a caller, neither field.
    assert!(host.action("nope").is_err());
    let plain = setup.events("run.refused").pop().unwrap();
    assert!(
        plain.get("caller").is_none() && plain.get("context").is_none(),
        "{plain}"
    );
    // And an invocation without context records none.
    action.invoke(r#"{"op": "counter"}"#).await.unwrap();
    let start = setup.events("run.start").pop().unwrap();
    assert!(
        start.get("context").is_none() && start.get("caller").is_none(),
        "{start}"
    );
}
