//! The writer: chain and tree across reopen, torn tails, segments, faults,
//! recovery of open intents, checkpoints.

use super::*;
use crate::EventKind;
use crate::verify::{self, Options, Reason};
use crate::{Fault, Phase};
use airlock_rules::policy::AuditConfig;
use airlock_rules::provenance::Digest;
use serde_json::Value;
use std::fs::OpenOptions;
use std::time::Duration;

fn run() -> RunInfo {
    RunInfo {
        run: "r1".into(),
        action: "a@1.0.0".into(),
        digest: Digest::of(b"x"),
    }
}

fn config(dir: &std::path::Path) -> AuditConfig {
    let mut c = AuditConfig::at(dir.join("audit.jsonl"));
    c.sync = SyncPolicy::None;
    c
}

/// Verify everything the log at `c` wrote, with its key.
fn check(c: &AuditConfig, log: Option<&AuditLog>) -> Result<verify::Report, verify::Failure> {
    let paths = Paths::new(&c.path);
    let mut logs = paths.segments().unwrap();
    logs.push(c.path.clone());
    let key = match log {
        Some(l) => l.verifier(),
        None => {
            VerifierKey::parse(&std::fs::read_to_string(Paths::public_of(&paths.key())).unwrap())
                .unwrap()
        }
    };
    verify::verify(&Options {
        logs,
        checkpoints: c.checkpoints.exists().then(|| c.checkpoints.clone()),
        key: Some(key),
        ..Options::default()
    })
}

/// [`check`], accepting a log no checkpoint covers yet (its chain only).
fn check_chain(c: &AuditConfig) -> Result<verify::Report, verify::Failure> {
    let paths = Paths::new(&c.path);
    let mut logs = paths.segments().unwrap();
    logs.push(c.path.clone());
    verify::verify(&Options {
        logs,
        checkpoints: c.checkpoints.exists().then(|| c.checkpoints.clone()),
        unauthenticated: true,
        ..Options::default()
    })
}

/// Records that carry a canonical field (`Canonical`, as a `run.start`
/// carries its grant) chain and verify as any other record.
#[test]
fn records_with_a_canonical_field_chain_as_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    let grant = Arc::new(
        super::super::Canonical::of(&serde_json::json!({"network": ["https://a.example"]}))
            .unwrap(),
    );
    let other = RunInfo {
        action: "b@2.0.0".into(),
        ..run()
    };
    for (i, info) in [run(), run(), other.clone(), run(), other]
        .iter()
        .enumerate()
    {
        log.append(
            Some(info),
            Event::new(EventKind::RunStart)
                .allow()
                .canonical_field("grant", grant.clone())
                .field("input_bytes", i),
        )
        .unwrap();
        log.append(None, Event::new(EventKind::Log)).unwrap();
    }
    // One run id throughout: one end closes it.
    log.append(Some(&run()), Event::new(EventKind::RunEnd))
        .unwrap();
    log.checkpoint().unwrap();
    let report = check(&c, Some(&log)).unwrap();
    assert_eq!(report.records, 11);
    assert_eq!(report.root, log.root().unwrap());
    // Reopened without the state file, the log is hashed from its bytes.
    let root = log.root().unwrap();
    drop(log);
    std::fs::remove_file(Paths::new(&c.path).state()).unwrap();
    assert_eq!(AuditLog::open(&c).unwrap().root().unwrap(), root);
}

