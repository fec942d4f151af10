"""Real `airlock serve` processes for the client's tests.

`cargo test -p airlock-cli --test python_client` prepares a directory with
approved actions, a token file and TLS files, and runs these tests with
AIRLOCK_BIN (the airlock binary of the tree) and AIRLOCK_TEST_DIR (that
directory) set. Each test gets a copy of the directory, and so a log of its
own.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Optional

import pytest

BIN = os.environ.get("AIRLOCK_BIN")
SOURCE = os.environ.get("AIRLOCK_TEST_DIR")


class Served:
    def __init__(self, directory: Path, args: list[str]):
        self.dir = directory
        self.process = subprocess.Popen(
            [BIN, "serve", *args],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "AIRLOCK_CACHE_DIR": str(directory / "cache")},
        )
        self.addresses: list[str] = []
        self.stderr: list[str] = []
        expected = max(1, args.count("--listen"))
        ready = threading.Event()

        def read() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                self.stderr.append(line)
                if line.startswith("airlock: serving on "):
                    self.addresses.append(line.removeprefix("airlock: serving on ").strip())
                    if len(self.addresses) == expected:
                        ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or len(self.addresses) < expected:
            self.process.kill()
            raise RuntimeError("airlock serve did not start:\n" + "".join(self.stderr))

    @property
    def socket(self) -> str:
        for a in self.addresses:
            if a.startswith("unix:"):
                return str(self.dir / a.removeprefix("unix:"))
        raise LookupError("no unix listener")

    def url(self, scheme: str = "http") -> str:
        for a in self.addresses:
            if a.startswith("tcp:"):
                port = a.rsplit(":", 1)[1]
                return f"{scheme}://localhost:{port}"
        raise LookupError("no tcp listener")

    def records(self) -> list[dict]:
        import json

        log = self.dir / "airlock-audit.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


@pytest.fixture
def serve(tmp_path: Path):
    if not BIN or not SOURCE:
        pytest.fail(
            "run these tests through `cargo test -p airlock-cli --test python_client`, "
            "which builds airlock and prepares AIRLOCK_BIN and AIRLOCK_TEST_DIR"
        )
    started: list[Served] = []

    def start(*args: str, directory: Optional[Path] = None) -> Served:
        where = tmp_path / f"server{len(started)}"
        shutil.copytree(SOURCE, where)
        served = Served(where, list(args))
        started.append(served)
        return served

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def token() -> str:
    assert SOURCE is not None
    line = (Path(SOURCE) / "tokens").read_text().split("\n")[0]
    return line.split()[1]


@pytest.fixture
def tls() -> dict[str, str]:
    assert SOURCE is not None
    d = Path(SOURCE)
    return {k: str(d / f) for k, f in {
        "ca": "test-ca.pem",
        "cert": "client.pem",
        "key": "client.key",
        "server_cert": "server.pem",
        "server_key": "server.key",
    }.items()}
