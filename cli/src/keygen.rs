//! `airlock keygen`: a minisign key pair for publishers without minisign.

use super::{exit, fail};
use airlock_rules::provenance::atomic;
use airlock_rules::provenance::minisign::SecretKey;
use std::path::PathBuf;

/// Make a minisign key pair (the secret key unencrypted, readable only by
/// you; `minisign -S -s` reads it too).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the public key.
    #[arg(short, long, default_value = "airlock.pub")]
    public_key: PathBuf,
    /// Where to write the secret key.
    #[arg(short, long, default_value = "airlock.key")]
    secret_key: PathBuf,
    /// Replace existing key files.
    #[arg(short, long)]
    force: bool,
}

pub fn run(args: Args) -> u8 {
    for path in [&args.public_key, &args.secret_key] {
        if path.exists() && !args.force {
            return fail(
                exit::USAGE,
                format!("{} exists: pass --force to replace it", path.display()),
            );
        }
    }
    let key = match SecretKey::generate() {
        Ok(k) => k,
        Err(e) => return fail(exit::HOST, format!("no randomness for a key: {e}")),
    };
    let public = key.public_key();
    let written = atomic::write_with(&args.secret_key, key.to_text().as_bytes(), Some(0o600))
        .map_err(|e| (&args.secret_key, e))
        .and_then(|()| {
            atomic::write(&args.public_key, public.to_text().as_bytes())
                .map_err(|e| (&args.public_key, e))
        });
    if let Err((path, e)) = written {
        return fail(exit::HOST, format!("cannot write {}: {e}", path.display()));
    }
    println!("secret key: {} (keep it secret)", args.secret_key.display());
    println!(
        "public key: {} (key id {})",
        args.public_key.display(),
        public.id()
    );
    println!();
    println!("Operators trust it in airlock.toml:");
    println!("  [publishers.YOUR-NAME]");
    println!("  keys = [\"{}\"]", public.to_base64());
    exit::OK
}
