//! The documentation, checked against the code so that it cannot drift.
//!
//! Every fenced block in `README.md`, `docs/` and `bench/NOTES.md` carries
//! an info string that says what it is, and is checked accordingly:
//!
//! | info string | check |
//! |---|---|
//! | `toml policy` | parses and validates as an operator policy (`airlock::Policy::parse`) |
//! | `toml manifest` | parses and validates as a manifest (`airlock::Manifest::parse`); a fragment without `[action]` gets a minimal one |
//! | `toml lock` | parses and validates as a lock |
//! | `toml cargo` | parses as TOML |
//! | `toml cases` | cases of the Python example `notify-py`: `airlock test` passes them |
//! | `sh` | every `airlock …` command names a real command and only flags its `--help` lists; every `./script` exists |
//! | `sh ci` | as `sh`, and every command is a line of `.ci/run` |
//! | `sh demo` | as `sh`, and every `airlock` command is one the demo (`demo/run.sh`) runs |
//! | `sh session` | as `sh`, and run by bash, in order, in one scratch directory per page that holds the example actions |
//! | `rust …` | compiled by the `airlock` crate's doc tests, which include the page |
//! | `json`, `json record` | parses; a record is also canonical and has the fields every record has |
//! | `text` | output or diagrams: not checked |
//!
//! A `toml` block with `file=NAME` is also written to `NAME` in the page's
//! scratch directory before the sessions after it run. Besides the blocks:
//! relative links resolve (anchors included), the README stays under 250
//! lines, and every event the host emits, every verification reason code,
//! every policy and manifest key and every command and flag is documented.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const AIRLOCK: &str = env!("CARGO_BIN_EXE_airlock");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pages checked: the README, everything under docs/, the notebook.
fn pages() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let root = root();
    let mut pages = vec![root.join("README.md"), root.join("bench/NOTES.md")];
    walk(&root.join("docs"), &mut pages);
    pages.sort();
    pages
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One fenced block.
#[derive(Debug)]
struct Block {
    page: PathBuf,
    line: usize,
    /// The info string's words: language, kind, attributes.
    info: Vec<String>,
    text: String,
}

impl Block {
    fn lang(&self) -> &str {
        self.info.first().map_or("", String::as_str)
    }

    fn has(&self, word: &str) -> bool {
        self.info.iter().skip(1).any(|w| w == word)
    }

    fn attr(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }

    fn at(&self) -> String {
        format!("{} line {}", rel(&self.page), self.line)
    }
}

fn blocks_of(page: &Path) -> Vec<Block> {
    let text = read(page);
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    page: page.to_path_buf(),
                    line: i + 1,
                    info: info
                        .split([' ', ',', '\t'])
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    text: String::new(),
                });
            }
            (Some(_), Some("")) => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{}: a fence is never closed", rel(page));
    blocks
}

fn all_blocks() -> Vec<Block> {
    pages().iter().flat_map(|p| blocks_of(p)).collect()
}

/// The text of `page` outside its fenced blocks.
fn prose(page: &Path) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in read(page).lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn every_block_says_what_it_is() {
    for b in all_blocks() {
        let kinds: &[&str] = match b.lang() {
            "toml" => &["policy", "manifest", "lock", "cargo", "cases"],
            "sh" => &["", "ci", "session", "demo"],
            "json" => &["", "record", "outcome"],
            "text" => &[""],
            "rust" => &["no_run", "ignore", "should_panic", "compile_fail", ""],
            other => panic!(
                "{}: a block tagged `{other}`: tag it toml, sh, json, text or rust",
                b.at()
            ),
        };
        let kind = b.info.get(1).map_or("", String::as_str);
        let kind = if kind.starts_with("file=") { "" } else { kind };
        assert!(
            kinds.contains(&kind) && (b.lang() != "toml" || !kind.is_empty()),
            "{}: `{}` is not one of the kinds of {} block: {kinds:?}",
            b.at(),
            b.info.join(" "),
            b.lang()
        );
    }
}

