//! Writing checkpoints: appended to the checkpoints file, and copied to the
//! operator's second location.

use super::checkpoint::{Checkpoint, split_file};
use super::faults::Faults;
use super::note::VerifierKey;
use crate::AuditError;
use airlock_rules::policy::{Anchor, AuditConfig};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// Before the first append: move a torn last note aside, and return the
/// last checkpoint, checked with `key`.
pub fn prepare(path: &Path, key: &VerifierKey) -> Result<Option<Checkpoint>, AuditError> {
    let fail = |e: std::io::Error| AuditError::storage("cannot read", path, &e);
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail(e)),
    };
    // Notes are a few hundred bytes: the last one is in the tail. Read 4 KiB
    // of it, and more only if that holds no whole note.
    let len = file.seek(SeekFrom::End(0)).map_err(fail)?;
    let mut tail_len = 4 * 1024;
    let (text, entries) = loop {
        let from = len.saturating_sub(tail_len);
        file.seek(SeekFrom::Start(from)).map_err(fail)?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).map_err(fail)?;
        let text = String::from_utf8_lossy(&tail);
        // Start at a note boundary: after the first blank line that ends one.
        let text = if from == 0 {
            &text[..]
        } else {
            text.find("\n\n\u{2014}")
                .and_then(|i| text[i + 2..].find("\n\n").map(|j| &text[i + 2 + j + 2..]))
                .unwrap_or("")
        };
        let entries = split_file(text);
        if from == 0 || !entries.notes.is_empty() || tail_len >= 1024 * 1024 {
            break (text.to_owned(), entries);
        }
        tail_len *= 16;
    };
    if let Some(at) = entries.torn_at {
        let keep = len - (text.len() - at) as u64;
        let aside = PathBuf::from(format!("{}.torn-{keep}", path.display()));
        std::fs::write(&aside, &text.as_bytes()[at..]).map_err(fail)?;
        file.set_len(keep).map_err(fail)?;
        tracing::warn!(checkpoints = %path.display(), saved = %aside.display(), "the checkpoints file ended in a torn note; moved it aside");
    }
    match entries.notes.last() {
        None => Ok(None),
        Some(entry) => Checkpoint::open(&entry.note, key).map(Some).map_err(|e| {
            AuditError::Tampered(format!(
                "the last checkpoint in {} does not verify with the log's key (if [audit] key \
                 was changed on purpose, start a new log with the new key): {e}",
                path.display()
            ))
        }),
    }
}

/// Append the signed checkpoint `note` (of `size` records) to the
/// checkpoints file, durably, then copy it to the anchor.
pub fn publish(
    config: &AuditConfig,
    faults: &Faults,
    note: &str,
    size: u64,
) -> Result<(), AuditError> {
    let path = &config.checkpoints;
    let fail = |e: std::io::Error| AuditError::storage("cannot write", path, &e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    let entry = format!("{note}\n");
    if let Err(e) = faults
        .write_all(&file, entry.as_bytes())
        .and_then(|()| faults.sync(&file))
    {
        let _ = file.set_len(len);
        return Err(fail(e));
    }
    match &config.anchor {
        None => Ok(()),
        Some(anchor) => copy_to_anchor(anchor, config.instance.as_deref(), note, size),
    }
}

fn copy_to_anchor(
    anchor: &Anchor,
    instance: Option<&str>,
    note: &str,
    size: u64,
) -> Result<(), AuditError> {
    match anchor {
        Anchor::Dir(dir) => {
            let fail =
                |e: std::io::Error| AuditError::storage("cannot copy the checkpoint to", dir, &e);
            std::fs::create_dir_all(dir).map_err(fail)?;
            let name = format!("checkpoint-{size:020}");
            let tmp = dir.join(format!(".{name}.tmp"));
            let mut f = std::fs::File::create(&tmp).map_err(fail)?;
            f.write_all(note.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(fail)?;
            std::fs::rename(&tmp, dir.join(&name)).map_err(fail)?;
            std::fs::copy(dir.join(&name), dir.join(".latest.tmp"))
                .and_then(|_| std::fs::rename(dir.join(".latest.tmp"), dir.join("latest")))
                .map_err(fail)?;
            Ok(())
        }
        Anchor::Command(argv) => {
            let fail = |e: String| {
                AuditError::Config(format!(
                    "the checkpoint command `{}` failed: {e}",
                    argv.join(" ")
                ))
            };
            let mut command = std::process::Command::new(&argv[0]);
            if let Some(instance) = instance {
                command.env("AIRLOCK_INSTANCE", instance);
            }
            let mut child = command
                .args(&argv[1..])
                .env("AIRLOCK_CHECKPOINT_SIZE", size.to_string())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| fail(e.to_string()))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin
                    .write_all(note.as_bytes())
                    .map_err(|e| fail(e.to_string()))?;
            }
            let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(fail(format!(
                    "{}: {}",
                    out.status,
                    airlock_rules::doc::one_line(stderr.trim())
                )));
            }
            Ok(())
        }
    }
}
