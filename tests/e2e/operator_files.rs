//! The operator's files — policy, lock, secret files, CA files — are read
//! only from regular files and only up to a cap: a device grows no memory,
//! a FIFO holds nothing, and the error names the file. A run's input is
//! capped by the policy.

use airlock_tests::{Setup, output};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

/// The error of building a host from the setup's policy.
fn build_error(setup: &Setup) -> String {
    setup.write_policy();
    match airlock::Policy::load(&setup.policy_path()) {
        Err(e) => e.to_string(),
        Ok(policy) => airlock::Host::builder(policy)
            .build()
            .unwrap_err()
            .to_string(),
    }
}

#[test]
fn a_policy_lock_or_ca_file_that_is_not_a_regular_file_is_refused_at_once() {
    let started = Instant::now();
    let fifo_dir = tempfile::tempdir().unwrap();
    let fifo = fifo_dir.path().join("fifo");
    mkfifo(&fifo);

    for special in [Path::new("/dev/zero"), fifo.as_path()] {
        let kind = if special == fifo {
            "a FIFO"
        } else {
            "a character device"
        };
        // The policy itself.
        let e = airlock::Policy::load(special).unwrap_err().to_string();
        assert!(
            e.contains(&format!("cannot be read: it is {kind}, not a regular file")),
            "{e}"
        );
        // The lock.
        let mut setup = Setup::new();
        setup.policy(&format!(
            "[trust]\nlock = {:?}",
            special.display().to_string()
        ));
        let e = build_error(&setup);
        assert!(e.contains(&format!("it is {kind}")), "lock: {e}");
        // A CA file.
        let mut setup = Setup::new();
        setup.network(&[special], &[], &[]);
        let e = build_error(&setup);
        assert!(
            e.contains("ca_certs") && e.contains(&format!("it is {kind}")),
            "CA: {e}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn operator_files_over_their_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'#'; (16 << 20) + 1]).unwrap();
    let e = airlock::Policy::load(&big).unwrap_err().to_string();
    assert!(
        e.contains("larger than 16 MiB, the most airlock reads of a policy"),
        "{e}"
    );
    let mut setup = Setup::new();
    setup.policy(&format!("[trust]\nlock = {:?}", big.display().to_string()));
    let e = build_error(&setup);
    assert!(
        e.contains("larger than 16 MiB") && e.contains("lock"),
        "{e}"
    );

    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, vec![b'-'; (1 << 20) + 1]).unwrap();
    let mut setup = Setup::new();
    setup.network(&[ca.as_path()], &[], &[]);
    let e = build_error(&setup);
    assert!(
        e.contains("larger than 1 MiB, the most airlock reads of a CA file"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_files_that_are_devices_fifos_or_too_large_are_unavailable() {
    let mut setup = Setup::new();
    let fifo = setup.path().join("fifo");
    mkfifo(&fifo);
    let big = setup.path().join("big");
    std::fs::write(&big, vec![b'k'; (64 << 10) + 1]).unwrap();
    let exact = setup.path().join("exact");
    std::fs::write(&exact, vec![b'k'; 64 << 10]).unwrap();
    for (name, path) in [
        ("ZERO", Path::new("/dev/zero")),
        ("FIFO", &fifo),
        ("BIG", &big),
        ("EXACT", &exact),
    ] {
        setup.policy(&format!(
            "[secrets.{name}]\nfile = {:?}",
            path.display().to_string()
        ));
    }
    setup.probe(
        r#"secrets = [{ name = "ZERO", expose = true }, { name = "FIFO", expose = true }, { name = "BIG", expose = true }, { name = "EXACT", expose = true }]"#,
        "timeout = \"20s\"",
    );
    let ops = json!({"op": "many", "ops": [
        {"op": "secret-length", "name": "ZERO"},
        {"op": "secret-length", "name": "FIFO"},
        {"op": "secret-length", "name": "BIG"},
        {"op": "secret-length", "name": "EXACT"},
    ]});
    let started = Instant::now();
    let outcome = setup
        .host()
        .invoke("probe", &ops.to_string())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    let out = output(&outcome);
    let err = |i: usize| out[i]["err"].as_str().unwrap_or_default().to_owned();
    assert!(err(0).contains("it is a character device"), "{out}");
    assert!(err(1).contains("it is a FIFO"), "{out}");
    assert!(
        err(2).contains("larger than 64 KiB, the most airlock reads of a secret file"),
        "{out}"
    );
    assert_eq!(out[3], json!({"ok": 64 << 10}));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_input_over_the_policys_limit_is_refused_before_the_run() {
    let mut setup = Setup::new();
    setup.policy("[limits]\ninput = \"64 B\"");
    setup.probe("", "");
    let host = setup.host();
    // The probe refuses unknown fields: pad with whitespace, which JSON
    // allows.
    let fits = format!("{:<64}", r#"{"op": "counter"}"#);
    assert_eq!(fits.len(), 64);
    let outcome = host.invoke("probe", &fits).await.unwrap();
    assert_eq!(output(&outcome), json!({"ok": 1}));
    let runs = setup.events("run.start").len();

    let over = format!("{fits} ");
    let e = host.invoke("probe", &over).await.unwrap_err();
    assert!(
        matches!(e, airlock::Error::InputTooLarge { max } if max.0 == 64),
        "{e}"
    );
    assert!(e.to_string().contains("[limits] input"), "{e}");
    assert_eq!(setup.events("run.start").len(), runs, "nothing ran");

    // The default is 1 MiB.
    let mut setup = Setup::new();
    setup.probe("", "");
    let host = setup.host();
    let big = format!("{}{}", r#"{"op": "counter"}"#, " ".repeat(1 << 20));
    let e = host.invoke("probe", &big).await.unwrap_err();
    assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
}
