//! `airlock sign`: sign a component in the minisign format.

use super::{exit, fail, read_file};
use airlock_rules::opfile;
use airlock_rules::provenance::atomic;
use airlock_rules::provenance::minisign::SecretKey;
use std::path::PathBuf;

/// Sign a component with a minisign secret key, writing FILE.minisig
/// (verifiable with `airlock verify` and `minisign -V`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component to sign.
    file: PathBuf,
    /// The secret key (unencrypted; from `airlock keygen` or `minisign -G -W`).
    #[arg(short, long, default_value = "airlock.key")]
    secret_key: PathBuf,
    /// The signature file to write (default: FILE.minisig).
    #[arg(short = 'x', long)]
    signature: Option<PathBuf>,
    /// A one-line comment to sign with it (default: timestamp and file name).
    #[arg(short, long)]
    trusted_comment: Option<String>,
}

pub fn run(args: Args) -> u8 {
    let key_text = match opfile::read_operator_text(&args.secret_key, opfile::KEY_MAX, "key") {
        Ok(t) => zeroize::Zeroizing::new(t),
        Err(e) => {
            return fail(
                exit::USAGE,
                format!(
                    "cannot read the secret key {}: {e}",
                    args.secret_key.display()
                ),
            );
        }
    };
    let key = match SecretKey::from_text(&key_text) {
        Ok(k) => k,
        Err(e) => return fail(exit::USAGE, format!("{}: {e}", args.secret_key.display())),
    };
    let bytes = match read_file(&args.file) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let comment = args.trusted_comment.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = args
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("timestamp:{now}\tfile:{name}\thashed")
    });
    let signature = match key.sign(&bytes, &comment) {
        Ok(s) => s,
        Err(e) => return fail(exit::USAGE, e),
    };
    let out = args
        .signature
        .unwrap_or_else(|| PathBuf::from(format!("{}.minisig", args.file.display())));
    if let Err(e) = atomic::write(&out, signature.to_text().as_bytes()) {
        return fail(exit::HOST, format!("cannot write {}: {e}", out.display()));
    }
    println!(
        "signed {} with key {} -> {}",
        args.file.display(),
        key.id(),
        out.display()
    );
    exit::OK
}