#[test]
fn appends_chain_and_tree_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(
        log.append(Some(&run()), Event::new(EventKind::Log).allow())
            .unwrap(),
        0
    );
    assert_eq!(log.append(None, Event::new(EventKind::Log)).unwrap(), 1);
    log.checkpoint().unwrap();
    log.append(None, Event::new(EventKind::Log)).unwrap();
    let root = log.root().unwrap();
    drop(log);
    // Reopen: resumes from the saved state and the record after it, and
    // checkpoints what the last checkpoint did not cover.
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(log.root().unwrap(), root);
    assert_eq!(
        log.append(Some(&run()), Event::new(EventKind::RunEnd))
            .unwrap(),
        3
    );
    log.checkpoint().unwrap();
    let report = check(&c, Some(&log)).unwrap();
    assert_eq!((report.records, report.checkpoints), (4, 3));
    assert_eq!(report.root, log.root().unwrap());
    // Without the state file the whole log is read again, to the same place.
    drop(log);
    std::fs::remove_file(Paths::new(&c.path).state()).unwrap();
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(log.size().unwrap(), 4);
    assert_eq!(log.root().unwrap(), report.root);
}

#[test]
fn only_one_host_writes_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let _log = AuditLog::open(&c).unwrap();
    let e = AuditLog::open(&c).unwrap_err();
    assert!(
        matches!(&e, AuditError::Busy(m) if m.contains("another airlock host is writing")),
        "{e}"
    );
}

#[test]
fn a_lock_held_for_a_moment_is_waited_for() {
    // As a process forked by another thread holds a dropped host's lock
    // until it execs: the next host waits for it rather than failing.
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    drop(AuditLog::open(&c).unwrap());
    let held = File::open(Paths::new(&c.path).lock()).unwrap();
    held.lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        drop(held);
    });
    AuditLog::open(&c).unwrap();
    release.join().unwrap();
}

#[test]
fn a_torn_tail_is_moved_aside_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    log.append(None, Event::new(EventKind::Log)).unwrap();
    drop(log);
    let mut f = OpenOptions::new().append(true).open(&c.path).unwrap();
    std::io::Write::write_all(&mut f, b"{\"half\":").unwrap();
    drop(f);
    let complete_len = std::fs::metadata(&c.path).unwrap().len() - 8;
    // Before the host reopens it, verify accepts the log and names the tail.
    let report = check_chain(&c).unwrap();
    assert_eq!(
        (report.records, report.tail.as_ref().map(|t| t.bytes)),
        (1, Some(8))
    );
    let log = AuditLog::open(&c).unwrap();
    // Record 1 tells of the torn tail moved aside.
    assert_eq!(log.append(None, Event::new(EventKind::Log)).unwrap(), 2);
    let saved = std::fs::read(format!("{}.torn-{complete_len}", c.path.display())).unwrap();
    assert_eq!(saved, b"{\"half\":");
    log.checkpoint().unwrap();
    // The move is on the record, and verify reports it.
    let report = check(&c, Some(&log)).unwrap();
    assert_eq!(report.records, 3);
    let torn = &report.incidents[..];
    assert_eq!(torn.len(), 1, "{torn:?}");
    assert_eq!((torn[0].seq, torn[0].event.as_str()), (1, "audit.torn"));
    assert!(torn[0].detail.contains("8 bytes"), "{torn:?}");
}

#[test]
fn segments_rotate_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.segment_size = Some(airlock_rules::units::ByteSize(2000));
    let log = AuditLog::open(&c).unwrap();
    for i in 0..40 {
        log.append(
            None,
            Event::new(EventKind::Log)
                .field("i", i)
                .field("pad", "x".repeat(300)),
        )
        .unwrap();
    }
    log.checkpoint().unwrap();
    let segments = Paths::new(&c.path).segments().unwrap();
    assert!(segments.len() >= 5, "{segments:?}");
    assert_eq!(check(&c, Some(&log)).unwrap().records, 40);
    drop(log);
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(log.append(None, Event::new(EventKind::Log)).unwrap(), 40);
    log.checkpoint().unwrap();
    assert_eq!(check(&c, Some(&log)).unwrap().records, 41);
    // A missing middle segment is a gap.
    drop(log);
    std::fs::remove_file(&segments[1]).unwrap();
    assert_eq!(check(&c, None).unwrap_err().reason, Reason::SeqGap);
}

