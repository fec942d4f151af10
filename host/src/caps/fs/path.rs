//! Where a guest path lands inside a mount, for the record.
//!
//! Enforcement is not done here: wasmtime-wasi resolves every path with
//! `cap-std`'s sandboxed lookup, which refuses `..`, absolute paths and
//! symlinks that leave the mount. This module only names the place a guest
//! asked for, lexically, so records read `/workspace/out/report.txt` — and an
//! escape attempt reads as one (`/workspace/../etc/passwd`).

/// `base` (a path inside a mount, `""` for its root) joined with the guest's
/// relative `path`, with `.` and `..` resolved lexically. `..` beyond the
/// mount's root is kept, so an escape attempt stays visible.
pub fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let mut escapes = 0usize;
    let absolute = path.starts_with('/');
    let start = if absolute { "" } else { base };
    for part in start.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    escapes += 1;
                }
            }
            p => parts.push(p),
        }
    }
    let mut out = String::new();
    if absolute {
        // An absolute path is never inside a mount; show it as asked.
        out.push_str("(absolute)");
    }
    for _ in 0..escapes {
        out.push_str("/..");
    }
    for p in parts {
        out.push('/');
        out.push_str(p);
    }
    out
}

/// The guest-visible path of `inner` in `mount`: `/<mount><inner>`.
pub fn shown(mount: &str, inner: &str) -> String {
    format!("/{mount}{inner}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lexically_and_keeps_escapes_visible() {
        let cases = [
            ("", "a.txt", "/a.txt"),
            ("", "./a.txt", "/a.txt"),
            ("", "dir/sub/../a.txt", "/dir/a.txt"),
            ("/dir", "a.txt", "/dir/a.txt"),
            ("/dir", "../a.txt", "/a.txt"),
            ("/dir", "../../etc/passwd", "/../etc/passwd"),
            ("", "../secret", "/../secret"),
            ("", "..", "/.."),
            ("", "", ""),
            ("", ".", ""),
            ("/dir", "", "/dir"),
            ("", "a//b", "/a/b"),
            ("/dir", "/etc/passwd", "(absolute)/etc/passwd"),
            ("", "x/../../../y", "/../../y"),
        ];
        for (base, path, want) in cases {
            assert_eq!(join(base, path), want, "join({base:?}, {path:?})");
        }
        assert_eq!(
            shown("workspace", &join("", "out/r.txt")),
            "/workspace/out/r.txt"
        );
        assert_eq!(shown("workspace", ""), "/workspace");
    }
}
