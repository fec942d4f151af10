//! Every check, with a test that fails if the check is removed; and
//! property tests: random logs, random single edits, the right reason.

use super::*;
use crate::EventKind;
use crate::testrng::Rng;
use crate::{AuditLog, Event, Recorder, RunInfo};
use airlock_rules::policy::{AuditConfig, SyncPolicy};
use std::sync::Arc;

/// A log written by the real writer, with its checkpoints and key.
struct Fixture {
    dir: tempfile::TempDir,
    config: AuditConfig,
    key: VerifierKey,
}

impl Fixture {
    /// `n` records (some intent/result pairs), checkpoints at the sizes in
    /// `at` and at the end.
    fn new(rng: &mut Rng, n: u64, at: &[u64]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = AuditConfig::at(dir.path().join("audit.jsonl"));
        config.sync = SyncPolicy::None;
        config.checkpoint_every = u64::MAX;
        let log = Arc::new(AuditLog::open(&config).unwrap());
        let recorder = Recorder::new(
            log.clone(),
            RunInfo {
                run: "0123456789abcdef".into(),
                action: "probe@1.0.0".into(),
                digest: airlock_rules::provenance::Digest::of(b"probe"),
            },
        );
        while log.size().unwrap() < n {
            let size = log.size().unwrap();
            if at.contains(&size) {
                log.checkpoint().unwrap();
            }
            let pad = "abcdefghij".repeat(rng.below(4) as usize);
            if size + 2 <= n && !at.contains(&(size + 1)) && rng.below(3) == 0 {
                let intent = recorder
                    .intent(
                        Event::new(EventKind::FileRemove)
                            .target("/work/x")
                            .field("pad", pad),
                    )
                    .unwrap();
                recorder
                    .result(intent, Event::new(EventKind::FileRemove).allow())
                    .unwrap();
            } else {
                recorder
                    .record(
                        Event::new(EventKind::Log)
                            .allow()
                            .field("message", format!("m{size}"))
                            .field("pad", pad),
                    )
                    .unwrap();
            }
        }
        log.checkpoint().unwrap();
        let key = log.verifier();
        Fixture { dir, config, key }
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.config.path)
            .unwrap()
            .lines()
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn options(&self) -> Options {
        Options {
            logs: vec![self.config.path.clone()],
            checkpoints: Some(self.config.checkpoints.clone()),
            key: Some(self.key.clone()),
            ..Options::default()
        }
    }

    /// Verify with the log's lines replaced by `lines`.
    fn verify_lines(&self, lines: &[String]) -> Result<Report, Failure> {
        let path = self.dir.path().join("edited.jsonl");
        std::fs::write(&path, lines.concat()).unwrap();
        verify(&Options {
            logs: vec![path],
            ..self.options()
        })
    }
}

fn sha_hex(line: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(line.trim_end_matches('\n').as_bytes()))
}

/// Re-number and re-chain `lines` from `from` on, as a forger who cannot
/// sign checkpoints would.
fn rechain(lines: &mut [String], from: usize) {
    for i in from..lines.len() {
        let mut v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&lines[i]).unwrap();
        v.insert("seq".into(), (i as u64).into());
        let prev = if i == 0 {
            hex::encode([0u8; 32])
        } else {
            sha_hex(&lines[i - 1])
        };
        v.insert("prev".into(), prev.into());
        lines[i] = String::from_utf8(crate::jcs::object(&v).unwrap()).unwrap() + "\n";
    }
}

fn reason(r: Result<Report, Failure>) -> (Reason, u64) {
    let f = r.expect_err("the edit was not detected");
    (f.reason, f.seq)
}

#[test]
fn an_intact_log_verifies_with_every_checkpoint() {
    let mut rng = Rng::new(1);
    let fx = Fixture::new(&mut rng, 20, &[3, 8, 15]);
    let report = verify(&fx.options()).unwrap();
    assert_eq!((report.records, report.checkpoints), (20, 4));
    assert!(report.signed && report.tail.is_none() && report.open_intents.is_empty());
}

