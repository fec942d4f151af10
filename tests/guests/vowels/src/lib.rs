//! `vowels`: the workload of the performance suite (`cli/benches/perf/`).
//! Its `run` takes `{"text": "..."}` and returns `{"vowels": N}`; it asks
//! for no capabilities and does nothing but compute, so a benchmark of it
//! measures what the host adds around a call.

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(Serialize)]
struct Output {
    vowels: usize,
}

fn run(input: Input) -> Result<Output, String> {
    let vowels = input
        .text
        .chars()
        .filter(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u'))
        .count();
    Ok(Output { vowels })
}

airlock_sdk::action!(run);