#[test]
fn a_failed_write_is_undone_refused_and_recovers() {
    for fault in [Fault::Write, Fault::TornWrite, Fault::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path());
        c.sync = SyncPolicy::Always;
        let faults = Faults::new();
        let log = AuditLog::open_with(&c, faults.clone()).unwrap();
        log.append(None, Event::new(EventKind::Log)).unwrap();
        let len = std::fs::metadata(&c.path).unwrap().len();
        faults.fail(fault, 0);
        let e = log.append(None, Event::new(EventKind::Log)).unwrap_err();
        assert!(e.to_string().starts_with("audit unavailable: "), "{e}");
        assert_eq!(
            std::fs::metadata(&c.path).unwrap().len(),
            len,
            "{fault:?} left bytes behind"
        );
        assert!(
            log.append(None, Event::new(EventKind::Log)).is_err(),
            "{fault:?}"
        );
        faults.heal();
        assert_eq!(
            log.append(None, Event::new(EventKind::Log)).unwrap(),
            1,
            "{fault:?}"
        );
        log.checkpoint().unwrap();
        assert_eq!(check(&c, Some(&log)).unwrap().records, 2);
    }
}

#[test]
fn owed_results_are_written_first_when_the_log_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let faults = Faults::new();
    let log = Arc::new(AuditLog::open_with(&c, faults.clone()).unwrap());
    let recorder = crate::Recorder::new(log.clone(), run());
    let intent = recorder
        .intent(Event::new(EventKind::FileRemove).target("/w/x"))
        .unwrap();
    faults.fail(Fault::Write, 0);
    assert!(
        recorder
            .result(intent, Event::new(EventKind::FileRemove).allow())
            .is_err()
    );
    assert!(recorder.failure().is_some());
    faults.heal();
    log.append(None, Event::new(EventKind::Log)).unwrap();
    log.checkpoint().unwrap();
    let text = std::fs::read_to_string(&c.path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[1]["phase"], "result");
    assert_eq!(
        (lines[1]["intent"].as_u64(), lines[1]["late"].as_bool()),
        (Some(0), Some(true))
    );
    assert_eq!(
        (lines[2]["event"].as_str(), lines[2]["phase"].as_str()),
        (Some("log"), Some("single"))
    );
    assert!(check(&c, Some(&log)).unwrap().open_intents.is_empty());
}

#[test]
fn a_checkpoint_writes_owed_results_first() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let faults = Faults::new();
    let log = Arc::new(AuditLog::open_with(&c, faults.clone()).unwrap());
    let recorder = crate::Recorder::new(log.clone(), run());
    let intent = recorder
        .intent(Event::new(EventKind::FileRemove).target("/w/x"))
        .unwrap();
    faults.fail(Fault::Write, 0);
    assert!(
        recorder
            .result(intent, Event::new(EventKind::FileRemove).allow())
            .is_err()
    );
    assert!(log.checkpoint().is_err(), "the log still fails");
    faults.heal();
    // No run follows: the host seals on its way out.
    log.checkpoint().unwrap();
    let text = std::fs::read_to_string(&c.path).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["phase"].as_str(), last["late"].as_bool()),
        (Some("result"), Some(true))
    );
    let report = check(&c, Some(&log)).unwrap();
    assert!(report.open_intents.is_empty(), "{:?}", report.open_intents);
}

#[test]
fn intents_left_open_by_a_crash_are_closed_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = Arc::new(AuditLog::open(&c).unwrap());
    // A crash right after an intent: it is never closed.
    let intent = Event::new(EventKind::FileOpen)
        .target("/w/x")
        .phase(Phase::Intent);
    log.append(Some(&run()), intent).unwrap();
    log.checkpoint().unwrap();
    assert_eq!(check(&c, Some(&log)).unwrap().open_intents, [0]);
    drop(log);
    let log = AuditLog::open(&c).unwrap();
    let report = check(&c, Some(&log)).unwrap();
    assert!(report.open_intents.is_empty());
    let text = std::fs::read_to_string(&c.path).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["event"].as_str(), last["intents"][0].as_u64()),
        (Some("audit.recover"), Some(0))
    );
    assert_eq!(last["phase"], Phase::Single.as_str());
}

