//! `{{name}}`: an airlock action. It reads `{"name": …}` and answers with a
//! greeting; the greeting word is configuration the operator sets.

use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    name: String,
}

#[derive(Debug, PartialEq, Serialize)]
struct Output {
    greeting: String,
}

fn run(input: Input) -> Result<Output, String> {
    let word = airlock_sdk::config::string("greeting").map_err(|e| e.to_string())?;
    airlock_sdk::log::info(&format!("greeting {}", input.name));
    greet(&word, &input.name)
}

/// The action's logic, apart from the host so that `cargo test` can run it.
fn greet(word: &str, name: &str) -> Result<Output, String> {
    if name.trim().is_empty() {
        return Err("name is empty".into());
    }
    Ok(Output {
        greeting: format!("{word}, {name}!"),
    })
}

airlock_sdk::action!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name_and_refuses_an_empty_one() {
        assert_eq!(
            greet("Hello", "Ada"),
            Ok(Output {
                greeting: "Hello, Ada!".into()
            })
        );
        assert!(greet("Hello", " ").is_err());
    }

    #[test]
    fn outside_airlock_host_calls_are_errors() {
        let err = airlock_sdk::config::string("greeting").unwrap_err();
        assert!(err.to_string().contains("only inside an airlock run"));
    }
}
