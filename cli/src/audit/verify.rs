//! `airlock audit verify`.

use super::super::{exit, fail};
use super::{LogFiles, read_key};
use airlock_audit::paths::Paths;
use airlock_audit::verify::{self, Options, Reason, Report};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audit log; give several (the logs of several workers) to check
    /// each and report per log. Each log's sealed segments
    /// `<stem>.<seq>.<ext>` are found beside it.
    files: Vec<PathBuf>,
    /// Log segments of one log, oldest first (instead of FILE).
    #[arg(long = "log", value_name = "FILE", num_args = 1.., conflicts_with = "files")]
    logs: Vec<PathBuf>,
    /// The signed checkpoints (default with FILE: `<stem>.checkpoints` beside it).
    #[arg(long, value_name = "FILE")]
    checkpoints: Option<PathBuf>,
    /// The verifier key (a file, or the key itself). Default with FILE: the
    /// generated `<stem>.pub` beside the log — pass a copy kept elsewhere.
    #[arg(long, value_name = "PUB")]
    key: Option<PathBuf>,
    /// A signed checkpoint kept elsewhere; the log must contain its history.
    #[arg(long, value_name = "CHECKPOINT")]
    witness: Option<PathBuf>,
    /// Fail if a record waited longer than this for a checkpoint (e.g. "10m").
    #[arg(long, value_name = "DURATION")]
    max_gap: Option<humantime::Duration>,
    /// Accept a log that no signed checkpoint covers (no key, or no
    /// checkpoint): only its chain is checked, which whoever can write the
    /// log can recompute. The report says UNAUTHENTICATED.
    #[arg(long)]
    unauthenticated: bool,
}

pub fn run(args: Args) -> u8 {
    if args.files.len() <= 1 {
        let logs = LogFiles {
            file: args.files.first().cloned(),
            logs: args.logs.clone(),
        };
        return verify_one(&logs, &args);
    }
    if args.checkpoints.is_some() || args.witness.is_some() {
        return fail(
            exit::USAGE,
            "--checkpoints and --witness belong to one log; with several, each log's own \
             checkpoints beside it are used",
        );
    }
    let mut failed = Vec::new();
    for file in &args.files {
        println!("== {}", file.display());
        let logs = LogFiles {
            file: Some(file.clone()),
            logs: Vec::new(),
        };
        let code = verify_one(&logs, &args);
        if code != exit::OK {
            failed.push((file, code));
        }
    }
    match failed.as_slice() {
        [] => {
            println!("all {} logs ok", args.files.len());
            exit::OK
        }
        failed => {
            let names: Vec<_> = failed
                .iter()
                .map(|(f, _)| f.display().to_string())
                .collect();
            println!(
                "FAILED: {} of {} logs: {}",
                failed.len(),
                args.files.len(),
                names.join(", ")
            );
            // A log that fails verification outranks one that cannot be
            // read: a tampered log must not read as a usage error.
            if failed.iter().any(|(_, code)| *code == exit::ACTION_ERROR) {
                exit::ACTION_ERROR
            } else {
                exit::USAGE
            }
        }
    }
}

fn verify_one(logs: &LogFiles, args: &Args) -> u8 {
    match options(logs, args) {
        Err(e) => fail(exit::USAGE, format!("{e:#}")),
        Ok((options, notes)) => match verify::verify(&options) {
            Ok(report) => {
                print_report(&report, &options, &notes);
                exit::OK
            }
            Err(failure) if failure.reason == Reason::Unreadable => fail(exit::USAGE, failure),
            Err(failure) => {
                println!(
                    "FAILED: {}",
                    airlock_rules::doc::one_line(&failure.to_string())
                );
                exit::ACTION_ERROR
            }
        },
    }
}

fn options(logs: &LogFiles, args: &Args) -> anyhow::Result<(Options, Vec<String>)> {
    let (logs, paths) = logs.resolve()?;
    let mut notes = Vec::new();
    let mut checkpoints = args.checkpoints.clone();
    let mut key = args.key.as_deref().map(read_key).transpose()?;
    if let Some(paths) = &paths {
        if checkpoints.is_none() && paths.checkpoints().exists() {
            checkpoints = Some(paths.checkpoints());
        }
        let public = Paths::public_of(&paths.key());
        if key.is_none() && public.exists() {
            key = Some(read_key(&public)?);
            notes.push(format!(
                "signatures checked with {} found beside the log; for assurance against whoever \
                 can write the log, pass --key with a copy kept elsewhere",
                public.display()
            ));
        }
    }
    let witness = match &args.witness {
        Some(w) => Some(
            std::fs::read_to_string(w)
                .map_err(|e| anyhow::anyhow!("cannot read the witness {}: {e}", w.display()))?,
        ),
        None => None,
    };
    Ok((
        Options {
            logs,
            checkpoints,
            key,
            witness,
            max_gap: args.max_gap.map(Into::into),
            now: None,
            unauthenticated: args.unauthenticated,
        },
        notes,
    ))
}

fn print_report(report: &Report, options: &Options, notes: &[String]) {
    println!(
        "ok: {} records, chain intact, root {}{}",
        report.records,
        hex::encode(report.root),
        if report.unauthenticated {
            " — UNAUTHENTICATED: no signed checkpoint covers the records, so whoever can write \
             the log could have rewritten it"
        } else {
            ""
        }
    );
    match &report.latest {
        None if options.checkpoints.is_none() => {
            println!("checkpoints: none given — records removed from the end cannot be detected")
        }
        None => println!("checkpoints: none yet"),
        Some(cp) => println!(
            "checkpoints: {} checked{}; latest: {} records at {}",
            report.checkpoints,
            if report.signed {
                format!(", signed by {}", cp.origin)
            } else {
                " — signatures NOT checked (no --key)".into()
            },
            cp.size,
            cp.time.as_deref().unwrap_or("?")
        ),
    }
    if let Some(cp) = &report.latest
        && cp.size < report.records
    {
        println!(
            "not yet sealed: {} records after the latest checkpoint",
            report.records - cp.size
        );
    }
    if report.witnessed {
        println!("witness: consistent");
    }
    if let Some(tail) = &report.tail {
        println!(
            "incomplete tail: {} bytes after record {} in {} — a write cut short (a crash); not counted",
            tail.bytes,
            report.records,
            tail.file.display()
        );
    }
    if let Some(at) = report.torn_checkpoint {
        println!(
            "incomplete checkpoint at byte {at} of the checkpoints file — a write cut short; ignored"
        );
    }
    if !report.open_intents.is_empty() {
        println!(
            "open intents: {:?} — no result yet: the host is running, or stopped before recording them",
            report.open_intents
        );
    }
    if !report.open_runs.is_empty() {
        println!(
            "open runs: {:?} (their run.start's seq) — no end yet: the host is running, or stopped \
             before recording it",
            report.open_runs
        );
    }
    for incident in &report.incidents {
        println!(
            "incident at seq {}: {}: {}",
            incident.seq,
            incident.event,
            airlock_rules::doc::one_line(&incident.detail)
        );
    }
    for note in notes {
        println!("note: {note}");
    }
}