#[test]
fn a_log_changed_behind_the_hosts_back_is_not_extended() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    for i in 0..5 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    log.checkpoint().unwrap();
    drop(log);
    let original = std::fs::read_to_string(&c.path).unwrap();
    // The last record edited.
    std::fs::write(&c.path, original.replace("\"i\":4", "\"i\":9")).unwrap();
    let e = AuditLog::open(&c).unwrap_err();
    assert!(
        matches!(&e, AuditError::Tampered(m) if m.contains("does not match what airlock last wrote")),
        "{e}"
    );
    // Records removed from the end.
    let cut: String = original.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(&c.path, cut).unwrap();
    assert!(AuditLog::open(&c).is_err());
    std::fs::remove_file(Paths::new(&c.path).state()).unwrap();
    let e = AuditLog::open(&c).unwrap_err();
    assert!(
        matches!(&e, AuditError::Tampered(m) if m.contains("TRUNCATED")),
        "{e}"
    );
}

#[test]
fn the_state_is_saved_only_when_it_spares_an_open_work() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let state = Paths::new(&c.path).state();
    let saved = || std::fs::read_to_string(&state).unwrap();
    let log = AuditLog::open(&c).unwrap();
    log.append(None, Event::new(EventKind::Log).field("i", 0))
        .unwrap();
    log.checkpoint().unwrap();
    drop(log);
    let first = saved();
    // Checkpoints of a few records at a time, as one-run hosts write them:
    // the state stays where it was, and each reopen reads the rest forward.
    for i in 1..4 {
        let log = AuditLog::open(&c).unwrap();
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
        log.checkpoint().unwrap();
        assert_eq!(saved(), first, "saved again after record {i}");
    }
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(log.size().unwrap(), 4);
    // A record after the saved point, changed behind the host's back, is
    // caught by the last checkpoint's root.
    drop(log);
    let original = std::fs::read_to_string(&c.path).unwrap();
    std::fs::write(&c.path, original.replace("\"i\":3", "\"i\":9")).unwrap();
    let e = AuditLog::open(&c).unwrap_err();
    assert!(
        matches!(&e, AuditError::Tampered(m) if m.contains("does not hash to its last checkpoint")),
        "{e}"
    );
    std::fs::write(&c.path, &original).unwrap();
    // Once the log has grown `state::LAG` past it, the next checkpoint
    // saves it again.
    let log = AuditLog::open(&c).unwrap();
    let pad = "x".repeat(1024);
    for _ in 0..state::LAG / 1024 {
        log.append(None, Event::new(EventKind::Log).field("pad", pad.as_str()))
            .unwrap();
    }
    // The record the state names is longer than the first read back for it.
    log.append(None, Event::new(EventKind::Log).field("pad", pad.repeat(6)))
        .unwrap();
    log.checkpoint().unwrap();
    assert_ne!(saved(), first);
    let (size, root) = (log.size().unwrap(), log.root().unwrap());
    drop(log);
    let log = AuditLog::open(&c).unwrap();
    assert_eq!((log.size().unwrap(), log.root().unwrap()), (size, root));
    check(&c, Some(&log)).unwrap();
}

