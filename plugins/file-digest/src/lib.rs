//! `file-digest`: read files under a read-only mount, write a report to a
//! read-write mount. The report is in `sha256sum` format, so
//! `cd source && sha256sum -c ../reports/digests.txt` checks it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

const SOURCE: &str = "/source";
const REPORTS: &str = "/reports";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Files to digest, relative to the `source` mount; all files if absent.
    #[serde(default)]
    paths: Option<Vec<String>>,
    /// Report file name under the `reports` mount.
    #[serde(default = "default_report")]
    report: String,
}

fn default_report() -> String {
    "digests.txt".into()
}

#[derive(Serialize)]
struct FileDigest {
    path: String,
    sha256: String,
    bytes: u64,
}

#[derive(Serialize)]
struct Output {
    files: Vec<FileDigest>,
    report: String,
}

fn run(input: Input) -> Result<Output, String> {
    let paths = match input.paths {
        Some(paths) => paths,
        None => walk(Path::new(SOURCE)).map_err(|e| format!("cannot list {SOURCE}: {e}"))?,
    };
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let full = Path::new(SOURCE).join(&path);
        let (sha256, bytes) = digest(&full).map_err(|e| format!("cannot read {path}: {e}"))?;
        files.push(FileDigest {
            path,
            sha256,
            bytes,
        });
    }
    let report: String = files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    let report_path = Path::new(REPORTS).join(&input.report);
    fs::write(&report_path, report)
        .map_err(|e| format!("cannot write {}: {e}", report_path.display()))?;
    airlock_sdk::log::info(&format!("digested {} files", files.len()));
    Ok(Output {
        files,
        report: report_path.display().to_string(),
    })
}

/// Every regular file under `root`, relative to it, in sorted order.
fn walk(root: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(root.join(&dir))? {
            let entry = entry?;
            let relative = dir.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(relative);
            } else if kind.is_file() {
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn digest(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

airlock_sdk::action!(run);
