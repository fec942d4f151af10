use super::*;

const GITHUB: &str = "https://token.actions.githubusercontent.com";
const SIGSTORE_JS: &str =
    "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/sigstore")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

fn root() -> sigstore_trust_root::TrustedRoot {
    install_crypto();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigstore");
    load_root(&dir.join("trusted_root.json")).unwrap()
}

fn id(issuer: &str, subject: &str) -> Identity {
    Identity {
        issuer: issuer.into(),
        subject: subject.into(),
        repository: None,
        builder: None,
    }
}

/// Verify the fixture bundle `bundle` for the fixture artifact `artifact`.
fn check(
    bundle: &str,
    artifact: &str,
    ids: &[Identity],
) -> Result<Attestation, AttestationProblem> {
    verify(
        &text(bundle),
        bundle,
        &fixture(artifact),
        &root(),
        "acme",
        ids,
    )
}

#[test]
fn real_bundles_of_every_shape_verify_offline() {
    // npm provenance, bundle v0.1 and v0.3: SLSA v1 names the repository
    // and the builder.
    for (bundle, artifact, index) in [
        (
            "sigstore-2.0.0.provenance.sigstore.json",
            "sigstore-2.0.0.tgz",
            31_821_305,
        ),
        (
            "sigstore-5.0.0.provenance.sigstore.json",
            "sigstore-5.0.0.tgz",
            1_697_019_812,
        ),
    ] {
        let a = check(bundle, artifact, &[id(GITHUB, SIGSTORE_JS)]).unwrap();
        assert_eq!(a.subject, SIGSTORE_JS);
        assert_eq!(a.issuer, GITHUB);
        assert_eq!(a.log_index, index);
        assert_eq!(
            a.repository.as_deref(),
            Some("https://github.com/sigstore/sigstore-js")
        );
        assert_eq!(
            a.builder.as_deref(),
            Some("https://github.com/actions/runner/github-hosted")
        );
    }
    let a = check(
        "sigstore-2.0.0.provenance.sigstore.json",
        "sigstore-2.0.0.tgz",
        &[id(GITHUB, SIGSTORE_JS)],
    )
    .unwrap();
    assert_eq!(
        humantime::format_rfc3339_seconds(a.time()).to_string(),
        "2023-08-18T16:05:35Z"
    );

    // SLSA v0.2 (npm, bundle v0.2): the repository from the config source.
    let toolkit =
        "https://github.com/actions/toolkit/.github/workflows/releases.yml@refs/heads/main";
    let a = check(
        "actions-core-1.11.1.provenance.sigstore.json",
        "core-1.11.1.tgz",
        &[id(GITHUB, toolkit)],
    )
    .unwrap();
    assert_eq!(
        a.repository.as_deref(),
        Some("https://github.com/actions/toolkit")
    );
    assert_eq!(a.log_index, 137_009_988);

    // A message signature over a PyPI wheel: no statement, so the
    // repository is the certificate's alone, and no builder.
    let rfc8785 =
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2";
    let a = check(
        "bundle_v3_github.whl.sigstore",
        "rfc8785-0.1.2-py3-none-any.whl",
        &[id(GITHUB, rfc8785)],
    )
    .unwrap();
    assert_eq!(
        (a.repository.as_deref(), a.builder),
        (Some("https://github.com/trailofbits/rfc8785.py"), None)
    );

    // PyPI's publish attestation: a statement that is not SLSA provenance;
    // the repository is the certificate's.
    let pypi = "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml@refs/tags/v0.0.19";
    let a = check(
        "pypi_attestations-0.0.19.tar.gz.pep740.0.sigstore.json",
        "pypi_attestations-0.0.19.tar.gz",
        &[id(GITHUB, pypi)],
    )
    .unwrap();
    assert_eq!(
        a.repository.as_deref(),
        Some("https://github.com/trailofbits/pypi-attestations")
    );
    assert_eq!(a.builder, None);
}

