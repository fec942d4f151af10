//! `slack-notify`: post a message to a Slack channel through an incoming
//! webhook.
//!
//! The webhook's path is the credential, so the action never holds it: the
//! URL it sends carries the placeholder `{{secret:SLACK_WEBHOOK_PATH}}`,
//! which the host fills in only for `hooks.slack.com` (the secret's
//! `send_to`). The operator provides the value (`T…/B…/…`) in the policy.
//!
//! Input: `{"text": "Deploy of app 1.4.2 finished"}`, optionally with
//! `"blocks"` (Slack Block Kit JSON). Output: `{"status": 200}`.

use airlock_sdk::{Secret, http};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// The message; Slack's fallback text when `blocks` are given.
    text: String,
    /// Block Kit blocks, passed through as they are.
    #[serde(default)]
    blocks: Option<Value>,
}

#[derive(Serialize)]
struct Output {
    status: u16,
}

fn run(input: Input) -> Result<Output, String> {
    if input.text.trim().is_empty() {
        return Err("`text` is empty".into());
    }
    let mut message = serde_json::json!({ "text": input.text });
    if let Some(blocks) = input.blocks {
        message["blocks"] = blocks;
    }
    let url = format!(
        "https://hooks.slack.com/services/{}",
        Secret::placeholder("SLACK_WEBHOOK_PATH")
    );
    let response = http::post(url)
        .json(&message)
        .max_response_bytes(64 * 1024)
        .send()
        .map_err(|e| format!("posting to Slack failed: {e}"))?;
    if !response.is_success() {
        let body = response.text().unwrap_or("(not text)");
        return Err(format!(
            "Slack answered {}: {}",
            response.status(),
            body.chars().take(200).collect::<String>()
        ));
    }
    airlock_sdk::log::info(&format!(
        "posted {} bytes to Slack",
        message.to_string().len()
    ));
    Ok(Output {
        status: response.status(),
    })
}

airlock_sdk::action!(run);
