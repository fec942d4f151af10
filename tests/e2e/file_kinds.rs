//! What a mount offers beyond its regular files: FIFOs, sockets and device
//! nodes are never opened (and a FIFO never holds a run), a file with more
//! than one hard link is never opened for writing, actions make no hard
//! links, the host's kernel file systems are not mountable, and every
//! refused look at a name is on the record.

use airlock_tests::{Setup, output};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SPECIAL: &str = "is a FIFO, a socket or another special file";
const RW: &str = r#"files = [{ mount = "data", access = "read-write" }]"#;

/// The denials of a run, as (event, target, reason).
fn denials(outcome: &airlock::Outcome) -> Vec<(String, String, String)> {
    outcome
        .denials
        .iter()
        .map(|d| (d.event.to_string(), d.target.clone(), d.reason.clone()))
        .collect()
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// A character device node like /dev/null, if this process may make one.
fn mknod_null(path: &Path) -> bool {
    let made = Command::new("mknod")
        .arg(path)
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if !made.status.success() {
        println!(
            "skipped: the device node part (mknod failed: {})",
            String::from_utf8_lossy(&made.stderr).trim()
        );
    }
    made.status.success()
}

#[tokio::test(flavor = "multi_thread")]
async fn fifos_sockets_and_devices_in_a_mount_are_refused_without_blocking() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read-write");
    mkfifo(&data.join("fifo"));
    let _socket = std::os::unix::net::UnixListener::bind(data.join("socket")).unwrap();
    std::os::unix::fs::symlink("fifo", data.join("to-fifo")).unwrap();
    let device = mknod_null(&data.join("null"));
    setup.probe(RW, "timeout = \"30s\"");
    let host = setup.host();

    let mut targets = vec![
        ("/data/fifo", SPECIAL),
        ("/data/to-fifo", SPECIAL),
        ("/data/socket", SPECIAL),
    ];
    if device {
        targets.push(("/data/null", "is a character device"));
    }
    let mut ops = Vec::new();
    for (path, _) in &targets {
        ops.push(json!({"op": "read", "path": path}));
        ops.push(json!({"op": "write", "path": path, "data": "x"}));
        ops.push(json!({"op": "append", "path": path, "data": "x"}));
    }
    let started = Instant::now();
    let outcome = host
        .invoke("probe", &json!({"op": "many", "ops": ops}).to_string())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a special file held the run for {:?}",
        started.elapsed()
    );
    let out = output(&outcome);
    for (i, result) in out.as_array().unwrap().iter().enumerate() {
        assert!(result.get("err").is_some(), "op {i} succeeded: {result}");
    }
    let denied = denials(&outcome);
    for (path, kind) in &targets {
        let n = denied
            .iter()
            .filter(|(e, t, r)| e == "file.open" && t == path && r.contains(kind))
            .count();
        assert_eq!(n, 3, "{path}: {denied:#?}");
    }
    // The stat of a special file is allowed: only opening it is not.
    let out = output(
        &host
            .invoke("probe", r#"{"op": "stat", "path": "/data/fifo"}"#)
            .await
            .unwrap(),
    );
    assert_eq!(out, json!({"ok": "other"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_with_other_hard_links_is_not_opened_for_writing() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read-write");
    let outside = setup.path().join("outside.txt");
    std::fs::write(&outside, "host file").unwrap();
    std::fs::hard_link(&outside, data.join("out-link")).unwrap();
    std::fs::write(data.join("a"), "inside").unwrap();
    std::fs::hard_link(data.join("a"), data.join("b")).unwrap();
    std::fs::write(data.join("single"), "one name").unwrap();
    setup.probe(RW, "");
    let host = setup.host();
    let ops = json!({"op": "many", "ops": [
        {"op": "write", "path": "/data/out-link", "data": "pwned"},
        {"op": "append", "path": "/data/out-link", "data": "pwned"},
        {"op": "write", "path": "/data/b", "data": "changed"},
        {"op": "append", "path": "/data/a", "data": "changed"},
        {"op": "read", "path": "/data/out-link"},
        {"op": "write", "path": "/data/single", "data": "rewritten"},
        {"op": "append", "path": "/data/single", "data": "+"},
    ]});
    let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
    let out = output(&outcome);
    for i in 0..4 {
        assert!(out[i].get("err").is_some(), "op {i} succeeded: {out}");
    }
    assert_eq!(out[4], json!({"ok": "host file"}), "reading is allowed");
    assert_eq!(out[5], json!({"ok": null}), "{out}");
    assert_eq!(out[6], json!({"ok": null}), "{out}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "host file");
    assert_eq!(std::fs::read_to_string(data.join("a")).unwrap(), "inside");
    assert_eq!(
        std::fs::read_to_string(data.join("single")).unwrap(),
        "rewritten+"
    );
    let denied = denials(&outcome);
    for target in ["/data/out-link", "/data/b", "/data/a"] {
        assert!(
            denied
                .iter()
                .any(|(e, t, r)| e == "file.open" && t == target && r.contains("2 hard links")),
            "{target}: {denied:#?}"
        );
    }
    // A refused open for writing closes its intent as a denial.
    let closed = setup
        .outcomes("file.open")
        .into_iter()
        .filter(|r| r["target"] == "/data/out-link" && r["decision"] == "deny")
        .count();
    assert_eq!(closed, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_make_no_hard_links() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read-write");
    let other = setup.mount("other", "read");
    std::fs::write(data.join("f"), "f").unwrap();
    std::fs::write(other.join("g"), "g").unwrap();
    setup.probe(
        r#"files = [{ mount = "data", access = "read-write" }, { mount = "other", access = "read" }]"#,
        "",
    );
    let ops = json!({"op": "many", "ops": [
        {"op": "link", "from": "/data/f", "to": "/data/f2"},
        {"op": "link", "from": "/other/g", "to": "/data/g2"},
        {"op": "link", "from": "/data/../x", "to": "/data/x2"},
    ]});
    let outcome = setup
        .host()
        .invoke("probe", &ops.to_string())
        .await
        .unwrap();
    let out = output(&outcome);
    for i in 0..3 {
        assert!(out[i].get("err").is_some(), "link {i} was made: {out}");
    }
    assert!(!data.join("f2").exists() && !data.join("g2").exists());
    let denied = denials(&outcome);
    for target in ["/data/f", "/other/g", "/data/../x"] {
        assert!(
            denied
                .iter()
                .any(|(e, t, r)| e == "file.link" && t == target && r.contains("hard link")),
            "{target}: {denied:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refused_look_at_a_name_is_recorded() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read");
    std::fs::create_dir(data.join("sub")).unwrap();
    std::fs::write(data.join("here.txt"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", data.join("abs-link")).unwrap();
    setup.probe(r#"files = [{ mount = "data", access = "read" }]"#, "");
    let ops = json!({"op": "many", "ops": [
        {"op": "stat", "path": "/data/../outside"},
        {"op": "stat", "path": "/data/sub/../../../etc/passwd"},
        {"op": "stat", "path": "/data/abs-link"},
        {"op": "readlink", "path": "/data/../x"},
        {"op": "read", "path": "/data/../outside"},
        {"op": "stat", "path": "/data/here.txt"},
        {"op": "stat", "path": "/data/missing"},
    ]});
    let outcome = setup
        .host()
        .invoke("probe", &ops.to_string())
        .await
        .unwrap();
    let out = output(&outcome);
    for i in 0..5 {
        assert!(out[i].get("err").is_some(), "op {i} succeeded: {out}");
    }
    assert_eq!(out[5], json!({"ok": "file"}));
    let denied: Vec<(String, String)> = setup
        .records()
        .into_iter()
        .filter(|r| r["decision"] == "deny")
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (field("event"), field("target"))
        })
        .collect();
    for (event, target) in [
        ("file.stat", "/data/../outside"),
        ("file.stat", "/data/../../etc/passwd"),
        ("file.stat", "/data/abs-link"),
        ("file.readlink", "/data/../x"),
        ("file.open", "/data/../outside"),
    ] {
        let pair = (event.to_owned(), target.to_owned());
        assert!(denied.contains(&pair), "{pair:?} not in {denied:#?}");
    }
    // Allowed looks, and a missing name, are not refusals.
    assert!(
        !denied
            .iter()
            .any(|(_, t)| t == "/data/here.txt" || t == "/data/missing"),
        "{denied:#?}"
    );
    assert_eq!(denied.len(), outcome.denials.len());
}

#[test]
fn kernel_file_systems_the_root_and_dev_are_not_mountable() {
    for (path, says) in [
        ("/proc", "proc, a kernel file system"),
        ("/proc/self", "proc, a kernel file system"),
        ("/sys", "sysfs, a kernel file system"),
        ("/", "the root directory"),
        ("/dev", "/dev"),
    ] {
        let mut setup = Setup::new();
        setup.policy(&format!("[mounts.m]\npath = {path:?}\naccess = \"read\""));
        setup.write_policy();
        let policy = airlock::Policy::load(&setup.policy_path()).unwrap();
        let e = airlock::Host::builder(policy).build().unwrap_err();
        let message = e.to_string();
        assert!(
            matches!(e, airlock::Error::Mount(_)) && message.contains("mount `m`"),
            "{path}: {message}"
        );
        assert!(message.contains(says), "{path}: {message}");
    }
}
