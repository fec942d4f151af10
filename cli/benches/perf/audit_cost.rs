//! Audit overhead per record under each durability setting: hashing (chain
//! and Merkle leaf), canonical encoding, the append, and the sync policy —
//! for plain records and for write-ahead intents (which wait for
//! durability). Group commit is measured with 1 and 8 writers at once.
//!
//! Used by both `--bench perf` and `--bench audit`.

use airlock::audit::EventKind;
use airlock::audit::{AuditLog, Event, Recorder, RunInfo};
use airlock::rules::policy::{AuditConfig, SyncPolicy};
use airlock::rules::provenance::Digest;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCHES: usize = 7;

fn recorder(dir: &std::path::Path, sync: SyncPolicy) -> Recorder {
    let mut config = AuditConfig::at(dir.join("audit.jsonl"));
    config.sync = sync;
    config.checkpoint_every = u64::MAX;
    config.checkpoint_interval = Duration::from_secs(3600);
    let log = Arc::new(AuditLog::open(&config).expect("open the log"));
    Recorder::new(
        log,
        RunInfo {
            run: "0123456789abcdef0123456789abcdef".into(),
            action: "bench@1.0.0".into(),
            digest: Digest::of(b"bench"),
        },
    )
}

/// Median time per record over batches of `n` records from `threads`
/// writers.
fn measure_one(sync: SyncPolicy, intents: bool, threads: usize, n: usize) -> Duration {
    let mut per_record = Vec::new();
    for _ in 0..BATCHES {
        let dir = tempfile::tempdir().expect("temp dir");
        let rec = recorder(dir.path(), sync);
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let rec = rec.clone();
                s.spawn(move || {
                    for i in 0..n / threads {
                        let event = Event::new(EventKind::FileOpen)
                            .field("mount", "workspace")
                            .guest_text("target", &format!("/workspace/out/{t}-{i}.txt"))
                            .field("mode", "write+create");
                        if intents {
                            let intent = rec.intent(event).expect("intent");
                            rec.result(intent, Event::new(EventKind::FileOpen).allow())
                                .expect("result");
                        } else {
                            rec.record(event.allow()).expect("record");
                        }
                    }
                });
            }
        });
        let records = if intents { n * 2 } else { n };
        per_record.push(start.elapsed() / records as u32);
    }
    per_record.sort();
    per_record[per_record.len() / 2]
}

/// Every row: (setting, median per record). `scale` divides the record
/// counts, for a quick run.
pub fn measure(scale: usize) -> Vec<(&'static str, Duration)> {
    let rows: [(&str, SyncPolicy, bool, usize, usize); 6] = [
        (
            "sync = \"none\", single records",
            SyncPolicy::None,
            false,
            1,
            20_000,
        ),
        (
            "sync = \"none\", intent + result",
            SyncPolicy::None,
            true,
            1,
            10_000,
        ),
        (
            "sync = \"group\", intent + result, 1 writer",
            SyncPolicy::Group,
            true,
            1,
            500,
        ),
        (
            "sync = \"group\", intent + result, 8 writers",
            SyncPolicy::Group,
            true,
            8,
            2_000,
        ),
        (
            "sync = \"always\", single records",
            SyncPolicy::Always,
            false,
            1,
            500,
        ),
        (
            "sync = \"always\", intent + result",
            SyncPolicy::Always,
            true,
            1,
            500,
        ),
    ];
    rows.into_iter()
        .map(|(name, sync, intents, threads, n)| {
            (
                name,
                measure_one(sync, intents, threads, (n / scale).max(threads * 8)),
            )
        })
        .collect()
}
