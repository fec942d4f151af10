//! `hello`: the smallest useful action. It asks for nothing and gets nothing.

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Serialize)]
struct Output {
    greeting: String,
    vowels: usize,
}

fn run(input: Input) -> Result<Output, String> {
    if input.name.trim().is_empty() {
        return Err("`name` is empty".into());
    }
    let vowels = input
        .name
        .chars()
        .filter(|c| "aeiouAEIOU".contains(*c))
        .count();
    airlock_sdk::log::info(&format!(
        "greeting a name of {} characters",
        input.name.chars().count()
    ));
    Ok(Output {
        greeting: format!("Hello, {}!", input.name),
        vowels,
    })
}

airlock_sdk::action!(run);
