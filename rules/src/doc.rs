//! Decoding untrusted documents (manifests, policies) so that every error
//! names the document, the field's path and the line.

use serde::de::DeserializeOwned;
use std::fmt;

/// A document that did not parse or did not validate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    /// Which document: `airlock.toml`, `manifest of hello.wasm`, ...
    pub document: String,
    /// The field's path, like `capabilities.files[1].access`; empty for the
    /// document as a whole.
    pub path: String,
    /// The 1-based line the problem is on, when known.
    pub line: Option<usize>,
    /// What is wrong and, where possible, what to write instead.
    pub message: String,
}

impl DocError {
    /// An error about the field at `path` of `document`.
    pub fn new(document: &str, path: impl Into<String>, message: impl Into<String>) -> DocError {
        DocError {
            document: document.to_owned(),
            path: path.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.document)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DocError {}

/// Decode `text` as TOML into `T`, naming the field and line of any error.
pub fn from_toml<T: DeserializeOwned>(document: &str, text: &str) -> Result<T, DocError> {
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
    };
    let de = toml::Deserializer::parse(text).map_err(|e| DocError {
        document: document.to_owned(),
        path: String::new(),
        line: line_of(e.span()),
        message: one_line(e.message()),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        DocError {
            document: document.to_owned(),
            path: if path == "." { String::new() } else { path },
            line: line_of(inner.span()),
            message: one_line(inner.message()),
        }
    })
}

/// Decode `text` as JSON into `T`, naming the field of any error.
pub fn from_json<T: DeserializeOwned>(document: &str, text: &str) -> Result<T, DocError> {
    let error = |path: String, inner: serde_json::Error| DocError {
        document: document.to_owned(),
        path: if path == "." { String::new() } else { path },
        line: Some(inner.line()).filter(|l| *l > 0),
        message: one_line(&strip_json_position(&inner.to_string())),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        error(path, e.into_inner())
    })?;
    de.end().map_err(|e| error(String::new(), e))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the line is reported apart.
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Errors are one line: a newline in a message (or in the hostile input it
/// quotes) would let a document forge a second line of output.
pub fn one_line(message: &str) -> String {
    message
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        size: u32,
    }

    #[test]
    fn toml_errors_name_path_and_line() {
        let text = "name = \"x\"\n\n[[items]]\nsize = 1\n\n[[items]]\nsize = \"big\"\n";
        let err = from_toml::<Doc>("test.toml", text).unwrap_err();
        assert_eq!(err.path, "items[1].size");
        assert_eq!(err.line, Some(7));
        assert!(err.message.contains("invalid type"), "{err}");
        assert!(
            err.to_string()
                .starts_with("test.toml line 7: items[1].size: "),
            "{err}"
        );

        let err = from_toml::<Doc>("test.toml", "name = \"x\"\nnmae = 1\n").unwrap_err();
        assert!(err.message.contains("unknown field `nmae`"), "{err}");
        assert_eq!(err.line, Some(2));

        let err = from_toml::<Doc>("test.toml", "name = \n").unwrap_err();
        assert_eq!(err.path, "");
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn json_errors_name_path_and_have_one_line() {
        let err =
            from_json::<Doc>("input", r#"{"name": "x", "items": [{"size": -1}]}"#).unwrap_err();
        assert_eq!(err.path, "items[0].size");
        assert!(!err.to_string().contains('\n'));
        let err = from_json::<Doc>("input", r#"{"name": "x"} trailing"#).unwrap_err();
        assert!(err.message.contains("trailing"), "{err}");
    }
}
