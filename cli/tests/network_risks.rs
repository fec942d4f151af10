//! Network grants that deserve a second look, as `airlock inspect` and
//! `airlock approve` show them, and what the policy's `[network]` forbid
//! does to them — with the real binary.

#![allow(clippy::unwrap_used)]

mod common;

use airlock_test_artifacts::PROBE;
use common::*;

const RISKY: &str = "\"https://api.example.com\", \"http://169.254.169.254\", \
     \"http://[::ffff:169.254.170.2]:8080\", \"http://[fd00:ec2::254]\", \"http://100.100.100.200\", \
     \"http://127.0.0.1:8080\", \"http://[fe80::1]:8080\", \"http://10.0.0.0/8\", \"http://10.1.2.0/24\"";

fn pack(dir: &std::path::Path) {
    std::fs::write(dir.join("risky.toml"), manifest("1.0.0", RISKY)).unwrap();
    expect(
        dir,
        0,
        &[
            "pack",
            PROBE,
            "--manifest",
            "risky.toml",
            "-o",
            "probe.wasm",
        ],
    );
}

#[test]
fn inspect_flags_metadata_loopback_link_local_and_wide_grants() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    pack(dir);
    let (out, _) = expect(dir, 0, &["inspect", "probe.wasm"]);
    for line in [
        "  ! network origin http://169.254.169.254 reaches a cloud metadata service (169.254.169.254)",
        "  ! network origin http://169.254.169.254 reaches link-local addresses",
        "  ! network origin http://169.254.170.2:8080 reaches a cloud metadata service (169.254.170.2)",
        "  ! network origin http://[fd00:ec2::254] reaches a cloud metadata service (fd00:ec2::254)",
        "  ! network origin http://100.100.100.200 reaches a cloud metadata service",
        "  ! network origin http://127.0.0.1:8080 reaches loopback, the host's own services (127.0.0.0/8)",
        "  ! network origin http://[fe80::1]:8080 reaches link-local addresses (fe80::/10)",
        "  ! network origin http://10.0.0.0/8 is a /8 block, wider than /24 (min_prefix_v4)",
    ] {
        assert!(out.contains(line), "no `{line}` in:\n{out}");
    }
    for calm in ["https://api.example.com ", "http://10.1.2.0/24 "] {
        assert!(!out.contains(calm), "{calm} is flagged:\n{out}");
    }
}

#[test]
fn approve_shows_what_the_policy_forbids_and_the_grant_leaves_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    pack(dir);
    expect(dir, 0, &["sign", "probe.wasm"]);
    let policy = read(dir.join("airlock.toml"));
    std::fs::write(
        dir.join("airlock.toml"),
        format!("{policy}\n[network]\nforbid = [\"metadata\", \"wide\"]\nmin_prefix_v4 = 16\n"),
    )
    .unwrap();
    let (review, _) = expect(dir, 1, &["approve", "probe"]);
    for line in [
        "  ! network origin http://169.254.169.254 reaches a cloud metadata service (169.254.169.254); \
         the policy forbids metadata addresses, so it will not be granted",
        "  ! network origin http://10.0.0.0/8 is a /8 block, wider than /16 (min_prefix_v4); \
         the policy forbids wide blocks",
        "policy:     network origin http://169.254.169.254 is not granted: it reaches a cloud metadata \
         service (169.254.169.254), which the policy forbids (forbid = [\"metadata\"] under [network])",
        "policy:     network origin http://100.100.100.200 is not granted",
        "policy:     network origin http://[fd00:ec2::254] is not granted",
        "policy:     network origin http://10.0.0.0/8 is not granted",
        // Loopback is flagged, not forbidden here.
        "  ! network origin http://127.0.0.1:8080 reaches loopback",
    ] {
        assert!(review.contains(line), "no `{line}` in:\n{review}");
    }
    assert!(
        !review.contains("policy:     network origin http://127.0.0.1:8080"),
        "{review}"
    );

    // A policy that names what cannot be used is refused with the field.
    std::fs::write(
        dir.join("airlock.toml"),
        format!("{policy}\n[network]\nforbid = [\"private\"]\n"),
    )
    .unwrap();
    let (_, e) = expect(dir, 2, &["approve", "probe"]);
    assert!(
        e.contains("network.forbid[0]") && e.contains("use metadata, loopback, link-local, wide"),
        "{e}"
    );
}
