//! The checkpoint signing key: the operator's (`[audit] key`), or one
//! generated beside the log on first use.

use super::note::SigningKey;
use super::paths::Paths;
use crate::AuditError;
use std::io::Write as _;
use std::path::Path;

/// Read the signing key at `configured`, or the generated key of the log
/// at `paths`, creating it (and its `.pub`) if there is none.
pub fn load_or_create(configured: Option<&Path>, paths: &Paths) -> Result<SigningKey, AuditError> {
    if let Some(path) = configured {
        return read(path, Origin::Policy);
    }
    let path = paths.key();
    if path.exists() {
        return read(&path, Origin::Generated);
    }
    let mut id = [0u8; 4];
    getrandom::fill(&mut id)
        .map_err(|e| AuditError::Internal(format!("no randomness for a key: {e}")))?;
    let key = SigningKey::generate(&format!("airlock.local/{}", hex::encode(id)))
        .map_err(|e| AuditError::Internal(e.to_string()))?;
    write_pair(&key, &path)?;
    tracing::warn!(
        key = %path.display(),
        "generated a checkpoint signing key beside the audit log; for checkpoints an attacker \
         who can write the log cannot forge, set [audit] key to a key from `airlock audit keygen` \
         kept elsewhere, and keep its .pub where auditors can find it"
    );
    Ok(key)
}

/// Where a key comes from, which decides what a key that cannot be used
/// means.
#[derive(Copy, Clone)]
enum Origin {
    /// The policy's `[audit] key`: the policy names a key it cannot have.
    Policy,
    /// Generated beside the log by airlock: a key airlock wrote that can no
    /// longer be read failed in storage, and one that no longer parses was
    /// changed.
    Generated,
}

fn read(path: &Path, origin: Origin) -> Result<SigningKey, AuditError> {
    let text =
        airlock_rules::opfile::read_operator_text(path, airlock_rules::opfile::KEY_MAX, "key")
            .map_err(|e| match origin {
                Origin::Policy => AuditError::Config(format!(
                    "cannot read the checkpoint key {}: {e}",
                    path.display()
                )),
                Origin::Generated => {
                    AuditError::storage("cannot read the checkpoint key", path, &e)
                }
            })?;
    let text = zeroize::Zeroizing::new(text);
    SigningKey::parse(&text).map_err(|e| {
        let why = format!("{}: {e}", path.display());
        match origin {
            Origin::Policy => AuditError::Config(why),
            Origin::Generated => AuditError::Tampered(format!(
                "{why}: the key airlock generated beside the log was changed"
            )),
        }
    })
}

/// Write `key` to `path` (readable by its owner only, never overwriting)
/// and its verifier key to `path` with extension `.pub`.
pub fn write_pair(key: &SigningKey, path: &Path) -> Result<(), AuditError> {
    let fail = |p: &Path, e: std::io::Error| AuditError::storage("cannot write", p, &e);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(|e| fail(path, e))?;
    f.write_all(format!("{}\n", &*key.encode()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| fail(path, e))?;
    let public = Paths::public_of(path);
    std::fs::write(&public, format!("{}\n", key.verifier().encode()))
        .map_err(|e| fail(&public, e))?;
    Ok(())
}