#[test]
fn a_subject_pattern_covers_tags_and_only_them() {
    let tags =
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v*";
    check(
        "bundle_v3_github.whl.sigstore",
        "rfc8785-0.1.2-py3-none-any.whl",
        &[id(GITHUB, tags)],
    )
    .unwrap();
    for (pattern, text, matches) in [
        ("a*", "abc", true),
        ("*c", "abc", true),
        ("a*c", "ac", true),
        ("a*b*c", "a-b-c", true),
        ("a*b*c", "a-c-b", false),
        ("abc", "abc", true),
        ("abc", "abcd", false),
        ("refs/tags/v*", "refs/heads/v1", false),
        ("x/*/y", "x/a/b/y", true),
    ] {
        assert_eq!(glob(pattern, text), matches, "{pattern} ~ {text}");
    }
}

#[test]
fn each_failure_is_refused_and_says_why() {
    let bundle = "sigstore-2.0.0.provenance.sigstore.json";
    let artifact = "sigstore-2.0.0.tgz";
    let good = id(GITHUB, SIGSTORE_JS);
    let good_only = std::slice::from_ref(&good);
    let with = |repository: Option<&str>, builder: Option<&str>| Identity {
        repository: repository.map(Into::into),
        builder: builder.map(Into::into),
        ..good.clone()
    };
    check(
        bundle,
        artifact,
        &[with(Some("https://github.com/sigstore/sigstore-js"), None)],
    )
    .unwrap();

    let untrusted: Vec<(&str, Vec<Identity>)> = vec![
        (
            "another issuer",
            vec![id("https://accounts.google.com", SIGSTORE_JS)],
        ),
        (
            "another workflow",
            vec![id(
                GITHUB,
                "https://github.com/sigstore/sigstore-js/.github/workflows/ci.yml@*",
            )],
        ),
        (
            "tags only",
            vec![id(
                GITHUB,
                "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/tags/*",
            )],
        ),
        (
            "another repository",
            vec![with(Some("https://github.com/evil/sigstore-js"), None)],
        ),
        (
            "another builder",
            vec![with(None, Some("https://example.com/self-hosted"))],
        ),
        ("no identity at all", vec![]),
    ];
    for (what, ids) in untrusted {
        let e = check(bundle, artifact, &ids).unwrap_err();
        assert!(
            matches!(e, AttestationProblem::Untrusted { .. }),
            "{what}: {e}"
        );
        let shown = e.to_string();
        assert!(
            shown.contains(&format!("is attested by {SIGSTORE_JS} (issuer {GITHUB})"))
                && shown.contains("add it under [publishers.acme] sigstore"),
            "{what}: {shown}"
        );
    }

    // A byte of the artifact changed; the bundle of another release.
    let mut tampered = fixture(artifact);
    tampered[100] ^= 1;
    let root = root();
    let e = verify(&text(bundle), bundle, &tampered, &root, "acme", good_only).unwrap_err();
    assert!(
        matches!(e, AttestationProblem::Invalid { .. }),
        "tampered: {e}"
    );
    let e = check(bundle, "sigstore-5.0.0.tgz", good_only).unwrap_err();
    assert!(
        matches!(e, AttestationProblem::Invalid { .. }),
        "another digest: {e}"
    );

    // A certificate no authority of the root issued.
    let mock = load_root(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sigstore/mock-trusted_root.json"),
    )
    .unwrap();
    let e = verify(
        &text(bundle),
        bundle,
        &fixture(artifact),
        &mock,
        "acme",
        good_only,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationProblem::Invalid { .. } | AttestationProblem::Root(_)
        ),
        "untrusted root: {e}"
    );

    // The log time moved a day on, past the certificate's ten minutes:
    // the signed entry timestamp no longer covers it.
    let json: serde_json::Value = serde_json::from_str(&text(bundle)).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = json.clone();
        f(&mut v);
        v.to_string()
    };
    let later = edit(&|v| {
        let t = &mut v["verificationMaterial"]["tlogEntries"][0]["integratedTime"];
        let secs: u64 = t.as_str().unwrap().parse().unwrap();
        *t = (secs + 86_400).to_string().into();
    });
    let e = verify(&later, bundle, &fixture(artifact), &root, "acme", good_only).unwrap_err();
    assert!(
        matches!(e, AttestationProblem::Invalid { .. }),
        "expired: {e}"
    );

    // No inclusion proof, or no log entry at all.
    for (what, edited) in [
        (
            "no proof",
            edit(&|v| {
                v["verificationMaterial"]["tlogEntries"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("inclusionProof");
            }),
        ),
        (
            "no entry",
            edit(&|v| v["verificationMaterial"]["tlogEntries"] = serde_json::json!([])),
        ),
    ] {
        let e = verify(
            &edited,
            bundle,
            &fixture(artifact),
            &root,
            "acme",
            good_only,
        )
        .unwrap_err();
        assert!(
            matches!(e, AttestationProblem::NotLogged { .. }),
            "{what}: {e}"
        );
        assert!(e.to_string().contains("never proven logged"), "{what}: {e}");
    }

    // Signed with npm's key, not by an identity.
    let e = check(
        "actions-core-1.11.1.publish.sigstore.json",
        "core-1.11.1.tgz",
        good_only,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            AttestationProblem::NoIdentity { .. } | AttestationProblem::Invalid { .. }
        ),
        "keyed: {e}"
    );

    // Not a bundle.
    let e = verify(
        "{\"mediaType\": 1}",
        "x.sigstore.json",
        b"x",
        &root,
        "acme",
        &[good],
    )
    .unwrap_err();
    assert!(matches!(e, AttestationProblem::Malformed { .. }), "{e}");
}