/// Rust examples are compiled by the doc tests of whichever crate includes
/// their page; a page with Rust blocks that nothing includes would not be.
#[test]
fn rust_examples_are_compiled_by_doc_tests() {
    let sources = sources();
    for page in pages() {
        if !blocks_of(&page).iter().any(|b| b.lang() == "rust") {
            continue;
        }
        let name = rel(&page);
        let included = sources.iter().any(|(_, text)| {
            text.contains("#[cfg(doctest)]") && text.contains(&format!("{name}\")"))
        });
        assert!(
            included,
            "{name} has Rust examples, but no crate includes it as a doc test \
             (#[cfg(doctest)] #[doc = include_str!(\"…/{name}\")])"
        );
    }
}

#[test]
fn policies_parse() {
    let mut seen = 0;
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang() == "toml" && b.has("policy"))
    {
        airlock::Policy::parse(&b.at(), &b.text, Path::new("/nonexistent"))
            .unwrap_or_else(|e| panic!("{e}"));
        seen += 1;
    }
    assert!(seen >= 2, "the README and the operator guide show policies");
}

#[test]
fn manifests_parse() {
    let mut seen = 0;
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang() == "toml" && b.has("manifest"))
    {
        let text = match b.text.lines().any(|l| l.trim() == "[action]") {
            true => b.text.clone(),
            false => format!(
                "[action]\nname = \"x\"\nversion = \"1.0.0\"\npublisher = \"p\"\n{}",
                b.text
            ),
        };
        airlock::Manifest::parse(&b.at(), &text).unwrap_or_else(|e| panic!("{e}"));
        seen += 1;
    }
    assert!(seen >= 2, "the authoring guide shows manifests");
}

#[test]
fn locks_parse() {
    let mut seen = 0;
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang() == "toml" && b.has("lock"))
    {
        airlock::rules::provenance::Lock::parse(&b.at(), &b.text).unwrap_or_else(|e| panic!("{e}"));
        seen += 1;
    }
    assert!(seen >= 1, "the operator guide shows a lock");
}

#[test]
fn cargo_manifests_and_json_parse() {
    for b in all_blocks() {
        match b.lang() {
            "toml" if b.has("cargo") => {
                b.text
                    .parse::<toml::Table>()
                    .unwrap_or_else(|e| panic!("{}: {e}", b.at()));
            }
            "json" => {
                let value: serde_json::Value =
                    serde_json::from_str(&b.text).unwrap_or_else(|e| panic!("{}: {e}", b.at()));
                if b.has("record") {
                    assert_eq!(
                        serde_json::to_string(&value).unwrap(),
                        b.text.trim_end(),
                        "{}: a record is one canonical line",
                        b.at()
                    );
                    for field in ["v", "seq", "time", "event", "phase", "prev"] {
                        assert!(value.get(field).is_some(), "{}: no `{field}`", b.at());
                    }
                }
            }
            _ => {}
        }
    }
}

/// Split a shell line into words: quotes grouped, a word starting with `#`
/// ends the line. Good enough for the documentation's command lines.
fn words(line: &str) -> Vec<(String, bool)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                started = true;
                quoted = true;
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                    word.push(d);
                }
            }
            '\\' => {
                started = true;
                word.extend(chars.next());
            }
            '#' if !started => break,
            c if c.is_whitespace() => {
                if started {
                    words.push((std::mem::take(&mut word), quoted));
                }
                started = false;
                quoted = false;
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push((word, quoted));
    }
    words
}

/// The commands of a shell block: continuation lines joined, heredoc
/// bodies skipped, `&&`, `||`, `;` and `|` splitting commands.
fn commands(text: &str) -> Vec<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut heredoc: Option<String> = None;
    let mut pending = String::new();
    for line in text.lines() {
        if let Some(end) = &heredoc {
            if line.trim() == end {
                heredoc = None;
            }
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let line = std::mem::take(&mut pending);
        let mut command = Vec::new();
        for (word, quoted) in words(&line) {
            if !quoted && ["&&", "||", ";", "|"].contains(&word.as_str()) {
                out.push(std::mem::take(&mut command));
            } else if !quoted && word.starts_with("<<") {
                heredoc = Some(word.trim_start_matches('<').trim_matches('\'').to_owned());
            } else {
                command.push((word, quoted));
            }
        }
        out.push(command);
    }
    out.retain(|c| !c.is_empty());
    out
}