#[test]
fn a_torn_checkpoint_is_moved_aside_and_the_last_whole_one_still_binds() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    for i in 0..20 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
        log.checkpoint().unwrap();
    }
    drop(log);
    let whole = std::fs::read_to_string(&c.checkpoints).unwrap();
    assert!(
        whole.len() > 4096,
        "the last note is found in a longer file"
    );
    // A crash while appending the 21st checkpoint: text and half a signature.
    let last = whole.trim_end().rsplit("\n\n").nth(1).unwrap();
    let torn = format!("{}\n\n\u{2014} ", last.replace("\n20\n", "\n21\n"));
    std::fs::write(&c.checkpoints, format!("{whole}{torn}")).unwrap();
    let log = AuditLog::open(&c).unwrap();
    assert_eq!(std::fs::read_to_string(&c.checkpoints).unwrap(), whole);
    let aside = format!("{}.torn-{}", c.checkpoints.display(), whole.len());
    assert_eq!(std::fs::read_to_string(aside).unwrap(), torn);
    drop(log);
    // A torn tail longer than the first read of the file's end.
    std::fs::write(&c.checkpoints, format!("{whole}{}", "x".repeat(5000))).unwrap();
    drop(AuditLog::open(&c).unwrap());
    assert_eq!(std::fs::read_to_string(&c.checkpoints).unwrap(), whole);
    // The checkpoint of 20 records still binds: a log cut to 19 is refused.
    let records = std::fs::read_to_string(&c.path).unwrap();
    let cut: String = records.lines().take(19).map(|l| format!("{l}\n")).collect();
    std::fs::write(&c.path, cut).unwrap();
    std::fs::remove_file(Paths::new(&c.path).state()).unwrap();
    let e = AuditLog::open(&c).unwrap_err();
    assert!(
        matches!(&e, AuditError::Tampered(m) if m.contains("TRUNCATED")),
        "{e}"
    );
}

#[test]
fn checkpoints_every_n_records_and_to_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.checkpoint_every = 4;
    c.anchor = Some(airlock_rules::policy::Anchor::Dir(dir.path().join("worm")));
    let log = AuditLog::open(&c).unwrap();
    for i in 0..10 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    let report = check(&c, Some(&log)).unwrap();
    // Before records 4 and 8 were written.
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.latest.unwrap().size, 8);
    let latest = std::fs::read_to_string(dir.path().join("worm/latest")).unwrap();
    assert!(latest.contains("\n8\n"), "{latest}");
    assert!(
        dir.path()
            .join("worm/checkpoint-00000000000000000004")
            .exists()
    );
}

#[test]
fn instances_sharing_one_policy_write_apart_and_anchor_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut shared = config(dir.path());
    shared.anchor = Some(airlock_rules::policy::Anchor::Dir(dir.path().join("worm")));
    let configs: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|i| shared.for_instance(i).unwrap())
        .collect();
    // Both open at once: one writer per log, and these are two logs.
    let logs: Vec<_> = configs.iter().map(|c| AuditLog::open(c).unwrap()).collect();
    for (n, log) in logs.iter().enumerate() {
        for i in 0..=n {
            log.append(None, Event::new(EventKind::Log).field("i", i))
                .unwrap();
        }
        log.checkpoint().unwrap();
    }
    for (n, c) in configs.iter().enumerate() {
        assert_eq!(
            check(c, Some(&logs[n])).unwrap().latest.unwrap().size,
            n as u64 + 1
        );
        let instance = c.instance.as_deref().unwrap();
        let latest =
            std::fs::read_to_string(dir.path().join("worm").join(instance).join("latest")).unwrap();
        assert!(
            latest.contains(&format!("\n{}\n", n + 1)),
            "{instance}: {latest}"
        );
    }
    // The shared path itself is not opened by either.
    assert!(!shared.path.exists());
}

#[test]
fn an_anchor_command_is_told_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    let out = dir.path().join("anchored");
    c.anchor = Some(airlock_rules::policy::Anchor::Command(vec![
        "sh".into(),
        "-c".into(),
        format!(
            "echo \"$AIRLOCK_INSTANCE $AIRLOCK_CHECKPOINT_SIZE\" >> {}",
            out.display()
        ),
    ]));
    let c = c.for_instance("w7").unwrap();
    let log = AuditLog::open(&c).unwrap();
    log.append(None, Event::new(EventKind::Log)).unwrap();
    log.checkpoint().unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "w7 1\n");
}

