//! `airlock audit keygen`.

use super::super::{exit, fail};
use airlock_audit::note::SigningKey;
use airlock_audit::paths::Paths;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The key's name, which is also the checkpoints' origin: a name for
    /// this log, like `ci.example.com/airlock` (no spaces or `+`).
    #[arg(long)]
    name: String,
    /// Write `<OUT>.key` (the signing key, owner-only) and `<OUT>.pub`.
    #[arg(long, value_name = "PATH", default_value = "audit")]
    out: PathBuf,
}

pub fn run(args: Args) -> u8 {
    let key = match SigningKey::generate(&args.name) {
        Ok(k) => k,
        Err(e) => return fail(exit::USAGE, e),
    };
    let path = args.out.with_extension("key");
    if let Err(e) = airlock_audit::write_key_pair(&key, &path) {
        return fail(
            exit::USAGE,
            format!("{e} (an existing key is never overwritten)"),
        );
    }
    println!(
        "signing key:  {} (keep it secret; in the policy: [audit] key = {:?})",
        path.display(),
        path.display().to_string()
    );
    println!(
        "verifier key: {} (give it to auditors)",
        Paths::public_of(&path).display()
    );
    println!("{}", key.verifier().encode());
    exit::OK
}