/// `airlock <path> --help`, once per path.
fn help(cache: &mut BTreeMap<Vec<String>, String>, path: &[String]) -> Option<String> {
    if let Some(text) = cache.get(path) {
        return Some(text.clone());
    }
    let out = Command::new(AIRLOCK)
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    cache.insert(path.to_vec(), text.clone());
    Some(text)
}

/// The subcommands a `--help` lists.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// The flags a `--help` lists, long and short.
fn flags(help: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let line = line.trim_start();
        if !line.starts_with('-') {
            continue;
        }
        for part in line.split([',', ' ', '=', '<', '[']) {
            let part = part.trim_end_matches('.');
            if part.starts_with('-') && part.len() > 1 {
                flags.insert(part.to_owned());
            }
        }
    }
    flags
}

#[test]
fn command_lines_use_real_commands_and_flags() {
    let mut cache = BTreeMap::new();
    let mut seen = 0;
    for b in all_blocks().iter().filter(|b| b.lang() == "sh") {
        for command in commands(&b.text) {
            let (first, _) = &command[0];
            if first.starts_with("./") {
                assert!(root().join(first).exists(), "{}: no {first}", b.at());
                continue;
            }
            if first != "airlock" {
                continue;
            }
            seen += 1;
            let mut path: Vec<String> = Vec::new();
            let mut rest = command[1..].iter();
            let mut top = help(&mut cache, &path).unwrap();
            for (word, quoted) in rest.by_ref() {
                if !quoted && subcommands(&top).contains(word) {
                    path.push(word.clone());
                    top = help(&mut cache, &path).unwrap_or_else(|| {
                        panic!("{}: `airlock {}` fails", b.at(), path.join(" "))
                    });
                } else {
                    break;
                }
            }
            assert!(
                !path.is_empty(),
                "{}: `{}` names no airlock command",
                b.at(),
                command
                    .iter()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            assert!(
                subcommands(&top).is_empty(),
                "{}: `airlock {}` needs a subcommand",
                b.at(),
                path.join(" ")
            );
            let known = flags(&top);
            for (word, quoted) in &command[1 + path.len()..] {
                if *quoted || !word.starts_with('-') || word == "-" {
                    continue;
                }
                let flag = word.split('=').next().unwrap();
                assert!(
                    known.contains(flag),
                    "{}: `airlock {}` has no flag {flag} (its --help lists {known:?})",
                    b.at(),
                    path.join(" ")
                );
            }
        }
    }
    assert!(seen >= 20, "only {seen} airlock commands found in the docs");
}

#[test]
fn quick_start_commands_are_cis() {
    let ci = read(&root().join(".ci/run"));
    let ci: BTreeSet<&str> = ci.lines().map(str::trim).collect();
    let mut seen = 0;
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang() == "sh" && b.has("ci"))
    {
        for line in b.text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            assert!(
                ci.contains(line),
                "{}: `{line}` is not a line of .ci/run",
                b.at()
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 2, "the README's demo and test commands");
}

#[test]
fn demo_commands_are_the_demos() {
    let demo = read(&root().join("demo/run.sh"));
    // The demo runs `run "$airlock" ARGS…`; its commands are the ARGS.
    let ran: Vec<Vec<String>> = commands(&demo)
        .into_iter()
        .filter(|c| c.len() > 2 && c[0].0 == "run" && c[1].0 == "$airlock")
        .map(|c| c[2..].iter().map(|(w, _)| w.clone()).collect())
        .collect();
    assert!(ran.len() > 10, "{ran:?}");
    let mut seen = 0;
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang() == "sh" && b.has("demo"))
    {
        for command in commands(&b.text) {
            assert_eq!(
                command[0].0,
                "airlock",
                "{}: not an airlock command",
                b.at()
            );
            let args: Vec<String> = command[1..].iter().map(|(w, _)| w.clone()).collect();
            assert!(
                ran.contains(&args),
                "{}: the demo never runs `airlock {}`",
                b.at(),
                args.join(" ")
            );
            seen += 1;
        }
    }
    assert!(seen >= 5, "the operator guide's upgrade");
}

