//! `airlock new`: a project for a new action in Rust, Python or
//! JavaScript, that builds outside this repository with one command and
//! runs under airlock at once (`airlock test`, `airlock run --dev`).

use super::{exit, fail};
use airlock_rules::manifest::check_action_name;
use std::path::{Path, PathBuf};

/// Write a new action project: the code, its `action.toml`, a development
/// policy, test cases for `airlock test`, and a `.gitignore` that keeps
/// keys, locks and logs out of version control.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The action's name: 1 to 64 of a-z, 0-9 and -.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to write it (default: ./NAME). It must not exist, or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Rust: a local copy of the airlock-sdk crate to build against
    /// instead of crates.io's (the sdk/ directory of an airlock checkout).
    /// Python and JavaScript projects carry their SDK and WIT world.
    #[arg(long)]
    sdk: Option<PathBuf>,
}

/// The languages `airlock new` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Rust, with the airlock-sdk crate.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    Js,
}

/// One file of a project: its path in the project, and its text, with
/// `{{…}}` placeholders unless it is copied as it is.
struct File {
    path: &'static str,
    text: &'static str,
    verbatim: bool,
}

/// A template.
const fn file(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        verbatim: false,
    }
}

/// A file copied as it is: the SDK and the WIT world the Python and
/// JavaScript projects carry, as this airlock has them.
const fn copy(path: &'static str, text: &'static str) -> File {
    File {
        path,
        text,
        verbatim: true,
    }
}

/// The WIT world, for the Python and JavaScript toolchains.
macro_rules! wit {
    ($($file:literal),*) => {
        [
            copy("wit/world.wit", include_str!("../../sdk/wit/world.wit")),
            $(copy(concat!("wit/deps/", $file), include_str!(concat!("../../sdk/wit/deps/", $file))),)*
        ]
    };
}

const WIT: [File; 8] = wit!(
    "cli.wit",
    "clocks.wit",
    "filesystem.wit",
    "http.wit",
    "io.wit",
    "random.wit",
    "sockets.wit"
);

/// A file of an SDK, by its path in the project and in this repository.
macro_rules! sdk {
    ($to:literal, $from:literal, [$($file:literal),*]) => {
        [$(copy(concat!($to, $file), include_str!(concat!("../../", $from, $file))),)*]
    };
}

const PYTHON_SDK: [File; 9] = sdk!(
    "airlock_sdk/",
    "sdk-python/src/airlock_sdk/",
    [
        "__init__.py",
        "_entry.py",
        "_errors.py",
        "_host.py",
        "config.py",
        "http.py",
        "log.py",
        "py.typed",
        "secrets.py"
    ]
);

const JS_SDK: [File; 9] = sdk!(
    "sdk/",
    "sdk-js/src/",
    [
        "component.js",
        "config.js",
        "entry.js",
        "errors.js",
        "host.js",
        "http.js",
        "index.js",
        "log.js",
        "secrets.js"
    ]
);

const PYTHON: &[File] = &[
    file("app.py", include_str!("../templates/python/app.py")),
    file(
        "test_app.py",
        include_str!("../templates/python/test_app.py"),
    ),
    file("build.sh", include_str!("../templates/python/build.sh")),
];

const JS: &[File] = &[
    file("package.json", include_str!("../templates/js/package.json")),
    file("build.sh", include_str!("../templates/js/build.sh")),
    file(
        "src/action.js",
        include_str!("../templates/js/src/action.js"),
    ),
    file(
        "src/component.js",
        include_str!("../templates/js/src/component.js"),
    ),
    file(
        "src/action.test.js",
        include_str!("../templates/js/src/action.test.js"),
    ),
];

const COMMON: &[File] = &[
    file(
        "action.toml",
        include_str!("../templates/common/action.toml"),
    ),
    file(
        "airlock.toml",
        include_str!("../templates/common/airlock.toml"),
    ),
    file(
        "tests/cases.toml",
        include_str!("../templates/common/cases.toml"),
    ),
];