/// Random logs, random single edits: the reason and the first failing seq
/// are the ones each edit must produce.
#[test]
fn property_every_single_edit_is_detected_with_its_reason() {
    let mut rng = Rng::new(5);
    for case in 0..60 {
        let n = rng.range(4, 40);
        let mid = rng.range(1, n - 1);
        let fx = Fixture::new(&mut rng, n, &[mid]);
        let lines = fx.lines();
        let last = lines.len() - 1;
        let i = rng.below(n) as usize;
        let ctx = format!("case {case}: n={n} checkpoints at {mid},{n} i={i}");

        // Change a byte of a string value (the record stays canonical).
        let mut edited = lines.clone();
        edited[i] = edited[i].replacen("\"time\":\"2", "\"time\":\"3", 1);
        // The chain breaks at the next record, unless a checkpoint's root is
        // compared first: one right after it, or the last one.
        let want = if i == last {
            (Reason::LeafMismatch, mid)
        } else if i as u64 + 1 == mid {
            (Reason::LeafMismatch, 0)
        } else {
            (Reason::ChainBreak, i as u64 + 1)
        };
        assert_eq!(reason(fx.verify_lines(&edited)), want, "byte change, {ctx}");

        // Delete a line.
        let mut deleted = lines.clone();
        deleted.remove(i);
        let want = if i == last {
            (Reason::Truncated, last as u64)
        } else {
            (Reason::SeqGap, i as u64)
        };
        assert_eq!(reason(fx.verify_lines(&deleted)), want, "delete, {ctx}");

        // Swap two lines.
        let j = (i + 1 + rng.below(n - 1) as usize) % lines.len();
        let mut swapped = lines.clone();
        swapped.swap(i, j);
        assert_eq!(
            reason(fx.verify_lines(&swapped)),
            (Reason::SeqGap, i.min(j) as u64),
            "swap {j}, {ctx}"
        );

        // Truncate the tail, at a line or inside one.
        let keep = rng.below(n) as usize;
        assert_eq!(
            reason(fx.verify_lines(&lines[..keep])).0,
            Reason::Truncated,
            "truncate to {keep}, {ctx}"
        );
        let mut torn = lines[..=keep].to_vec();
        let cut = torn[keep].len() / 2;
        torn[keep].truncate(cut);
        assert_eq!(
            reason(fx.verify_lines(&torn)).0,
            Reason::Truncated,
            "torn at {keep}, {ctx}"
        );

        // Duplicate a line.
        let mut dup = lines.clone();
        dup.insert(i + 1, lines[i].clone());
        assert_eq!(
            reason(fx.verify_lines(&dup)),
            (Reason::SeqGap, i as u64 + 1),
            "duplicate, {ctx}"
        );

        // Insert a forged line with a correct prev (and seq): the original
        // that follows is out of sequence.
        let mut forged = lines.clone();
        let mut fake: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&lines[i]).unwrap();
        fake.insert("event".into(), "forged".into());
        fake.insert("phase".into(), "single".into());
        fake.remove("intent");
        forged.insert(
            i + 1,
            String::from_utf8(crate::jcs::object(&fake).unwrap()).unwrap() + "\n",
        );
        rechain(&mut forged[..=i + 1], i + 1);
        if i == last {
            // After the last checkpoint nothing is sealed yet: a record
            // appended there with a correct chain verifies. This is the
            // window the end-of-run checkpoint (and --max-gap) keep short.
            assert_eq!(fx.verify_lines(&forged).unwrap().records, n + 1, "{ctx}");
            continue;
        }
        let want = if i as u64 + 2 == mid {
            (Reason::LeafMismatch, 0)
        } else if i as u64 + 2 == n {
            (Reason::LeafMismatch, mid)
        } else {
            (Reason::SeqGap, i as u64 + 2)
        };
        assert_eq!(reason(fx.verify_lines(&forged)), want, "forged, {ctx}");

        // The forger re-numbers and re-chains everything after it: only the
        // signed roots can tell, from the first checkpoint after it.
        for line in &mut forged[i + 2..] {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap();
            if let Some(k) = v
                .get("intent")
                .and_then(serde_json::Value::as_u64)
                .filter(|&k| k > i as u64)
            {
                v.insert("intent".into(), (k + 1).into());
                *line = String::from_utf8(crate::jcs::object(&v).unwrap()).unwrap() + "\n";
            }
        }
        rechain(&mut forged, i + 1);
        let first_cp = if (i as u64) + 1 < mid { 0 } else { mid };
        assert_eq!(
            reason(fx.verify_lines(&forged)),
            (Reason::LeafMismatch, first_cp),
            "rechained, {ctx}"
        );
    }
}