/// Each page's sessions, run in order in a scratch directory that holds
/// every example action as `<name>.wasm`, with `airlock` on the PATH.
#[test]
fn sessions_run() {
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(AIRLOCK, bin.path().join("airlock")).unwrap();
    // The pinned toolchains ./scripts/setup.sh installs: componentize-py
    // (and its Python) in .venv, ComponentizeJS in tools/js.
    let path = format!(
        "{}:{}:{}",
        bin.path().display(),
        root().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut sessions = 0;
    for page in pages() {
        let blocks = blocks_of(&page);
        if !blocks.iter().any(|b| b.has("session")) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        for (name, component) in airlock_test_artifacts::PLUGINS {
            std::fs::copy(component, dir.path().join(format!("{name}.wasm"))).unwrap();
        }
        for b in &blocks {
            if let Some(name) = b.attr("file") {
                std::fs::write(dir.path().join(name), &b.text).unwrap();
            }
            if b.lang() != "sh" || !b.has("session") {
                continue;
            }
            sessions += 1;
            let out = Command::new("bash")
                .args(["-euo", "pipefail", "-c", &b.text])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("AIRLOCK_CACHE_DIR", "off")
                // The SDK a new Rust action builds against until it is on
                // crates.io, and the guest build's flags left out.
                .env("AIRLOCK_SDK", root().join("sdk"))
                .env(
                    "COMPONENTIZE_JS",
                    root().join("tools/js/node_modules/@bytecodealliance/componentize-js"),
                )
                .env_remove("AIRLOCK_CONFIG")
                .env_remove("RUST_LOG")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .env_remove("CARGO_TARGET_DIR")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: the session failed ({})\n--- stdout\n{}\n--- stderr\n{}",
                b.at(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(sessions >= 2, "the authoring guide's sessions");
}

/// Every `toml cases` block passes `airlock test` on the Python example
/// `notify-py`, whose cases they are.
#[test]
fn test_cases_pass() {
    let mut seen = 0;
    for b in all_blocks().iter().filter(|b| b.has("cases")) {
        seen += 1;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cases.toml"), &b.text).unwrap();
        let out = Command::new(AIRLOCK)
            .args([
                "test",
                airlock_test_artifacts::NOTIFY_PY,
                "--cases",
                "cases.toml",
            ])
            .current_dir(dir.path())
            .env("AIRLOCK_CACHE_DIR", "off")
            .env_remove("AIRLOCK_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: airlock test failed\n{}{}",
            b.at(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(seen >= 1, "the authoring guide's cases");
}

#[test]
fn readme_is_short() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines < 250,
        "README.md has {lines} lines: move reference into docs/"
    );
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> BTreeSet<String> {
    prose(page)
        .lines()
        .filter_map(|l| {
            l.trim_start_matches('#')
                .strip_prefix(' ')
                .filter(|_| l.starts_with('#'))
        })
        .map(slug)
        .collect()
}

#[test]
fn links_resolve() {
    for page in pages() {
        let text = prose(&page);
        let mut rest = text.as_str();
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let end = rest.find(')').unwrap();
            let link = &rest[..end];
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match link.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (link, None),
            };
            let target = match file {
                "" => page.clone(),
                file => page.parent().unwrap().join(file),
            };
            assert!(
                target.exists(),
                "{}: the link {link} leads nowhere",
                rel(&page)
            );
            if let Some(anchor) = anchor {
                assert!(
                    anchors(&target).contains(anchor),
                    "{}: {} has no heading #{anchor}",
                    rel(&page),
                    rel(&target)
                );
            }
        }
    }
}

/// Every non-test Rust source of the workspace's crates: (path, text), with
/// `#[cfg(test)]` modules cut off.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                let skip = [
                    "target", "tests", "plugins", "bench", "benches", "examples", "sdks",
                ];
                if !name.starts_with('.') && !skip.contains(&name.as_str()) {
                    walk(&path, out);
                }
            } else if meta.is_file() && name.ends_with(".rs") && !name.ends_with("tests.rs") {
                let text = without_test_modules(&read(&path));
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    out
}

/// `text` without its inline `#[cfg(test)] mod … { … }` (the rest of the
/// file from there: test modules come last).
fn without_test_modules(text: &str) -> String {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        let line = after.lines().next().unwrap_or_default();
        if line.starts_with("mod ") && line.contains('{') {
            return text[..at].to_owned();
        }
        from = at + 1;
    }
    text.to_owned()
}

#[test]
fn every_event_the_host_emits_is_documented() {
    use airlock::audit::EventKind;
    let format = root().join("docs/audit-format.md");
    let doc = read(&format);
    let sources: String = sources()
        .into_iter()
        .filter(|(path, _)| !path.ends_with("audit/src/event.rs"))
        .map(|(_, text)| text)
        .collect();
    for kind in EventKind::ALL {
        assert!(
            doc.contains(&format!("`{kind}`")),
            "the host emits `{kind}`, which docs/audit-format.md does not describe"
        );
        // A kind in the list that no code records would be documented for
        // nothing.
        assert!(
            sources.contains(&format!("EventKind::{kind:?}")),
            "EventKind::{kind:?} (`{kind}`) is in the list, but nothing records it"
        );
    }
    // And the table of events names no event the host does not emit: its
    // rows are those whose second column is a phase.
    for row in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').collect();
        let phase = cells[2].trim();
        if !(phase.starts_with("single") || phase.starts_with("intent")) {
            continue;
        }
        for name in cells[1].split('`').skip(1).step_by(2) {
            assert!(
                EventKind::parse(name).is_some(),
                "docs/audit-format.md describes `{name}`, which the host never emits"
            );
        }
    }
}

