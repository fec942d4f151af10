//! Provenance: only the approved bytes run, and every refusal is recorded.

use airlock::rules::manifest::section;
use airlock::{Error, Refusal};
use airlock_tests::{Setup, probe_manifest, probe_with};

fn refusal(result: Result<airlock::Action, Error>) -> Refusal {
    match result {
        Err(Error::Refused(r)) => r,
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(action) => panic!("{} was accepted", action.digest()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modified_component_is_refused() {
    let mut setup = Setup::new();
    let path = setup.probe("", "");
    let host = setup.host();
    // One byte changed in the manifest section (still a valid component).
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let r = refusal(host.action("probe"));
    assert!(matches!(r, Refusal::DigestMismatch { .. }), "{r}");
    assert!(r.to_string().contains("airlock approve "), "{r}");
    assert!(
        r.to_string().contains("not the bytes that were vetted"),
        "{r}"
    );
    let refused = setup.events("run.refused");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["decision"], "deny");
    assert_eq!(
        refused[0]["digest"],
        airlock::rules::provenance::Digest::of(&bytes).to_string()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unapproved_or_unknown_action_is_refused() {
    let mut setup = Setup::new();
    let component = probe_with(&probe_manifest("", ""));
    let file = setup.path().join("probe.wasm");
    std::fs::write(&file, &component).unwrap();
    setup.sign(&file);
    setup.policy(&format!(
        "[actions.probe]\npath = {:?}",
        file.display().to_string()
    ));
    let host = setup.host();
    let r = refusal(host.action("probe"));
    assert!(matches!(r, Refusal::NotApproved { .. }), "{r}");
    assert!(
        r.to_string()
            .ends_with("vet it and run `airlock approve probe`"),
        "{r}"
    );
    assert!(matches!(
        refusal(host.action("nope")),
        Refusal::UnknownAction(_)
    ));
    let r = refusal(host.load_file(&file));
    assert!(matches!(r, Refusal::NotApproved { .. }), "{r}");
    assert!(
        r.to_string()
            .contains(&format!("airlock approve {}", file.display())),
        "{r}"
    );
    assert_eq!(setup.events("run.refused").len(), 3);
    assert!(
        !setup.lock_path().exists(),
        "only `airlock approve` writes the lock"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_must_declare_the_name_it_is_approved_under() {
    let mut setup = Setup::new();
    let component = probe_with(&probe_manifest("", ""));
    setup.action("other-name", &component);
    let host = setup.host();
    assert!(matches!(
        refusal(host.action("other-name")),
        Refusal::NameMismatch { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_or_missing_manifests_are_refused_with_the_field() {
    let mut setup = Setup::new();
    let raw = std::fs::read(airlock_tests::artifacts::PROBE).unwrap();
    setup.action("bare", &raw);
    let bad = "[action]\nname = \"bad\"\nversion = \"1.0.0\"\npublisher = \"p\"\n[capabilities]\nfiles = [{ mount = \"w\", access = \"write\" }]\n";
    setup.action("bad", &section::embed(&raw, bad).unwrap());
    setup.action("garbage", b"this is not wasm");
    let host = setup.host();
    let r = refusal(host.action("bare"));
    assert!(r.to_string().contains("no embedded manifest"), "{r}");
    let r = refusal(host.action("bad"));
    assert!(
        r.to_string().contains("capabilities.files[0].access"),
        "{r}"
    );
    let r = refusal(host.action("garbage"));
    assert!(r.to_string().contains("not a WebAssembly component"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_importing_what_airlock_does_not_provide_is_refused() {
    // A component importing an interface airlock does not implement: the
    // probe's bytes with an import renamed in place.
    let raw = std::fs::read(airlock_tests::artifacts::PROBE).unwrap();
    let from = b"airlock:action/log@0.1.0";
    let to = b"airlock:action/lgo@0.1.0";
    let mut renamed = raw.clone();
    let mut at = 0;
    while let Some(i) = renamed[at..].windows(from.len()).position(|w| w == from) {
        renamed[at + i..at + i + from.len()].copy_from_slice(to);
        at += i + from.len();
    }
    assert!(at > 0, "the probe imports the log interface");
    let mut setup = Setup::new();
    setup.action(
        "probe",
        &section::embed(&renamed, &probe_manifest("", "")).unwrap(),
    );
    let host = setup.host();
    match refusal(host.action("probe")) {
        Refusal::Unlinkable { reason, .. } | Refusal::InvalidComponent { reason, .. } => {
            assert!(reason.contains("lgo"), "{reason}")
        }
        other => panic!("{other}"),
    }
}

/// A development run of a component never lends its `dev` mark to an
/// approved load of the same bytes in the same host, nor borrows an
/// approved load's prepared action, in either order.
#[tokio::test(flavor = "multi_thread")]
async fn development_and_approved_loads_of_the_same_bytes_stay_apart() {
    for dev_first in [true, false] {
        let mut setup = Setup::new();
        let file = setup.probe("", "");
        setup.policy("[trust]\nallow_dev = true\n");
        let bytes = std::fs::read(&file).unwrap();
        let host = setup.host();
        let input = r#"{"op": "counter"}"#;
        let dev = || async {
            let action = host.load_dev_bytes(&bytes, "fresh.wasm").unwrap();
            action.invoke(input).await.unwrap()
        };
        let approved = || async { host.invoke("probe", input).await.unwrap() };
        if dev_first {
            dev().await;
            approved().await;
        } else {
            approved().await;
            dev().await;
        }
        // Each run again, in the other order too: the marks stay with the load.
        approved().await;
        dev().await;
        let marks: Vec<bool> = setup
            .events("run.start")
            .iter()
            .map(|r| r["dev"] == true)
            .collect();
        let want = match dev_first {
            true => [true, false, false, true],
            false => [false, true, false, true],
        };
        assert_eq!(marks, want, "dev first: {dev_first}");
        let ends: Vec<bool> = setup
            .events("run.end")
            .iter()
            .map(|r| r["dev"] == true)
            .collect();
        assert_eq!(ends, want, "dev first: {dev_first}");
    }
}
