//! `airlock audit`: check the audit log.

use super::{exit, fail};
use crate::audit::verify;
use std::path::PathBuf;

/// Work with the audit log.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check that no record was edited, removed, reordered or cut short.
    Verify {
        /// The audit log (JSON Lines); `<FILE>.head` is checked too when present.
        file: PathBuf,
    },
}

pub fn run(cmd: Command) -> u8 {
    match cmd {
        Command::Verify { file } => match verify::verify_file(&file) {
            Ok(report) => {
                let head = if report.head_checked {
                    "head matches"
                } else {
                    "no head file: records removed from the end cannot be detected"
                };
                println!("ok: {} records, chain intact, {head}", report.records);
                exit::OK
            }
            Err(failure) if failure.reason == verify::Reason::Unreadable => {
                fail(exit::USAGE, failure)
            }
            Err(failure) => {
                println!("FAILED: {failure}");
                exit::ACTION_ERROR
            }
        },
    }
}
