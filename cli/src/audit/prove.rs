//! `airlock audit prove` and `airlock audit verify-inclusion`.

use super::super::{exit, fail};
use super::{LogFiles, read_key};
use airlock_audit::checkpoint::{Checkpoint, split_file};
use airlock_audit::note::Note;
use airlock_audit::proof::{self, InclusionProof};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    logs: LogFiles,
    /// The record to prove.
    #[arg(long)]
    seq: u64,
    /// The tree size to prove it in (default: the latest checkpoint's).
    #[arg(long)]
    size: Option<u64>,
    /// The signed checkpoints (default with FILE: `<stem>.checkpoints` beside it).
    #[arg(long, value_name = "FILE")]
    checkpoints: Option<PathBuf>,
    /// Write `record-<seq>.json`, `proof-<seq>.json` and `checkpoint-<size>` here.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The record: one line of the log.
    #[arg(long, value_name = "FILE")]
    record: PathBuf,
    /// The proof from `airlock audit prove`.
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
    /// A signed checkpoint of the proof's tree size.
    #[arg(long, value_name = "FILE")]
    checkpoint: PathBuf,
    /// The log's verifier key (a file, or the key itself).
    #[arg(long, value_name = "PUB")]
    key: PathBuf,
}

pub fn run(args: Args) -> u8 {
    match prove(&args) {
        Ok(lines) => {
            lines.iter().for_each(|l| println!("{l}"));
            exit::OK
        }
        Err(e) => fail(exit::ACTION_ERROR, format!("{e:#}")),
    }
}

/// The checkpoint notes of a checkpoints file, parsed but not verified
/// (the auditor verifies the one they are handed).
fn checkpoints(path: &Path) -> anyhow::Result<Vec<(Checkpoint, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    split_file(&text)
        .notes
        .into_iter()
        .map(|e| {
            let note = Note::parse(&e.note)?;
            Ok((Checkpoint::parse_body(&note.text)?, e.note))
        })
        .collect::<Result<_, airlock_audit::note::NoteError>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn prove(args: &Args) -> anyhow::Result<Vec<String>> {
    let (logs, paths) = args.logs.resolve()?;
    let cp_path = args
        .checkpoints
        .clone()
        .or_else(|| paths.map(|p| p.checkpoints()));
    let known = match &cp_path {
        Some(p) if p.exists() => checkpoints(p)?,
        _ => Vec::new(),
    };
    let size = match args.size {
        Some(size) => size,
        None => known
            .iter()
            .map(|(cp, _)| cp.size)
            .max()
            .filter(|&s| s > args.seq)
            .ok_or_else(|| {
                anyhow::anyhow!("no checkpoint covers record {} yet; give --size", args.seq)
            })?,
    };
    let (record, proof) = proof::prove(&logs, args.seq, size)?;
    std::fs::create_dir_all(&args.out)?;
    let write = |name: String, bytes: &[u8]| -> anyhow::Result<String> {
        let path = args.out.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        Ok(path.display().to_string())
    };
    let mut lines = vec![
        format!(
            "record:     {}",
            write(
                format!("record-{}.json", args.seq),
                &[&record[..], b"\n"].concat()
            )?
        ),
        format!(
            "proof:      {}",
            write(
                format!("proof-{}.json", args.seq),
                (serde_json::to_string_pretty(&proof)? + "\n").as_bytes()
            )?
        ),
    ];
    match known.iter().find(|(cp, _)| cp.size == size) {
        Some((_, note)) => lines.push(format!(
            "checkpoint: {}",
            write(format!("checkpoint-{size}"), note.as_bytes())?
        )),
        None => lines.push(format!(
            "checkpoint: none of size {size} in the checkpoints file"
        )),
    }
    Ok(lines)
}

pub fn check(args: CheckArgs) -> u8 {
    let run = || -> anyhow::Result<Result<String, String>> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
        };
        let record = read(&args.record)?;
        let proof: InclusionProof = serde_json::from_slice(&read(&args.proof)?)
            .map_err(|e| anyhow::anyhow!("{}: not a proof: {e}", args.proof.display()))?;
        let note = String::from_utf8(read(&args.checkpoint)?)?;
        let key = read_key(&args.key)?;
        Ok(
            match proof::verify_inclusion(&record, &proof, &note, &key) {
                Ok(cp) => Ok(format!(
                    "ok: record {} is in the log of {} as of its checkpoint of {} records{}",
                    proof.seq,
                    cp.origin,
                    cp.size,
                    cp.time.map(|t| format!(" ({t})")).unwrap_or_default()
                )),
                Err(e) => Err(e.to_string()),
            },
        )
    };
    match run() {
        Err(e) => fail(exit::USAGE, format!("{e:#}")),
        Ok(Ok(line)) => {
            println!("{line}");
            exit::OK
        }
        Ok(Err(e)) => {
            println!("FAILED: {}", airlock_rules::doc::one_line(&e));
            exit::ACTION_ERROR
        }
    }
}
