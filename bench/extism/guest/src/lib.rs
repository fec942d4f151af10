//! The vowels workload on Extism: `run` takes `{"text": "..."}` and returns
//! `{"vowels": N}`, decoded and encoded with serde JSON as the airlock
//! guest (`tests/guests/vowels`) does.

use extism_pdk::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    text: String,
}

#[derive(Serialize)]
struct Output {
    vowels: usize,
}

#[plugin_fn]
pub fn run(Json(input): Json<Input>) -> FnResult<Json<Output>> {
    let vowels = input
        .text
        .chars()
        .filter(|c| matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u'))
        .count();
    Ok(Json(Output { vowels }))
}