#[test]
fn with_a_checkpoint_thread_appends_ask_for_checkpoints_instead_of_writing_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.checkpoint_every = 4;
    let log = AuditLog::open(&c).unwrap();
    let (sealer, asked) = mpsc::channel();
    log.set_sealer(Some(sealer));
    for i in 0..10 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    // Asked once, before record 4 was written; nothing written meanwhile.
    assert_eq!(asked.try_iter().count(), 1);
    assert!(check_chain(&c).unwrap().latest.is_none());
    assert_eq!(log.seal().unwrap().unwrap().size, 10);
    for i in 0..4 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    assert_eq!(asked.try_iter().count(), 0, "not due before the 5th");
    // Without the thread, the append that finds one due writes it.
    log.set_sealer(None);
    log.append(None, Event::new(EventKind::Log)).unwrap();
    assert_eq!(check(&c, Some(&log)).unwrap().latest.unwrap().size, 14);
    // Nor with a thread that ended.
    let (sealer, gone) = mpsc::channel();
    drop(gone);
    log.set_sealer(Some(sealer));
    for i in 0..4 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    assert_eq!(check(&c, Some(&log)).unwrap().latest.unwrap().size, 18);
}

#[test]
fn a_failing_anchor_command_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.anchor = Some(airlock_rules::policy::Anchor::Command(vec![
        "sh".into(),
        "-c".into(),
        "cat > /dev/null; echo nope >&2; exit 3".into(),
    ]));
    let log = AuditLog::open(&c).unwrap();
    log.append(None, Event::new(EventKind::Log)).unwrap();
    let e = log.checkpoint().unwrap_err();
    assert!(
        matches!(&e, AuditError::Config(m) if m.contains("nope")),
        "{e}"
    );
}

#[test]
fn runs_left_without_an_end_are_named_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let log = AuditLog::open(&c).unwrap();
    let ended = RunInfo {
        run: "ended".into(),
        ..run()
    };
    let left = RunInfo {
        run: "left".into(),
        ..run()
    };
    log.append(Some(&left), Event::new(EventKind::RunStart).allow())
        .unwrap();
    log.append(Some(&ended), Event::new(EventKind::RunStart).allow())
        .unwrap();
    log.append(Some(&ended), Event::new(EventKind::RunEnd))
        .unwrap();
    log.checkpoint().unwrap();
    drop(log);
    for state in ["kept", "removed"] {
        if state == "removed" {
            // Without the state file the log itself is read: the same.
            let _ = std::fs::remove_file(Paths::new(&c.path).state());
        }
        let log = AuditLog::open(&c).unwrap();
        log.checkpoint().unwrap();
        let report = check(&c, Some(&log)).unwrap();
        assert!(
            report.open_runs.is_empty(),
            "{state}: {:?}",
            report.open_runs
        );
        drop(log);
    }
    let text = std::fs::read_to_string(&c.path).unwrap();
    let recovers: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "audit.recover")
        .collect();
    // Named once: the second open found nothing open.
    assert_eq!(recovers.len(), 1, "{recovers:?}");
    assert_eq!(recovers[0]["runs"], serde_json::json!([0]));
}

/// A host that replaces another on one log sets its own checkpoint thread
/// before the old one's goes: the old one's going leaves the new in place.
#[test]
fn only_the_thread_that_set_the_sealer_unsets_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.checkpoint_every = 2;
    let log = AuditLog::open(&c).unwrap();
    let (old, _old_asked) = mpsc::channel();
    let first = log.set_sealer(Some(old));
    let (new, new_asked) = mpsc::channel();
    let second = log.set_sealer(Some(new));
    assert_ne!(first, second);
    log.unset_sealer(first);
    for i in 0..3 {
        log.append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    assert_eq!(new_asked.try_iter().count(), 1, "the new thread is asked");
    assert!(
        check_chain(&c).unwrap().latest.is_none(),
        "no append wrote it"
    );
    log.unset_sealer(second);
    log.append(None, Event::new(EventKind::Log)).unwrap();
    assert!(
        check_chain(&c).unwrap().latest.is_some(),
        "the append writes it again"
    );
}