#[test]
fn an_rfc_3161_timestamp_is_a_trusted_time() {
    let blob = check(
        "cosign-v3-blob.sigstore.json",
        "cosign-v3-blob.txt",
        &[id(
            "https://github.com/login/oauth",
            "w.vollprecht@gmail.com",
        )],
    )
    .unwrap();
    assert!(blob.integrated_time > 1_764_000_000, "{blob}");
}

#[test]
fn the_release_age_counts_from_the_log_and_says_when() {
    let a = check(
        "sigstore-2.0.0.provenance.sigstore.json",
        "sigstore-2.0.0.tgz",
        &[id(GITHUB, SIGSTORE_JS)],
    )
    .unwrap();
    let week = Duration::from_secs(7 * 86_400);
    // Published in 2023: old enough today.
    check_age(Some(&a), week, SystemTime::now()).unwrap();
    // A day after it was logged: too young, and the refusal says when.
    let e = check_age(Some(&a), week, a.time() + Duration::from_secs(86_400)).unwrap_err();
    assert!(
        e.contains("was published at 2023-08-18T16:05:35Z")
            && e.contains("min_release_age of 7days")
            && e.contains("it can be approved from 2023-08-25T16:05:35Z"),
        "{e}"
    );
    let e = check_age(None, week, SystemTime::now()).unwrap_err();
    assert!(e.contains("has no trusted publication time"), "{e}");
}

#[test]
fn a_recorded_attestation_is_checked_against_the_policy_as_it_is() {
    let a = check(
        "sigstore-2.0.0.provenance.sigstore.json",
        "sigstore-2.0.0.tgz",
        &[id(GITHUB, SIGSTORE_JS)],
    )
    .unwrap();
    let policy = |subject: &str| {
        let text = format!(
            "[trust]\ntrusted_root = \"trusted_root.json\"\n\n[publishers.acme]\n\
             sigstore = [{{ issuer = \"{GITHUB}\", subject = \"{subject}\" }}]\n"
        );
        Policy::parse("airlock.toml", &text, Path::new("/srv")).unwrap()
    };
    check_recorded(&a, "acme", &policy(SIGSTORE_JS)).unwrap();
    let e = check_recorded(&a, "acme", &policy("https://github.com/acme/*")).unwrap_err();
    assert!(matches!(e, AttestationProblem::Untrusted { .. }), "{e}");
    let e = check_recorded(&a, "other", &policy(SIGSTORE_JS)).unwrap_err();
    assert!(e.to_string().contains("it trusts no identity"), "{e}");
}
