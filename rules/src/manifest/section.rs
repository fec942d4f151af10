//! The manifest inside the component: the `airlock-manifest` custom section.
//!
//! The Rust SDK places it in the component's core module at compile time;
//! [`embed`] appends it to the component itself for any other toolchain
//! (`airlock pack`). A component must carry exactly one, wherever it is, so
//! that there is never a question which declaration a digest approved.

use wasmparser::{Encoding, Parser, Payload};

/// The custom section's name.
pub const NAME: &str = "airlock-manifest";

/// Why a manifest could not be read out of, or put into, a component.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SectionError {
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component carries no manifest.
    #[error(
        "the component has no embedded manifest: build it with airlock-sdk's action! macro, \
         or add one with `airlock pack IN.wasm --manifest action.toml -o OUT.wasm`"
    )]
    Missing,
    /// The component carries more than one manifest.
    #[error("the component has {0} embedded manifests; exactly one is allowed")]
    Ambiguous(usize),
    /// The manifest is not UTF-8.
    #[error("the embedded manifest is not UTF-8 text")]
    NotUtf8,
}

/// The text of the one embedded manifest.
pub fn extract(component: &[u8]) -> Result<&str, SectionError> {
    let mut found = Vec::new();
    for (i, payload) in Parser::new(0).parse_all(component).enumerate() {
        let payload = payload.map_err(|e| SectionError::NotAComponent(e.message().to_owned()))?;
        match payload {
            Payload::Version { encoding, .. } if i == 0 && encoding != Encoding::Component => {
                return Err(SectionError::NotAComponent(
                    "this is a core module; build for wasm32-wasip2 or wrap it with `wasm-tools component new`".into(),
                ));
            }
            Payload::CustomSection(section) if section.name() == NAME => found.push(section.data()),
            _ => {}
        }
    }
    match found.as_slice() {
        [] => Err(SectionError::Missing),
        [one] => std::str::from_utf8(one).map_err(|_| SectionError::NotUtf8),
        many => Err(SectionError::Ambiguous(many.len())),
    }
}

/// `component` with `manifest` appended as its `airlock-manifest` section.
///
/// Refuses a component that already carries a manifest: replacing an
/// approved declaration must be visible as a new build, not a silent edit.
pub fn embed(component: &[u8], manifest: &str) -> Result<Vec<u8>, SectionError> {
    match extract(component) {
        Err(SectionError::Missing) => {}
        Ok(_) => return Err(SectionError::Ambiguous(2)),
        Err(e) => return Err(e),
    }
    let mut body = Vec::with_capacity(NAME.len() + manifest.len() + 10);
    leb128(&mut body, NAME.len());
    body.extend_from_slice(NAME.as_bytes());
    body.extend_from_slice(manifest.as_bytes());

    let mut out = Vec::with_capacity(component.len() + body.len() + 6);
    out.extend_from_slice(component);
    out.push(0); // custom section id
    leb128(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the preamble and nothing else.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";
    const EMPTY_MODULE: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn embed_then_extract_round_trips() {
        let long = "x".repeat(300); // a section size that needs two LEB128 bytes
        for text in ["[action]\nname = \"a\"\n", long.as_str()] {
            let packed = embed(EMPTY_COMPONENT, text).unwrap();
            assert_eq!(extract(&packed).unwrap(), text);
        }
    }

    #[test]
    fn missing_duplicate_and_foreign_inputs_are_refused() {
        assert_eq!(extract(EMPTY_COMPONENT), Err(SectionError::Missing));
        let packed = embed(EMPTY_COMPONENT, "one").unwrap();
        assert_eq!(embed(&packed, "two"), Err(SectionError::Ambiguous(2)));
        assert!(matches!(
            extract(EMPTY_MODULE),
            Err(SectionError::NotAComponent(_))
        ));
        assert!(matches!(
            extract(b"not wasm at all"),
            Err(SectionError::NotAComponent(_))
        ));
        let mut bad_utf8 = embed(EMPTY_COMPONENT, "ab").unwrap();
        let n = bad_utf8.len();
        bad_utf8[n - 1] = 0xff;
        assert_eq!(extract(&bad_utf8), Err(SectionError::NotUtf8));
    }
}