#[test]
fn re_formatted_and_non_json_lines_are_refused() {
    let mut rng = Rng::new(2);
    let fx = Fixture::new(&mut rng, 5, &[]);
    let lines = fx.lines();
    let mut spaced = lines.clone();
    spaced[2] = spaced[2].replacen(':', ": ", 1);
    assert_eq!(reason(fx.verify_lines(&spaced)), (Reason::NotCanonical, 2));
    let mut float = lines.clone();
    float[2] = float[2].replacen("\"v\":1", "\"v\":1.0", 1);
    assert_eq!(reason(fx.verify_lines(&float)), (Reason::NotCanonical, 2));
    let mut garbage = lines.clone();
    garbage[3] = "hello\n".into();
    assert_eq!(reason(fx.verify_lines(&garbage)), (Reason::Malformed, 3));
    let mut first = lines.clone();
    rechain(&mut first, 0);
    first[0] = first[0].replacen(&"0".repeat(64), &"1".repeat(64), 1);
    assert_eq!(reason(fx.verify_lines(&first)), (Reason::ChainBreak, 0));
}

#[test]
fn checkpoints_must_be_signed_by_the_key() {
    let mut rng = Rng::new(3);
    let fx = Fixture::new(&mut rng, 6, &[3]);
    // Another key: every checkpoint fails.
    let other = crate::note::SigningKey::generate(fx.key.name()).unwrap();
    let e = verify(&Options {
        key: Some(other.verifier()),
        ..fx.options()
    })
    .unwrap_err();
    assert_eq!(e.reason, Reason::BadSignature);
    // A forged checkpoint with a matching root, signed by another key.
    let forged = Checkpoint {
        origin: fx.key.name().into(),
        size: 6,
        root: verify(&fx.options()).unwrap().root,
        time: None,
    }
    .sign(&other);
    let mut text = std::fs::read_to_string(&fx.config.checkpoints).unwrap();
    text.push_str(&format!("{forged}\n"));
    std::fs::write(&fx.config.checkpoints, &text).unwrap();
    assert_eq!(
        verify(&fx.options()).unwrap_err().reason,
        Reason::BadSignature
    );
    // Without a key no signature is checked: the log is unauthenticated,
    // refused unless that is asked for, and the report says so.
    let e = verify(&Options {
        key: None,
        ..fx.options()
    })
    .unwrap_err();
    assert_eq!(e.reason, Reason::Unauthenticated);
    let report = verify(&Options {
        key: None,
        unauthenticated: true,
        ..fx.options()
    })
    .unwrap();
    assert!(!report.signed && report.unauthenticated);
}

