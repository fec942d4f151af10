//! `airlock audit`: check the log, prove records, show it, make keys.

mod keygen;
mod prove;
mod show;
mod verify;

use airlock_audit::note::VerifierKey;
use airlock_audit::paths::Paths;
use std::path::{Path, PathBuf};

/// Work with the audit log.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check that no record was edited, removed, reordered, cut short or
    /// forged, against signed checkpoints and a witness.
    Verify(verify::Args),
    /// Write an inclusion proof for one record: the record, its audit path,
    /// and the signed checkpoint it leads to.
    Prove(prove::Args),
    /// Check an inclusion proof offline, without the log.
    VerifyInclusion(prove::CheckArgs),
    /// Print records, filtered; safe on hostile content.
    Show(show::Args),
    /// Make an Ed25519 key pair for signing checkpoints.
    Keygen(keygen::Args),
}

pub fn run(cmd: Command) -> u8 {
    match cmd {
        Command::Verify(args) => verify::run(args),
        Command::Prove(args) => prove::run(args),
        Command::VerifyInclusion(args) => prove::check(args),
        Command::Show(args) => show::run(args),
        Command::Keygen(args) => keygen::run(args),
    }
}

/// Which log files to read: `--log` as given, or the log at `file` with its
/// sealed segments before it.
#[derive(Debug, clap::Args)]
pub struct LogFiles {
    /// The audit log (its sealed segments `<stem>.<seq>.<ext>` are found
    /// beside it).
    pub file: Option<PathBuf>,
    /// Log segments, oldest first (instead of FILE).
    #[arg(long = "log", value_name = "FILE", num_args = 1.., conflicts_with = "file")]
    pub logs: Vec<PathBuf>,
}

impl LogFiles {
    /// The files in order, and the log they belong to when FILE was given.
    pub fn resolve(&self) -> anyhow::Result<(Vec<PathBuf>, Option<Paths>)> {
        match &self.file {
            Some(file) => {
                let paths = Paths::new(file);
                let mut files = paths.segments()?;
                files.push(file.clone());
                Ok((files, Some(paths)))
            }
            None if self.logs.is_empty() => {
                anyhow::bail!("name the audit log: FILE or --log FILE...")
            }
            None => Ok((self.logs.clone(), None)),
        }
    }
}

/// A verifier key from a file, or given literally.
pub fn read_key(arg: &Path) -> anyhow::Result<VerifierKey> {
    let text =
        match airlock_rules::opfile::read_operator_text(arg, airlock_rules::opfile::KEY_MAX, "key")
        {
            Ok(text) => text,
            Err(e) => match VerifierKey::parse(&arg.to_string_lossy()) {
                Ok(key) => return Ok(key),
                Err(_) => anyhow::bail!("cannot read the key {}: {e}", arg.display()),
            },
        };
    VerifierKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", arg.display()))
}