/// docs/operator.md's table of flags lists every flag code with its
/// severity, and nothing else.
#[test]
fn every_flag_code_is_documented() {
    use airlock::rules::inspect::FlagCode;
    let doc = read(&root().join("docs/operator.md"));
    let severity = |c: FlagCode| serde_json::to_value(c.severity()).unwrap();
    for code in FlagCode::ALL {
        let row = format!(
            "| `{}` | {} |",
            code.as_str(),
            severity(code).as_str().unwrap()
        );
        assert!(doc.contains(&row), "docs/operator.md has no row `{row}`");
    }
    let rows = doc.lines().filter(|l| {
        l.ends_with(" |")
            && (l.contains(" | info | ")
                || l.contains(" | warning | ")
                || l.contains(" | error | "))
    });
    for row in rows {
        let code = row.split('|').nth(1).unwrap().trim().trim_matches('`');
        assert!(
            FlagCode::ALL.iter().any(|c| c.as_str() == code),
            "docs/operator.md documents flag `{code}`, which is not a code"
        );
    }
}

/// docs/outcome.md lists every code with its status and exit status, and
/// nothing else; its example has the fields of a report.
#[test]
fn every_outcome_code_is_documented() {
    use airlock::report::{Code, Report};
    let page = root().join("docs/outcome.md");
    let doc = read(&page);
    let name = |v: serde_json::Value| v.as_str().unwrap().to_owned();
    for code in Code::ALL {
        let status = name(serde_json::to_value(code.status()).unwrap());
        let row = format!("| `{status}` | `{code}` | {} |", code.exit_code());
        assert!(doc.contains(&row), "docs/outcome.md has no row `{row}`");
    }
    let names: Vec<String> = Code::ALL.iter().map(ToString::to_string).collect();
    // The table of codes: the rows whose first cell is a status.
    let statuses = [
        "`ok`",
        "`action_error`",
        "`refused`",
        "`limit`",
        "`host_fault`",
    ];
    for row in doc.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if !statuses.contains(&cells[1]) {
            continue;
        }
        let code = cells[2].trim_matches('`');
        assert!(
            code == "—" || names.iter().any(|n| n == code),
            "docs/outcome.md documents `{code}`, which is not a code"
        );
    }
    let fields =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let report = serde_json::to_value(Report::not_run(None, Code::BadInput, "x")).unwrap();
    let examples: Vec<Block> = blocks_of(&page)
        .into_iter()
        .filter(|b| b.lang() == "json" && b.has("outcome"))
        .collect();
    assert!(!examples.is_empty(), "docs/outcome.md shows an outcome");
    for b in examples {
        let example: serde_json::Value = serde_json::from_str(&b.text).unwrap();
        assert_eq!(fields(&example), fields(&report), "{}", b.at());
        for field in fields(&report) {
            assert!(
                doc.contains(&format!("| `{field}` |")),
                "`{field}` is not described"
            );
        }
    }
}