fn rewrite_checkpoints(fx: &Fixture, edit: impl FnOnce(&mut Vec<String>)) {
    let text = std::fs::read_to_string(&fx.config.checkpoints).unwrap();
    let mut notes: Vec<String> = split_file(&text)
        .notes
        .into_iter()
        .map(|e| e.note)
        .collect();
    edit(&mut notes);
    std::fs::write(
        &fx.config.checkpoints,
        notes.iter().map(|n| format!("{n}\n")).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn checkpoints_never_shrink_or_fork() {
    let mut rng = Rng::new(4);
    let fx = Fixture::new(&mut rng, 8, &[4]);
    rewrite_checkpoints(&fx, |n| n.swap(0, 1));
    assert_eq!(verify(&fx.options()).unwrap_err().reason, Reason::Rollback);

    let fx = Fixture::new(&mut rng, 8, &[4]);
    let dir = tempfile::tempdir().unwrap();
    let mut c = fx.config.clone();
    c.path = dir.path().join("x.jsonl");
    c.checkpoints = dir.path().join("x.checkpoints");
    c.key = Some(dir.path().join("k.key"));
    // The same key signs a different history of the same size: a fork.
    std::fs::copy(Paths::new(&fx.config.path).key(), dir.path().join("k.key")).unwrap();
    let other = AuditLog::open(&c).unwrap();
    for i in 0..8 {
        other
            .append(None, Event::new(EventKind::Log).field("i", i))
            .unwrap();
    }
    other.checkpoint().unwrap();
    let fork = split_file(&std::fs::read_to_string(&c.checkpoints).unwrap()).notes[0]
        .note
        .clone();
    rewrite_checkpoints(&fx, |n| n.push(fork));
    assert_eq!(
        verify(&fx.options()).unwrap_err().reason,
        Reason::Inconsistent
    );
}

use crate::paths::Paths;

#[test]
fn a_witness_catches_truncation_rollback_and_rewrites() {
    let mut rng = Rng::new(6);
    let fx = Fixture::new(&mut rng, 10, &[5]);
    let text = std::fs::read_to_string(&fx.config.checkpoints).unwrap();
    let notes = split_file(&text).notes;
    let witness = |i: usize| Options {
        witness: Some(notes[i].note.clone()),
        ..fx.options()
    };
    assert!(verify(&witness(0)).unwrap().witnessed);
    assert!(verify(&witness(1)).is_ok());

    // Roll the log and its checkpoints back to size 5, consistently.
    let lines = fx.lines();
    std::fs::write(&fx.config.path, lines[..5].concat()).unwrap();
    rewrite_checkpoints(&fx, |n| n.truncate(1));
    assert!(
        verify(&fx.options()).is_ok(),
        "without a witness a rollback is invisible"
    );
    assert_eq!(verify(&witness(1)).unwrap_err().reason, Reason::Rollback);

    // Only the log cut: its checkpoints still name 10.
    std::fs::write(&fx.config.path, lines[..7].concat()).unwrap();
    std::fs::write(
        &fx.config.checkpoints,
        notes
            .iter()
            .map(|n| format!("{}\n", n.note))
            .collect::<String>(),
    )
    .unwrap();
    assert_eq!(verify(&fx.options()).unwrap_err().reason, Reason::Truncated);
    rewrite_checkpoints(&fx, |n| n.truncate(1));
    assert_eq!(verify(&witness(1)).unwrap_err().reason, Reason::Rollback);

    // A different history at the witness's size.
    let mut rewritten = lines.clone();
    rewritten[2] = rewritten[2].replacen("\"event\":\"", "\"event\":\"Z", 1);
    rechain(&mut rewritten, 2);
    std::fs::write(&fx.config.path, rewritten.concat()).unwrap();
    std::fs::remove_file(&fx.config.checkpoints).unwrap();
    let e = verify(&Options {
        checkpoints: None,
        ..witness(0)
    })
    .unwrap_err();
    assert_eq!(e.reason, Reason::Inconsistent);
    // A witness signed by another key is refused.
    let other = crate::note::SigningKey::generate(fx.key.name()).unwrap();
    let cp = Checkpoint {
        origin: fx.key.name().into(),
        size: 1,
        root: [0; 32],
        time: None,
    };
    let e = verify(&Options {
        witness: Some(cp.sign(&other)),
        checkpoints: None,
        ..fx.options()
    })
    .unwrap_err();
    assert_eq!(e.reason, Reason::BadSignature);
}

#[test]
fn records_waiting_too_long_for_a_checkpoint_are_stale() {
    let mut rng = Rng::new(7);
    let fx = Fixture::new(&mut rng, 6, &[]);
    let gap = Duration::from_secs(60);
    let opts = Options {
        max_gap: Some(gap),
        ..fx.options()
    };
    assert!(verify(&opts).is_ok());
    // Records written an hour before the checkpoint that covers them.
    let lines: Vec<String> = fx
        .lines()
        .into_iter()
        .map(|l| {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&l).unwrap();
            v.insert("time".into(), "2020-01-01T00:00:00.000Z".into());
            String::from_utf8(crate::jcs::object(&v).unwrap()).unwrap() + "\n"
        })
        .collect();
    let mut lines = lines;
    rechain(&mut lines, 0);
    std::fs::write(&fx.config.path, lines.concat()).unwrap();
    std::fs::remove_file(&fx.config.checkpoints).unwrap();
    // No checkpoint at all, records long ago: stale at the first.
    let e = verify(&Options {
        checkpoints: None,
        unauthenticated: true,
        ..opts.clone()
    })
    .unwrap_err();
    assert_eq!((e.reason, e.seq), (Reason::Stale, 0));
    // Fine if "now" is close to them.
    let now = humantime::parse_rfc3339("2020-01-01T00:00:30Z").unwrap();
    assert!(
        verify(&Options {
            checkpoints: None,
            now: Some(now),
            unauthenticated: true,
            ..opts.clone()
        })
        .is_ok()
    );
}

#[test]
fn an_intent_must_be_closed_before_its_run_ends() {
    let mut rng = Rng::new(8);
    let fx = Fixture::new(&mut rng, 1, &[]);
    let log_lines = |records: &[serde_json::Value]| {
        let mut lines: Vec<String> = records
            .iter()
            .map(|r| String::from_utf8(crate::jcs::value(r).unwrap()).unwrap() + "\n")
            .collect();
        rechain(&mut lines, 0);
        lines
    };
    let rec = |event: &str, phase: &str, run: &str, extra: serde_json::Value| {
        let mut v = serde_json::json!({"v": 1, "time": "2025-01-01T00:00:00.000Z", "event": event, "phase": phase, "run": run});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let opts = Options {
        checkpoints: None,
        unauthenticated: true,
        ..fx.options()
    };
    let check = |records: &[serde_json::Value]| {
        let path = fx.dir.path().join("intents.jsonl");
        std::fs::write(&path, log_lines(records).concat()).unwrap();
        verify(&Options {
            logs: vec![path],
            ..opts.clone()
        })
    };
    let none = serde_json::json!({});
    let open = rec("file.remove", "intent", "a", none.clone());
    let closed = rec(
        "file.remove",
        "result",
        "a",
        serde_json::json!({"intent": 0}),
    );
    let end = rec("run.end", "single", "a", none.clone());
    assert!(check(&[open.clone(), closed.clone(), end.clone()]).is_ok());
    // Open at the end: reported, not a failure (the host may be running).
    assert_eq!(
        check(std::slice::from_ref(&open)).unwrap().open_intents,
        [0]
    );
    // The run ended first.
    assert_eq!(
        reason(check(&[open.clone(), end.clone()])),
        (Reason::OrphanIntent, 1)
    );
    // Recovered without it.
    let recover = rec(
        "audit.recover",
        "single",
        "",
        serde_json::json!({"intents": []}),
    );
    assert_eq!(
        reason(check(&[open.clone(), recover])).0,
        Reason::OrphanIntent
    );
    let recover = rec(
        "audit.recover",
        "single",
        "",
        serde_json::json!({"intents": [0]}),
    );
    assert!(
        check(&[open.clone(), recover, end.clone()])
            .unwrap()
            .open_intents
            .is_empty()
    );
    // A result for nothing, or for another run's intent.
    assert_eq!(
        reason(check(std::slice::from_ref(&closed))),
        (Reason::UnmatchedResult, 0)
    );
    let other = rec(
        "file.remove",
        "result",
        "b",
        serde_json::json!({"intent": 0}),
    );
    assert_eq!(
        reason(check(&[open.clone(), other])),
        (Reason::UnmatchedResult, 1)
    );
    // A record without a phase.
    let mut bare = end.clone();
    bare.as_object_mut().unwrap().remove("phase");
    assert_eq!(reason(check(&[bare])), (Reason::Malformed, 0));
}

#[test]
fn a_torn_last_record_is_named_not_counted() {
    let mut rng = Rng::new(9);
    let fx = Fixture::new(&mut rng, 4, &[]);
    let mut lines = fx.lines();
    lines.push("{\"half\":".into());
    let report = fx.verify_lines(&lines).unwrap();
    assert_eq!(report.records, 4);
    assert_eq!(report.tail.unwrap().bytes, 8);
    // In a sealed segment it is a failure.
    let seg = fx.dir.path().join("seg.jsonl");
    std::fs::write(&seg, lines.concat()).unwrap();
    let e = verify(&Options {
        logs: vec![seg, fx.config.path.clone()],
        ..fx.options()
    })
    .unwrap_err();
    assert_eq!(e.reason, Reason::IncompleteTail);
}

#[test]
fn a_rechained_log_without_a_covering_checkpoint_is_unauthenticated() {
    let mut rng = Rng::new(11);
    let fx = Fixture::new(&mut rng, 5, &[]);
    // Forge: change a record and re-chain everything after it, then empty
    // the checkpoints file (or delete it) so nothing contradicts the forgery.
    let mut lines = fx.lines();
    lines[2] = lines[2].replace("\"event\":\"", "\"event\":\"forged-");
    rechain(&mut lines, 2);
    std::fs::write(&fx.config.path, lines.concat()).unwrap();
    for checkpoints in ["", "absent"] {
        if checkpoints == "absent" {
            std::fs::remove_file(&fx.config.checkpoints).unwrap();
        } else {
            std::fs::write(&fx.config.checkpoints, checkpoints).unwrap();
        }
        let given = fx
            .config
            .checkpoints
            .exists()
            .then(|| fx.config.checkpoints.clone());
        let e = verify(&Options {
            checkpoints: given.clone(),
            ..fx.options()
        })
        .unwrap_err();
        assert_eq!(e.reason, Reason::Unauthenticated, "{checkpoints:?}: {e}");
        let report = verify(&Options {
            checkpoints: given,
            unauthenticated: true,
            ..fx.options()
        })
        .unwrap();
        assert!(report.unauthenticated);
    }
}
