//! `sign-payload`: compute a webhook signature the way GitHub does
//! (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`).
//!
//! It needs the key's plaintext, so the key is declared `expose = true`; the
//! output carries only the signature.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The exact body that will be sent.
    body: String,
}

#[derive(Serialize)]
struct Output {
    header: &'static str,
    signature: String,
}

fn run(input: Input) -> Result<Output, String> {
    let key = airlock_sdk::secrets::get("WEBHOOK_SIGNING_KEY").map_err(|e| e.to_string())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|e| format!("unusable signing key: {e}"))?;
    mac.update(input.body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    airlock_sdk::log::info(&format!("signed {} bytes", input.body.len()));
    Ok(Output {
        header: "X-Hub-Signature-256",
        signature,
    })
}

airlock_sdk::action!(run);