/// The Python example docs/serve.md shows is the one the client's tests
/// run.
#[test]
fn the_python_example_is_the_tested_one() {
    let example = read(&root().join("clients/python/examples/quickstart.py"));
    let page = read(&root().join("docs/serve.md"));
    assert!(
        page.contains(&format!("```text\n{example}```")),
        "docs/serve.md does not show clients/python/examples/quickstart.py as it is"
    );
}

/// The Python workflow docs/temporal.md shows is part of the one
/// `./demo/temporal.sh` runs (which CI runs).
#[test]
fn the_temporal_workflow_example_is_the_demos() {
    let workflow = read(&root().join("demo/temporal/workflow.py"));
    let page = read(&root().join("docs/temporal.md"));
    let shown = page
        .split("```text\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .find(|block| block.contains("airlock_invoke"))
        .expect("docs/temporal.md shows a workflow");
    assert!(
        workflow.contains(shown),
        "docs/temporal.md shows a workflow that is not in demo/temporal/workflow.py:\n{shown}"
    );
}

/// The Python helper knows every outcome code but `cancelled` (a Temporal
/// cancellation), and no other.
#[test]
fn the_temporal_helper_knows_every_outcome_code() {
    let helper = read(&root().join("clients/python/src/airlock_client/temporal.py"));
    let listed = helper
        .split("_CODES = {")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    let listed: BTreeSet<&str> = listed
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .filter(|c| !c.is_empty())
        .collect();
    let codes: BTreeSet<String> = airlock::report::Code::ALL
        .iter()
        .map(ToString::to_string)
        .filter(|c| c != "cancelled")
        .collect();
    let codes: BTreeSet<&str> = codes.iter().map(String::as_str).collect();
    assert_eq!(listed, codes);
}

#[test]
fn every_verification_code_is_documented() {
    let doc = read(&root().join("docs/audit-format.md"));
    let mut codes = BTreeSet::new();
    for (_, text) in sources() {
        for line in text.lines() {
            if let Some((_, rest)) = line.split_once("Reason::")
                && let Some((_, code)) = rest.split_once("=> \"")
            {
                codes.insert(code.trim_end_matches(['"', ',']).to_owned());
            }
        }
    }
    assert!(codes.len() >= 10, "only {codes:?} found");
    for code in codes {
        assert!(
            doc.contains(&format!("| `{code}`")) || doc.contains(&format!(", `{code}` |")),
            "`airlock audit verify` can fail with {code}, which docs/audit-format.md does not explain"
        );
    }
}

/// The keys a table accepts, from the error an unknown key gets.
fn accepted(error: &str) -> Vec<String> {
    let (_, expected) = error
        .split_once("expected")
        .unwrap_or_else(|| panic!("no list of keys in: {error}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Whether `key = …` appears in one of `blocks` (in a comment too, as an
/// alternative), or `key` is part of a table's header.
fn shows_key(blocks: &str, key: &str) -> bool {
    let assigned = format!("{key} =");
    blocks.lines().any(|line| {
        let line = line.trim_start();
        let header = line.strip_prefix('[').and_then(|l| l.split(']').next());
        header.is_some_and(|h| h.split('.').any(|part| part == key))
            || line.match_indices(&assigned).any(|(i, _)| {
                line[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
    })
}

#[test]
fn every_policy_key_is_in_the_operator_guide() {
    let blocks: String = blocks_of(&root().join("docs/operator.md"))
        .into_iter()
        .filter(|b| b.has("policy"))
        .map(|b| b.text)
        .collect();
    let tables = [
        "",
        "[actions.a]",
        "[publishers.a]",
        "[trust]",
        "[mounts.a]",
        "[secrets.A]",
        "[limits]",
        "[compile]",
        "[network]",
        "[audit]",
    ];
    for table in tables {
        let text = format!("{table}\nzz_unknown = 1\n");
        let error = airlock::Policy::parse("probe", &text, Path::new("/"))
            .expect_err(&text)
            .to_string();
        for key in accepted(&error) {
            // Digest pins moved to the lock; the key is kept only to refuse
            // it with the fix, which the guide gives in words.
            if table == "[actions.a]" && key == "digest" {
                continue;
            }
            assert!(
                shows_key(&blocks, &key),
                "the policy key `{key}` of `{table}` is missing from the reference in docs/operator.md"
            );
        }
    }
}

#[test]
fn every_manifest_key_is_in_the_authoring_guide() {
    let blocks: String = blocks_of(&root().join("docs/authoring.md"))
        .into_iter()
        .filter(|b| b.has("manifest"))
        .map(|b| b.text)
        .collect();
    let action = "[action]\nname = \"x\"\nversion = \"1.0.0\"\npublisher = \"p\"\n";
    let probes = [
        "zz_unknown = 1\n".to_owned(),
        "[action]\nzz_unknown = 1\n".to_owned(),
        format!("{action}[capabilities]\nzz_unknown = 1\n"),
        format!("{action}[limits]\nzz_unknown = 1\n"),
        format!("{action}[capabilities]\nfiles = [{{ zz_unknown = 1 }}]\n"),
        format!("{action}[capabilities]\nsecrets = [{{ zz_unknown = 1 }}]\n"),
    ];
    for text in probes {
        let error = airlock::Manifest::parse("probe", &text)
            .expect_err(&text)
            .to_string();
        for key in accepted(&error) {
            assert!(
                shows_key(&blocks, &key),
                "the manifest key `{key}` is missing from the reference in docs/authoring.md"
            );
        }
    }
}

#[test]
fn every_command_and_flag_is_in_the_operator_guide() {
    let doc = read(&root().join("docs/operator.md"));
    let mut cache = BTreeMap::new();
    let mut paths: Vec<Vec<String>> = vec![vec![]];
    let mut i = 0;
    while i < paths.len() {
        let path = paths[i].clone();
        let text = help(&mut cache, &path).unwrap();
        for sub in subcommands(&text) {
            let mut longer = path.clone();
            longer.push(sub);
            paths.push(longer);
        }
        if !path.is_empty() && subcommands(&text).is_empty() {
            let command = format!("airlock {}", path.join(" "));
            assert!(
                doc.contains(&command),
                "docs/operator.md does not describe `{command}`"
            );
            for flag in flags(&text) {
                if ["--help", "-h", "--version", "-V", "--verbose", "-v"].contains(&flag.as_str())
                    || !flag.starts_with("--")
                {
                    continue;
                }
                assert!(
                    doc.contains(&flag),
                    "docs/operator.md does not mention {flag} of `{command}`"
                );
            }
        }
        i += 1;
    }
    assert!(paths.len() > 10, "{paths:?}");
}
