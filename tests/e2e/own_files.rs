//! No action reaches airlock's own files: a host with a mount over (or
//! inside) its policy, lock, log, keys, secret files or compile cache does
//! not start, and a compiled artifact in the cache runs only as the
//! component it was compiled from.

use airlock::compile::CompileCache;
use airlock::{Error, Host, Policy};
use airlock_tests::{Setup, artifacts, output};
use serde_json::json;
use std::path::Path;

fn build(setup: &Setup, cache: Option<&Path>) -> Result<Host, Error> {
    setup.write_policy();
    let mut builder = Host::builder(Policy::load(&setup.policy_path()).unwrap());
    if let Some(dir) = cache {
        builder =
            builder.compile_cache(CompileCache::open(dir, cap_std::ambient_authority()).unwrap());
    }
    builder.build()
}

/// Add mount `name` at `path` to the setup's policy.
fn mount_at(setup: &mut Setup, name: &str, path: &Path, access: &str) {
    setup.policy(&format!(
        "[mounts.{name}]\npath = {:?}\naccess = {access:?}",
        path.display().to_string()
    ));
}

#[test]
fn a_mount_that_reaches_airlocks_files_stops_the_host() {
    // The setup's directory holds the policy, the lock and the log.
    let mut setup = Setup::new();
    let root = setup.path().to_path_buf();
    mount_at(&mut setup, "everything", &root, "read");
    let err = build(&setup, None).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Overlap(_)), "{text}");
    assert!(
        text.contains("mount `everything`") && text.contains("contains airlock's"),
        "{text}"
    );
    assert!(text.contains("[mounts.everything]"), "{text}");

    // A mount holding a secret file, read-only or not.
    let mut setup = Setup::new();
    setup.secret("TOKEN", "value-of-the-token");
    let secrets = setup.path().join("secrets");
    mount_at(&mut setup, "secrets", &secrets, "read");
    let text = build(&setup, None).unwrap_err().to_string();
    assert!(text.contains("secret file"), "{text}");

    // Over the compile cache, and inside it.
    let cache = tempfile::tempdir().unwrap();
    let inside = cache.path().join("inside");
    std::fs::create_dir_all(&inside).unwrap();
    for (dir, relation) in [
        (cache.path(), "contains"),
        (inside.as_path(), "lies inside"),
    ] {
        let mut setup = Setup::new();
        mount_at(&mut setup, "work", dir, "read-write");
        let text = build(&setup, Some(cache.path())).unwrap_err().to_string();
        assert!(
            text.contains(relation) && text.contains("compile cache"),
            "{text}"
        );
    }

    // A mount of its own beside them is fine.
    let mut setup = Setup::new();
    setup.mount("work", "read-write");
    build(&setup, Some(cache.path())).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_artifact_runs_only_as_its_own_component() {
    let mut setup = Setup::new();
    setup.probe("", "");
    let vowels = std::fs::read(artifacts::VOWELS).unwrap();
    setup.action("vowels", &vowels);
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("cache");
    let probe_input = json!({"op": "counter"}).to_string();
    {
        let host = build(&setup, Some(&cache_dir)).unwrap();
        host.invoke("probe", &probe_input).await.unwrap();
        host.invoke("vowels", r#"{"text": "aeiou"}"#).await.unwrap();
    }
    let files: Vec<_> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let probe_digest = airlock::rules::provenance::Digest::of(
        &std::fs::read(setup.path().join("actions/probe.wasm")).unwrap(),
    );
    let (probe_file, vowels_file) = match files[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&probe_digest.hex())
    {
        true => (&files[0], &files[1]),
        false => (&files[1], &files[0]),
    };
    // Whoever could write the cache puts one action's code under the
    // other's name.
    std::fs::rename(vowels_file, probe_file).unwrap();
    let host = build(&setup, Some(&cache_dir)).unwrap();
    let outcome = host.invoke("probe", &probe_input).await.unwrap();
    assert_eq!(
        output(&outcome),
        json!({"ok": 1}),
        "the probe's own code ran"
    );
}
