//! `airlock push` and `airlock pull` against Debian's `docker-registry`
//! (the CNCF distribution registry), started on loopback by the test.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A registry on 127.0.0.1 with its storage in a temporary directory,
/// stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    storage: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let found = Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "Debian's docker-registry is missing: run ./scripts/setup.sh (or apt-get install -y docker-registry)"
        );
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: airlock-test\n",
                storage.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry {
            child,
            port,
            storage,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !registry.answers() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// `GET /v2/` answers 200.
    fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let mut head = [0u8; 12];
        s.read_exact(&mut head).is_ok() && head.ends_with(b"200")
    }

    fn url(&self, rest: &str) -> String {
        format!("oci://127.0.0.1:{}/{rest}", self.port)
    }

    /// The stored file of blob `digest`.
    fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256(path: &Path) -> String {
    use sha2::Digest as _;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
    )
}

/// A signed component and its Sigstore bundle go up; by tag and by digest
/// they come down byte for byte, and the pulled copy is approved and runs.
/// A registry that returns other bytes, or nothing, is an error.
#[test]
fn push_and_pull_round_trip_a_component_with_its_signatures() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    publisher_setup(dir);
    deploy(dir, "probe-1.0.0.wasm");
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../rules/testdata/sigstore/sigstore-2.0.0.provenance.sigstore.json");
    std::fs::copy(&bundle, dir.join("probe.wasm.sigstore.json")).unwrap();

    let tagged = registry.url("acme/probe:1.0.0");
    let (out, _) = expect(dir, 0, &["push", "probe.wasm", &tagged]);
    assert!(
        out.starts_with(&format!(
            "pushed probe.wasm ({}) with its signature and Sigstore bundle to {tagged}\n",
            sha256(&dir.join("probe.wasm"))
        )),
        "{out}"
    );
    let pinned = out
        .lines()
        .find_map(|l| l.strip_prefix("pin it as "))
        .unwrap()
        .to_owned();
    assert!(
        pinned.starts_with(&registry.url("acme/probe@sha256:")),
        "{pinned}"
    );
    // The same component pushes as the same manifest.
    let (again, _) = expect(dir, 0, &["push", "probe.wasm", &tagged]);
    assert!(again.contains(&format!("pin it as {pinned}\n")), "{again}");

    // By tag: the digest it resolved to is printed.
    let pulled = dir.join("pulled");
    std::fs::create_dir(&pulled).unwrap();
    let (out, e) = expect(&pulled, 0, &["pull", &tagged]);
    assert!(out.starts_with("pulled oci://"), "{out}");
    assert!(e.contains("a tag can move; pin the digest"), "{e}");
    for file in [
        "probe.wasm",
        "probe.wasm.minisig",
        "probe.wasm.sigstore.json",
    ] {
        assert_eq!(
            std::fs::read(pulled.join(file)).unwrap(),
            std::fs::read(dir.join(file)).unwrap(),
            "{file}"
        );
    }
    // By digest, to a name of the caller's.
    let (out, e) = expect(&pulled, 0, &["pull", &pinned, "-o", "again.wasm"]);
    assert!(
        out.contains("into again.wasm, again.wasm.minisig, again.wasm.sigstore.json"),
        "{out}"
    );
    assert!(!e.contains("a tag can move"), "{e}");

    // What was pulled is only a file: approved like any other, then it runs.
    std::fs::copy(dir.join("airlock.toml"), pulled.join("airlock.toml")).unwrap();
    let (review, _) = expect(&pulled, 0, &["approve", "probe", "--yes"]);
    assert!(review.contains("signature:  verified: key "), "{review}");
    let (out, _) = expect(&pulled, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");

    // Nothing under that digest; a name that is not one.
    let absent = format!("{}@sha256:{}", registry.url("acme/probe"), "0".repeat(64));
    let (_, e) = expect(&pulled, 5, &["pull", &absent]);
    assert!(e.contains("is not in the registry"), "{e}");
    let (_, e) = expect(&pulled, 2, &["pull", &registry.url("Acme/Probe:1")]);
    assert!(e.contains("is not an OCI reference"), "{e}");
    let (_, e) = expect(&pulled, 2, &["push", "probe.wasm", &pinned]);
    assert!(e.contains("push to a tag"), "{e}");

    // An action whose source is the registry: approve pulls it into the
    // store by the pinned manifest digest, the lock records where it came
    // from, and run admits the stored copy by its digest.
    let by_source = dir.join("by-source");
    std::fs::create_dir(&by_source).unwrap();
    let key_line = read(dir.join("airlock.toml"))
        .lines()
        .find(|l| l.starts_with("keys = "))
        .unwrap()
        .to_owned();
    let policy =
        format!("[actions.probe]\nsource = \"{pinned}\"\n\n[publishers.acme]\n{key_line}\n");
    std::fs::write(by_source.join("airlock.toml"), &policy).unwrap();
    let (_, e) = expect(&by_source, 2, RUN);
    assert!(
        e.contains("not pulled yet: `airlock approve probe` pulls oci://"),
        "{e}"
    );
    let (review, e) = expect(&by_source, 0, &["approve", "probe", "--yes"]);
    assert!(e.contains(&format!("airlock: pulled {pinned}")), "{e}");
    assert!(review.contains("signature:  verified: key "), "{review}");
    let hex = pinned.rsplit_once("@sha256:").unwrap().1;
    let stored_copy = by_source.join(format!(".airlock/store/sha256-{hex}.wasm"));
    assert_eq!(
        std::fs::read(&stored_copy).unwrap(),
        std::fs::read(dir.join("probe.wasm")).unwrap()
    );
    assert!(read(by_source.join("airlock.lock")).contains(&format!("source = \"{pinned}\"")));
    let (out, _) = expect(&by_source, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");
    // The stored copy changed: refused by its digest, like any file.
    let mut changed = std::fs::read(&stored_copy).unwrap();
    changed[100] ^= 1;
    std::fs::write(&stored_copy, &changed).unwrap();
    let (_, e) = expect(&by_source, 3, RUN);
    assert!(e.contains("not the bytes that were vetted"), "{e}");
    // Approving again pulls again: the registry's bytes, not the changed
    // copy, are what the lock says came from the source.
    let (_, e) = expect(&by_source, 0, &["approve", "probe", "--yes"]);
    assert!(e.contains("is already approved"), "{e}");
    assert_eq!(
        std::fs::read(&stored_copy).unwrap(),
        std::fs::read(dir.join("probe.wasm")).unwrap()
    );
    let (out, _) = expect(&by_source, 0, RUN);
    assert_eq!(out.trim(), "\"xx\"");
    std::fs::write(&stored_copy, &changed).unwrap();
    // A source must pin a digest.
    std::fs::write(
        by_source.join("airlock.toml"),
        policy.replace(&pinned, &tagged),
    )
    .unwrap();
    let (_, e) = expect(&by_source, 2, RUN);
    assert!(e.contains("is not a pinned OCI reference"), "{e}");

    // The registry serves other bytes for the component: refused, and
    // nothing is written.
    let stored = registry.blob(&sha256(&dir.join("probe.wasm")));
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();
    let (_, e) = expect(&pulled, 5, &["pull", &pinned, "-o", "tampered.wasm"]);
    assert!(e.contains("is not those bytes"), "{e}");
    assert!(!pulled.join("tampered.wasm").exists());
}
