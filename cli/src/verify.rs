//! `airlock verify`: check a component's minisign signature, with a given
//! key or against the publishers the policy trusts.

use super::{exit, fail, read_file};
use airlock::Policy;
use airlock_rules::manifest::{Manifest, section};
use airlock_rules::opfile;
use airlock_rules::provenance::minisign::{PublicKey, Signature};
use airlock_rules::provenance::trust::{self, SignatureFile, SignatureStatus};
use std::path::PathBuf;

/// Verify a component's signature (FILE.minisig). With -p or -P, against
/// that key; otherwise against the keys the policy trusts for the
/// publisher the component's manifest names. Exits 1 if it does not verify.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The signed file.
    file: PathBuf,
    /// The signature file (default: FILE.minisig).
    #[arg(short = 'x', long)]
    signature: Option<PathBuf>,
    /// A public key file (a minisign .pub file).
    #[arg(short = 'p', long, conflicts_with = "public_key")]
    public_key_file: Option<PathBuf>,
    /// A public key, in base64 (`RWQ…`).
    #[arg(short = 'P', long)]
    public_key: Option<String>,
    /// The operator policy, when no key is given.
    #[arg(short, long, env = "AIRLOCK_CONFIG", default_value = "airlock.toml")]
    config: PathBuf,
}

pub fn run(args: Args) -> u8 {
    let bytes = match read_file(&args.file) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.minisig", args.file.display())));
    let sig_origin = sig_path.display().to_string();
    let sig_text = match opfile::read_operator_file(&sig_path, opfile::SIGNATURE_MAX, "signature") {
        Ok(t) => String::from_utf8_lossy(&t).into_owned(),
        Err(e) => return fail(exit::ACTION_ERROR, format!("cannot read {sig_origin}: {e}")),
    };

    let key = match (&args.public_key_file, &args.public_key) {
        (Some(file), _) => match opfile::read_operator_text(file, opfile::KEY_MAX, "key") {
            Ok(text) => {
                Some(PublicKey::from_text(&text).map_err(|e| format!("{}: {e}", file.display())))
            }
            Err(e) => Some(Err(format!("cannot read {}: {e}", file.display()))),
        },
        (None, Some(text)) => {
            Some(PublicKey::from_base64(text).map_err(|e| format!("the public key: {e}")))
        }
        (None, None) => None,
    };
    if let Some(key) = key {
        let key = match key {
            Ok(k) => k,
            Err(e) => return fail(exit::USAGE, e),
        };
        let verified = Signature::parse(&sig_text)
            .map_err(|e| format!("{sig_origin}: {e}"))
            .and_then(|sig| {
                key.verify(&bytes, &sig)
                    .map(|()| sig)
                    .map_err(|e| format!("{sig_origin}: {e}"))
            });
        return match verified {
            Ok(sig) => {
                println!("signature verified: key {}", key.id());
                println!("trusted comment: {}", sig.trusted_comment.escape_debug());
                exit::OK
            }
            Err(e) => fail(exit::ACTION_ERROR, format!("signature NOT verified: {e}")),
        };
    }

    // No key given: the publishers the policy trusts.
    let policy = match Policy::load(&args.config) {
        Ok(p) => p,
        Err(e) => return fail(exit::USAGE, e),
    };
    let origin = args.file.display().to_string();
    let manifest = match section::extract(&bytes)
        .map_err(|e| format!("{origin}: {e}"))
        .and_then(|t| {
            Manifest::parse(&format!("manifest of {origin}"), t).map_err(|e| e.to_string())
        }) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                exit::USAGE,
                format!(
                    "{e} (without a manifest there is no publisher: give the key with -p or -P)"
                ),
            );
        }
    };
    let file = SignatureFile {
        origin: sig_origin.clone(),
        text: sig_text,
    };
    let a = &manifest.action;
    match trust::check(
        &policy,
        &a.name,
        &a.publisher,
        &bytes,
        Some(&file),
        None,
        &sig_origin,
    ) {
        Ok(SignatureStatus::Verified { publisher, key_id }) => {
            println!("signature verified: key {key_id} of publisher `{publisher}`");
            if let Ok(sig) = Signature::parse(&file.text) {
                println!("trusted comment: {}", sig.trusted_comment.escape_debug());
            }
            exit::OK
        }
        Ok(other) => fail(
            exit::ACTION_ERROR,
            format!("signature NOT verified: {other}"),
        ),
        Err(problem) => fail(
            exit::ACTION_ERROR,
            format!("signature NOT verified: {origin} {problem}"),
        ),
    }
}
