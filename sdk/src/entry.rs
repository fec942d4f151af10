//! The typed entry point: `fn run(I) -> Result<O, E>` becomes the component's
//! exported `run(input: string) -> result<string, string>`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;

/// Decode `input` as JSON, call `run`, and encode its result.
///
/// A malformed input is the action's error (it never reaches `run`); an
/// output that cannot be encoded is one too.
pub fn dispatch<I, O, E>(input: &str, run: fn(I) -> Result<O, E>) -> Result<String, String>
where
    I: DeserializeOwned,
    O: Serialize,
    E: Display,
{
    let input: I = serde_json::from_str(input).map_err(|e| format!("invalid input: {e}"))?;
    let output = run(input).map_err(|e| e.to_string())?;
    serde_json::to_string(&output).map_err(|e| format!("cannot encode output: {e}"))
}

/// Turn `fn run(input: I) -> Result<O, E>` into the component's `run` export
/// and embed the manifest from `action.toml` (next to the crate's
/// `Cargo.toml`) in the component.
///
/// `I` is any `serde::Deserialize` type, `O` any `serde::Serialize` type and
/// `E` anything that implements `Display`. Use
/// `action!(run, manifest = "path/relative/to/crate.toml")` for another
/// manifest file, and [`export_run!`](crate::export_run) to export `run`
/// without embedding a manifest (for `airlock pack`).
#[macro_export]
macro_rules! action {
    ($run:path) => {
        $crate::action!($run, manifest = "action.toml");
    };
    ($run:path, manifest = $manifest:literal) => {
        $crate::embed_manifest!($manifest);
        $crate::export_run!($run);
    };
}

/// Embed a manifest file in the component's `airlock-manifest` custom
/// section. The path is relative to the crate's `Cargo.toml`.
#[macro_export]
macro_rules! embed_manifest {
    ($manifest:literal) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        #[used]
        #[unsafe(link_section = "airlock-manifest")]
        pub static __AIRLOCK_MANIFEST: [u8; include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/",
            $manifest
        ))
        .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $manifest));
    };
}

/// Export `fn run(input: I) -> Result<O, E>` as the component's `run`,
/// without embedding a manifest.
#[macro_export]
macro_rules! export_run {
    ($run:path) => {
        #[doc(hidden)]
        pub struct __AirlockAction;

        impl $crate::bindings::Guest for __AirlockAction {
            fn run(input: ::std::string::String) -> ::std::result::Result<::std::string::String, ::std::string::String> {
                $crate::__private::dispatch(&input, $run)
            }
        }

        $crate::bindings::__export_airlock_world!(__AirlockAction with_types_in $crate::bindings);
    };
}

#[cfg(test)]
mod tests {
    use super::dispatch;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize)]
    struct In {
        n: u32,
    }

    #[derive(Serialize)]
    struct Out {
        double: u32,
    }

    fn double(input: In) -> Result<Out, String> {
        if input.n > 100 {
            return Err(format!("{} is too large", input.n));
        }
        Ok(Out {
            double: input.n * 2,
        })
    }

    #[test]
    fn dispatch_decodes_calls_and_encodes() {
        assert_eq!(
            dispatch(r#"{"n": 21}"#, double),
            Ok(r#"{"double":42}"#.into())
        );
        assert_eq!(
            dispatch(r#"{"n": 101}"#, double),
            Err("101 is too large".into())
        );
        let err = dispatch(r#"{"m": 1}"#, double).unwrap_err();
        assert!(err.starts_with("invalid input: missing field `n`"), "{err}");
        let err = dispatch("not json", double).unwrap_err();
        assert!(err.starts_with("invalid input:"), "{err}");
    }
}
