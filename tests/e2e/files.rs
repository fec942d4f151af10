//! Files: only granted mounts exist, `read` refuses every change, and no
//! path leaves its mount. Every open is recorded.

use airlock_tests::{Setup, output};
use serde_json::{Value, json};

async fn probe(setup: &Setup, op: Value) -> Value {
    let host = setup.host();
    let outcome = host.invoke("probe", &op.to_string()).await.unwrap();
    output(&outcome)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_granted_read_mount_can_be_read_and_is_recorded() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read");
    std::fs::write(data.join("hello.txt"), "hi there").unwrap();
    setup.probe(r#"files = [{ mount = "data", access = "read" }]"#, "");
    let out = probe(&setup, json!({"op": "read", "path": "/data/hello.txt"})).await;
    assert_eq!(out, json!({"ok": "hi there"}));
    let opens = setup.events("file.open");
    assert!(
        opens.iter().any(|r| r["target"] == "/data/hello.txt"
            && r["decision"] == "allow"
            && r["mode"] == "read"),
        "{opens:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_to_a_read_mount_is_refused_and_recorded_as_a_denial() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read-write");
    std::fs::write(data.join("keep.txt"), "original").unwrap();
    // The policy allows read-write; the manifest asks only for read.
    setup.probe(r#"files = [{ mount = "data", access = "read" }]"#, "");
    let host = setup.host();
    let ops = json!({"op": "many", "ops": [
        {"op": "write", "path": "/data/keep.txt", "data": "overwritten"},
        {"op": "write", "path": "/data/new.txt", "data": "created"},
        {"op": "remove", "path": "/data/keep.txt"},
        {"op": "mkdir", "path": "/data/sub"},
        {"op": "rename", "from": "/data/keep.txt", "to": "/data/moved.txt"},
    ]});
    let outcome = host.invoke("probe", &ops.to_string()).await.unwrap();
    let out = output(&outcome);
    for (i, result) in out.as_array().unwrap().iter().enumerate() {
        assert!(
            result.get("err").is_some(),
            "op {i} should have failed: {result}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(data.join("keep.txt")).unwrap(),
        "original"
    );
    assert!(
        !data.join("new.txt").exists()
            && !data.join("sub").exists()
            && !data.join("moved.txt").exists()
    );

    let denials: Vec<_> = outcome
        .denials
        .iter()
        .map(|d| (d.event.as_str(), d.target.as_str()))
        .collect();
    for expected in [
        ("file.open", "/data/keep.txt"),
        ("file.open", "/data/new.txt"),
        ("file.remove", "/data/keep.txt"),
        ("file.mkdir", "/data/sub"),
        ("file.rename", "/data/keep.txt"),
    ] {
        assert!(
            denials.contains(&expected),
            "{expected:?} not in {denials:?}"
        );
    }
    let recorded = setup
        .records()
        .into_iter()
        .filter(|r| r["decision"] == "deny")
        .count();
    assert_eq!(recorded, outcome.denials.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_ceiling_narrows_read_write_to_read() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read");
    setup.probe(r#"files = [{ mount = "data", access = "read-write" }]"#, "");
    let host = setup.host();
    let action = host.action("probe").unwrap();
    assert!(
        action
            .grant()
            .narrowed
            .iter()
            .any(|n| n.contains("narrowed from read-write to read"))
    );
    let out = output(
        &action
            .invoke(r#"{"op": "write", "path": "/data/x", "data": "y"}"#)
            .await
            .unwrap(),
    );
    assert!(out.get("err").is_some(), "{out}");
    assert!(!data.join("x").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_write_mount_allows_create_rename_and_remove_and_records_each() {
    let mut setup = Setup::new();
    let out_dir = setup.mount("out", "read-write");
    setup.probe(r#"files = [{ mount = "out", access = "read-write" }]"#, "");
    let ops = json!({"op": "many", "ops": [
        {"op": "mkdir", "path": "/out/dir"},
        {"op": "write", "path": "/out/dir/a.txt", "data": "A"},
        {"op": "rename", "from": "/out/dir/a.txt", "to": "/out/b.txt"},
        {"op": "write", "path": "/out/gone.txt", "data": "x"},
        {"op": "remove", "path": "/out/gone.txt"},
        {"op": "list", "path": "/out"},
    ]});
    let out = probe(&setup, ops).await;
    assert_eq!(out[5], json!({"ok": ["b.txt", "dir"]}), "{out}");
    assert_eq!(std::fs::read_to_string(out_dir.join("b.txt")).unwrap(), "A");
    let records = setup.records();
    let find = |event: &str, target: &str| {
        records
            .iter()
            .any(|r| r["event"] == event && r["target"] == target && r["decision"] == "allow")
    };
    assert!(find("file.mkdir", "/out/dir"));
    assert!(find("file.open", "/out/dir/a.txt"));
    assert!(find("file.rename", "/out/dir/a.txt"));
    assert!(find("file.remove", "/out/gone.txt"));
    let rename = records
        .iter()
        .find(|r| r["event"] == "file.rename")
        .unwrap();
    assert_eq!(rename["to"], "/out/b.txt");
    let create = records
        .iter()
        .find(|r| r["event"] == "file.open" && r["target"] == "/out/dir/a.txt")
        .unwrap();
    assert!(
        create["mode"].as_str().unwrap().contains("create"),
        "{create}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_path_escapes_its_mount() {
    let mut setup = Setup::new();
    let data = setup.mount("data", "read-write");
    let outside = setup.path().join("outside.txt");
    std::fs::write(&outside, "host secret file").unwrap();
    std::os::unix::fs::symlink(&outside, data.join("link-out")).unwrap();
    std::os::unix::fs::symlink("../../outside.txt", data.join("relative-link-out")).unwrap();
    std::fs::create_dir(data.join("sub")).unwrap();
    setup.probe(r#"files = [{ mount = "data", access = "read-write" }]"#, "");
    let host = setup.host();
    let attempts = [
        "/data/../outside.txt",
        "/data/../../outside.txt",
        "/data/sub/../../outside.txt",
        "/data/link-out",
        "/data/relative-link-out",
        "/etc/passwd",
        &outside.display().to_string(),
    ];
    for path in attempts {
        let read = json!({"op": "read", "path": path}).to_string();
        let out = output(&host.invoke("probe", &read).await.unwrap());
        assert!(out.get("err").is_some(), "{path} was readable: {out}");
        let write = json!({"op": "write", "path": path, "data": "pwned"}).to_string();
        let out = output(&host.invoke("probe", &write).await.unwrap());
        assert!(out.get("err").is_some(), "{path} was writable: {out}");
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "host secret file"
    );
    // Attempts that reached the host are recorded as refusals.
    let denied: Vec<_> = setup
        .records()
        .into_iter()
        .filter(|r| r["event"] == "file.open" && r["decision"] == "deny")
        .map(|r| r["target"].as_str().unwrap().to_owned())
        .collect();
    for target in [
        "/data/../outside.txt",
        "/data/link-out",
        "/data/relative-link-out",
    ] {
        assert!(
            denied.iter().any(|t| t == target),
            "{target} not recorded as denied: {denied:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mounts_that_are_not_granted_do_not_exist() {
    let mut setup = Setup::new();
    let other = setup.mount("other", "read-write");
    std::fs::write(other.join("f.txt"), "not for you").unwrap();
    setup.probe("", "");
    let out = probe(
        &setup,
        json!({"op": "many", "ops": [
            {"op": "read", "path": "/other/f.txt"},
            {"op": "list", "path": "/"},
            {"op": "env"},
        ]}),
    )
    .await;
    assert!(out[0].get("err").is_some(), "{out}");
    assert!(out[1].get("err").is_some(), "{out}");
    assert!(
        out[2]["root"].get("Err").is_some() || out[2]["root"]["Ok"] == 0,
        "{out}"
    );
}
