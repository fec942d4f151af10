//! What the worker's end-to-end test and its benchmark share: the
//! project's virtualenv and a Temporal dev server on loopback.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A program of the virtualenv `./scripts/setup.sh` makes.
pub fn venv(tool: &str) -> PathBuf {
    let path = root().join(".venv/bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/setup.sh, which installs the Temporal dev server and \
         Python SDK the worker's tests and benchmark run against",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `temporal server start-dev` on loopback, in memory, ready; and its
/// frontend's port.
pub fn temporal_server() -> (Process, u16) {
    let port = free_port();
    let child = Command::new(venv("temporal"))
        .args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"])
        .args(["--log-level", "error", "--port", &port.to_string()])
        .args(["--http-port", &free_port().to_string()])
        .args(["--metrics-port", &free_port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Process(child);
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let health = Command::new(venv("temporal"))
            .args(["operator", "cluster", "health", "--address", &address])
            .output()
            .unwrap();
        if health.status.success() && String::from_utf8_lossy(&health.stdout).contains("SERVING") {
            return (server, port);
        }
        assert!(
            Instant::now() < deadline,
            "the Temporal dev server did not come up"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
