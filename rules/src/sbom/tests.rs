use super::*;
use wasm_encoder::{Component, CustomSection, Module, ModuleSection};

/// A core module with a custom section `name` holding `data`.
fn module_with(name: &str, data: &[u8]) -> Module {
    let mut m = Module::new();
    m.section(&CustomSection {
        name: name.into(),
        data: data.into(),
    });
    m
}

/// A component around core modules, one per section given.
fn component(sections: &[&[u8]]) -> Vec<u8> {
    let mut c = Component::new();
    for data in sections {
        c.section(&ModuleSection(&module_with(SECTION, data)));
    }
    c.finish()
}

fn zlib(json: &str) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6)
}

const LIST: &str = r#"{"packages":[
    {"name":"my-action","version":"1.2.0","source":"local","dependencies":[1,2,3],"root":true},
    {"name":"serde","version":"1.0.228","source":"crates.io"},
    {"name":"cc","version":"1.2.0","source":"crates.io","kind":"build"},
    {"name":"airlock-sdk","version":"0.1.0","source":"git"}
]}"#;

#[test]
fn a_list_is_read_from_a_module_inside_a_component() {
    let sbom = read(&component(&[&zlib(LIST)])).unwrap().unwrap();
    assert_eq!(sbom.format, "cargo-auditable");
    assert_eq!(sbom.root.as_ref().unwrap().name, "my-action");
    assert_eq!(
        sbom.lines(),
        [
            "airlock-sdk 0.1.0 (git)",
            "cc 1.2.0 [build]",
            "serde 1.0.228"
        ]
    );
    let bom = sbom.cyclonedx();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["metadata"]["component"]["name"], "my-action");
    let serde = &bom["components"][2];
    assert_eq!(serde["purl"], "pkg:cargo/serde@1.0.228");
    assert_eq!(serde["scope"], "required");
    assert_eq!(bom["components"][1]["scope"], "excluded");
    // Only crates.io packages have a package URL that names them.
    assert!(bom["components"][0].get("purl").is_none());
}

#[test]
fn a_component_without_a_list_has_none() {
    assert_eq!(read(&Component::new().finish()).unwrap(), None);
    let other = {
        let mut c = Component::new();
        c.section(&ModuleSection(&module_with(".dep-v1", &zlib(LIST))));
        c.finish()
    };
    assert_eq!(read(&other).unwrap(), None);
}

#[test]
fn the_lists_of_several_modules_are_one() {
    let second = r#"{"packages":[
        {"name":"serde","version":"1.0.228","source":"crates.io"},
        {"name":"base64","version":"0.22.1","source":"crates.io"}
    ]}"#;
    let sbom = read(&component(&[&zlib(LIST), &zlib(second)]))
        .unwrap()
        .unwrap();
    assert_eq!(
        sbom.lines(),
        [
            "airlock-sdk 0.1.0 (git)",
            "base64 0.22.1",
            "cc 1.2.0 [build]",
            "serde 1.0.228"
        ]
    );
}

#[test]
fn a_list_that_cannot_be_read_is_an_error_naming_why() {
    let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b' '; INFLATED_MAX + 1], 9);
    let package = |fields: &str| format!(r#"{{"packages":[{{{fields}}}]}}"#);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not zlib", b"{\"packages\":[]}".to_vec(), "not zlib data"),
        ("a bomb", bomb, "inflates beyond 8 MiB"),
        ("not JSON", zlib("packages"), "not cargo-auditable's JSON"),
        ("no packages", zlib("{}"), "not cargo-auditable's JSON"),
        (
            "a terminal escape in a name",
            zlib(&package(
                r#""name":"ev\u001b[2Jil","version":"1.0.0","source":"crates.io""#,
            )),
            "package 0: its name is not a crate name",
        ),
        (
            "an empty name",
            zlib(&package(
                r#""name":"","version":"1.0.0","source":"crates.io""#,
            )),
            "its name is not a crate name",
        ),
        (
            "a version that is not one",
            zlib(&package(
                r#""name":"x","version":"latest","source":"crates.io""#,
            )),
            "its version is not a semantic version",
        ),
        (
            "a source with a space",
            zlib(&package(
                r#""name":"x","version":"1.0.0","source":"crates io""#,
            )),
            "its source is not a short name",
        ),
        (
            "an unknown kind",
            zlib(&package(
                r#""name":"x","version":"1.0.0","source":"git","kind":"dev""#,
            )),
            "its kind is neither runtime nor build",
        ),
        (
            "two roots",
            zlib(
                r#"{"packages":[{"name":"a","version":"1.0.0","source":"local","root":true},
                {"name":"b","version":"1.0.0","source":"local","root":true}]}"#,
            ),
            "package 1: a second root",
        ),
    ];
    for (what, data, expected) in cases {
        let e = read(&component(&[&data])).unwrap_err().to_string();
        assert!(
            e.starts_with("its dependency list (.dep-v0) cannot be read: ") && e.contains(expected),
            "{what}: {e}"
        );
        assert!(!e.contains('\u{1b}'), "{what}: {e:?}");
    }
    // Each section within the budget, together beyond it.
    let padded = zlib(&format!("{LIST}{}", " ".repeat(5 << 20)));
    let e = read(&component(&[&padded, &padded]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("inflates beyond 8 MiB"), "{e}");
    read(&component(&[&padded])).unwrap().unwrap();
    let many = format!(
        r#"{{"packages":[{}]}}"#,
        vec![r#"{"name":"x","version":"1.0.0","source":"git"}"#; PACKAGES_MAX + 1].join(",")
    );
    let e = read(&component(&[&zlib(&many)])).unwrap_err().to_string();
    assert!(e.contains("over 10000 packages"), "{e}");
}

#[test]
fn the_difference_names_new_changed_and_removed_crates() {
    let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let old = lines(&[
        "anyhow 1.0.0",
        "hashbrown 0.14.5",
        "serde 1.0.1",
        "zeta 0.1.0",
    ]);
    let new = lines(&[
        "anyhow 1.0.0",
        "base64 0.22.1",
        "hashbrown 0.14.5",
        "hashbrown 0.15.0",
        "serde 1.0.2 (git)",
    ]);
    let texts: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
    assert_eq!(
        texts,
        [
            "new crate base64 0.22.1",
            "hashbrown 0.14.5 -> 0.14.5, 0.15.0",
            "serde 1.0.1 -> 1.0.2 (git)",
            "crate zeta 0.1.0 removed",
        ]
    );
    assert!(diff(&new, &new).is_empty());
    assert_eq!(diff(&[], &new).len(), 4);
}

/// The example plugins are built with cargo-auditable: their lists are
/// real, and name the SDK they were built with.
#[test]
fn the_example_plugins_carry_their_dependency_list() {
    for (name, bytes) in [
        ("hello", airlock_test_artifacts::HELLO),
        ("release-notes", airlock_test_artifacts::RELEASE_NOTES),
    ] {
        let component = std::fs::read(bytes).unwrap();
        let sbom = read(&component)
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: no list"));
        assert_eq!(sbom.root.as_ref().map(|r| r.name.as_str()), Some(name));
        assert!(
            sbom.packages.iter().any(|p| p.name == "airlock-sdk"),
            "{name}: {:?}",
            sbom.lines()
        );
    }
}
