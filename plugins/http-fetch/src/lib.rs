//! `http-fetch`: GET a URL and return its status and one field of its JSON
//! body.
//!
//! The manifest declares `https://api.github.com` and nothing else, so the
//! input can name any URL there and no URL anywhere else: the host refuses
//! the request before any DNS lookup.
//!
//! Input: `{"url": "https://api.github.com/repos/rust-lang/rust",
//! "field": "/stargazers_count"}` (`field` is a JSON pointer).
//! Output: `{"status": 200, "value": 98765}`.

use airlock_sdk::http;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    url: String,
    /// A JSON pointer into the response body, like `/owner/login`.
    field: String,
}

#[derive(Serialize)]
struct Output {
    status: u16,
    value: Value,
}

fn run(input: Input) -> Result<Output, String> {
    if !input.field.is_empty() && !input.field.starts_with('/') {
        return Err(format!(
            "`field` is a JSON pointer and starts with `/`, like \"/{}\"",
            input.field
        ));
    }
    let response = http::get(&input.url)
        .header("accept", "application/json")
        .header("user-agent", "airlock-http-fetch")
        .send()
        .map_err(|e| format!("GET {} failed: {e}", input.url))?;
    let status = response.status();
    let body: Value = response.json().map_err(|e| format!("{status}: {e}"))?;
    let value = body
        .pointer(&input.field)
        .cloned()
        .ok_or_else(|| format!("the response ({status}) has no field {}", input.field))?;
    Ok(Output { status, value })
}

airlock_sdk::action!(run);
