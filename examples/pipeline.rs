//! How a workflow engine embeds airlock: one `Host` built once, a pipeline
//! whose steps are actions, each step's output feeding the next step's
//! input, and a fan-out step invoked concurrently from several tasks. Every
//! invocation runs in its own fresh instance and is recorded.
//!
//! ```text
//! cargo run --example pipeline
//! ```
//!
//! The pipeline signs a release: `file-digest` digests the release files,
//! `sign-payload` signs each file's digest line (one task per file, in
//! parallel), and `hello` announces the result.

use airlock::rules::provenance::Lock;
use airlock::rules::provenance::review::Review;
use airlock::{Failure, Host, Outcome, Policy};
use airlock_test_artifacts::{FILE_DIGEST, HELLO, SIGN_PAYLOAD};
use serde_json::{Value, json};
use std::error::Error;
use std::path::Path;
use std::time::SystemTime;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let host = Host::builder(operator_setup(dir.path())?).build()?;
    println!("host ready; audit log at {}", host.audit_log().display());

    // Step 1: digest the release files (read-only mount `source`, report
    // written to the read-write mount `reports`).
    let digests = step(&host, "file-digest", json!({})).await?;
    let files = digests["files"]
        .as_array()
        .ok_or("file-digest returned no files")?
        .clone();
    println!(
        "1. file-digest: {} files, report {}",
        files.len(),
        digests["report"]
    );

    // Step 2: sign each file's line concurrently, one task per file.
    let mut tasks = Vec::new();
    for file in files {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let line = format!(
                "{}  {}",
                file["sha256"].as_str().unwrap_or(""),
                file["path"].as_str().unwrap_or("")
            );
            let signed = step(&host, "sign-payload", json!({ "body": line })).await?;
            Ok::<_, String>((line, signed["signature"].as_str().unwrap_or("").to_owned()))
        }));
    }
    let mut signed = Vec::new();
    for task in tasks {
        signed.push(task.await??);
    }
    for (line, signature) in &signed {
        println!("2. sign-payload: {line} -> {signature}");
    }

    // Step 3: announce, with the previous steps' results as input.
    let announced = step(
        &host,
        "hello",
        json!({ "name": format!("{} signed release files", signed.len()) }),
    )
    .await?;
    println!("3. hello: {}", announced["greeting"]);

    let report = airlock::audit::verify::verify_file(host.audit_log())?;
    println!("audit: {} records, chain intact", report.records);
    Ok(())
}

/// Invoke one step and hand back its JSON output; any failure or refusal
/// stops the pipeline with a message that names the step.
async fn step(host: &Host, action: &str, input: Value) -> Result<Value, String> {
    let outcome: Outcome = host
        .invoke(action, &input.to_string())
        .await
        .map_err(|e| format!("{action}: {e}"))?;
    for denial in &outcome.denials {
        eprintln!(
            "   {action} (run {}): refused {} {}: {}",
            outcome.run, denial.event, denial.target, denial.reason
        );
    }
    match outcome.result {
        Ok(json) => serde_json::from_str(&json).map_err(|e| format!("{action}: {e}")),
        Err(failure @ Failure::Action(_)) => {
            Err(format!("{action} (run {}): {failure}", outcome.run))
        }
        Err(failure) => Err(format!(
            "{action} (run {}) was stopped: {failure}",
            outcome.run
        )),
    }
}

/// What an operator's `airlock.toml` and `airlock.lock` would hold, written
/// for this example: the three actions built from `plugins/` (first-party,
/// so unsigned) approved in the lock, two mounts, one secret from a file,
/// and the audit log.
fn operator_setup(dir: &Path) -> Result<Policy, Box<dyn Error>> {
    let source = dir.join("release");
    let reports = dir.join("reports");
    std::fs::create_dir_all(source.join("bin"))?;
    std::fs::create_dir_all(&reports)?;
    std::fs::write(source.join("bin/tool"), b"\x7fELF pretend binary")?;
    std::fs::write(source.join("CHANGELOG.md"), "## 1.0.0\n- first release\n")?;
    std::fs::write(
        dir.join("signing-key"),
        "example-signing-key-not-for-production\n",
    )?;

    let policy = format!(
        r#"
[trust]
require_signature = false    # first-party actions, built from this repository

[actions.file-digest]
path = {FILE_DIGEST:?}

[actions.sign-payload]
path = {SIGN_PAYLOAD:?}

[actions.hello]
path = {HELLO:?}

[mounts.source]
path = {:?}
access = "read"

[mounts.reports]
path = {:?}
access = "read-write"

[secrets.WEBHOOK_SIGNING_KEY]
file = "signing-key"

[audit]
path = "audit.jsonl"
"#,
        source.display().to_string(),
        reports.display().to_string(),
    );
    let policy = Policy::parse("example airlock.toml", &policy, dir)?;

    // What `airlock approve ACTION --yes` does for each action: review it
    // under the policy and record the approval in the lock.
    let mut lock = Lock::default();
    for path in [FILE_DIGEST, SIGN_PAYLOAD, HELLO] {
        let review = Review::of(&std::fs::read(path)?, path, None, None, &policy, &lock)?;
        lock.insert(review.entry(path, SystemTime::now()));
    }
    lock.save(&policy.trust.lock)?;
    Ok(policy)
}
