//! `release-notes`: turn a version and a list of changes into an
//! announcement. Pure compute.
//!
//! Unlike the other examples it is built *without* an embedded manifest
//! (`export_run!` instead of `action!`), the way a component from another
//! toolchain arrives: its publisher declares what it needs with
//! `airlock pack release-notes.wasm --manifest action.toml -o OUT.wasm`.
//! The demo packs it twice, as version 1.0.0 and as a 1.1.0 whose manifest
//! quietly adds a host (`demo/release-notes/`).

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    project: String,
    version: String,
    changes: Vec<String>,
}

#[derive(Serialize)]
struct Output {
    title: String,
    text: String,
}

fn run(input: Input) -> Result<Output, String> {
    if input.changes.is_empty() {
        return Err("`changes` is empty: nothing to announce".into());
    }
    let title = format!("{} {} released", input.project, input.version);
    let mut text = format!("{title}\n");
    for change in &input.changes {
        text.push_str(&format!("- {}\n", change.trim()));
    }
    airlock_sdk::log::info(&format!("announced {} changes", input.changes.len()));
    Ok(Output { title, text })
}

airlock_sdk::export_run!(run);