const RUST: &[File] = &[
    file("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
    file("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
];

impl Lang {
    fn files(self) -> Vec<&'static File> {
        match self {
            Lang::Rust => RUST.iter().collect(),
            Lang::Python => PYTHON.iter().chain(&PYTHON_SDK).chain(&WIT).collect(),
            Lang::Js => JS.iter().chain(&JS_SDK).chain(&WIT).collect(),
        }
    }

    /// Lines of the `.gitignore` of this language's build outputs.
    fn ignored(self) -> &'static str {
        match self {
            Lang::Rust => include_str!("../templates/rust/gitignore"),
            Lang::Python => "/target/\n__pycache__/\n",
            Lang::Js => "/target/\n/node_modules/\n",
        }
    }

    /// Where the built component lands, relative to the project.
    fn component(self, name: &str) -> String {
        match self {
            Lang::Rust => format!(
                "target/wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ),
            Lang::Python | Lang::Js => format!("target/{name}.wasm"),
        }
    }

    /// The one command that builds it.
    fn build(self) -> &'static str {
        match self {
            Lang::Rust => "cargo build --release --target wasm32-wasip2",
            Lang::Python | Lang::Js => "./build.sh",
        }
    }

    /// What a run needs: interpreters in a component need more memory and
    /// time to start than compiled Rust.
    fn limits(self) -> (&'static str, &'static str) {
        match self {
            Lang::Rust => ("16 MiB", "2s"),
            Lang::Python | Lang::Js => ("32 MiB", "10s"),
        }
    }
}

/// The Rust project's dependency on the SDK: a local copy of the crate,
/// or the one on crates.io.
fn rust_sdk(local: Option<&Path>) -> String {
    match local {
        Some(path) => format!("airlock-sdk = {{ path = {:?} }}", path.display()),
        None => "airlock-sdk = \"0.1\"".into(),
    }
}

/// Run `args`.
pub fn run(args: Args) -> u8 {
    if let Err(why) = check_action_name(&args.name) {
        return fail(exit::USAGE, why);
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let occupied = match std::fs::read_dir(&dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return fail(exit::USAGE, format!("cannot use {}: {e}", dir.display())),
    };
    if occupied {
        return fail(
            exit::USAGE,
            format!(
                "{} exists and is not empty: nothing was written; choose another --dir",
                dir.display()
            ),
        );
    }
    let sdk = match &args.sdk {
        Some(_) if args.lang != Lang::Rust => {
            return fail(
                exit::USAGE,
                "--sdk is for Rust projects: Python and JavaScript projects carry their SDK",
            );
        }
        Some(path) => match std::path::absolute(path) {
            Ok(p) if p.join("Cargo.toml").is_file() => Some(p),
            _ => {
                return fail(
                    exit::USAGE,
                    format!(
                        "--sdk {} is not a crate directory (the airlock-sdk crate)",
                        path.display()
                    ),
                );
            }
        },
        None => None,
    };
    let (memory, timeout) = args.lang.limits();
    let component = args.lang.component(&args.name);
    let fill = |text: &str| {
        text.replace("{{name}}", &args.name)
            .replace("{{sdk}}", &rust_sdk(sdk.as_deref()))
            .replace("{{component}}", &component)
            .replace("{{memory}}", memory)
            .replace("{{timeout}}", timeout)
    };
    let gitignore = format!(
        "{}{}",
        args.lang.ignored(),
        include_str!("../templates/common/gitignore")
    );
    let mut written = Vec::new();
    let files = COMMON
        .iter()
        .chain(args.lang.files())
        .map(|f| match f.verbatim {
            true => (f.path, f.text.to_owned()),
            false => (f.path, fill(f.text)),
        })
        .chain([(".gitignore", gitignore)]);
    for (path, text) in files {
        let target = dir.join(path);
        // A new file each, never one that is there (or a link to one).
        let mode = if path.ends_with(".sh") { 0o755 } else { 0o644 };
        let made = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                use std::io::Write as _;
                use std::os::unix::fs::OpenOptionsExt as _;
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(mode)
                    .open(&target)?
                    .write_all(text.as_bytes())
            });
        if let Err(e) = made {
            let why = match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    "it exists; nothing was overwritten".to_owned()
                }
                _ => e.to_string(),
            };
            return fail(
                exit::HOST,
                format!("cannot write {}: {why}", target.display()),
            );
        }
        written.push(path);
    }
    let shown: Vec<&str> = written
        .iter()
        .copied()
        .filter(|p| {
            !p.starts_with("wit/") && !p.starts_with("sdk/") && !p.starts_with("airlock_sdk/")
        })
        .collect();
    let carried = match written.len() - shown.len() {
        0 => String::new(),
        n => format!(" (and {n} files of the SDK and the WIT world)"),
    };
    println!(
        "created action `{}` ({:?}) in {}: {}{carried}",
        args.name,
        args.lang,
        dir.display(),
        shown.join(", "),
    );
    println!("next, in {}:", dir.display());
    println!("  {}", args.lang.build());
    println!("  airlock test {component}");
    println!("  airlock run --dev {component} --input '{{\"name\": \"Ada\"}}'");
    exit::OK
}
