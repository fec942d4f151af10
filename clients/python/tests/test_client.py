"""The client against a real `airlock serve`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from airlock_client import (
    ActionError,
    AsyncClient,
    Client,
    LimitExceeded,
    Outcome,
    Refused,
    RequestRejected,
    ServerBusy,
)


def test_invoke_over_the_unix_socket(serve):
    server = serve()
    with Client.unix(server.socket) as airlock:
        outcome = airlock.invoke("hello", {"name": "Ada"})
        assert isinstance(outcome, Outcome)
        assert outcome.status == "ok" and outcome.code is None
        assert outcome.output == {"greeting": "Hello, Ada!", "vowels": 2}
        assert outcome.digest.startswith("sha256:")
        first, last = outcome.audit["records"]
        runs = [r for r in server.records() if r.get("run") == outcome.run]
        assert (runs[0]["seq"], runs[-1]["seq"]) == (first, last)
        assert runs[0]["caller"] == f"unix:uid={os.getuid()}"
        names = [a["name"] for a in airlock.actions()]
        assert names == ["hello", "probe"]
        assert "limits" in airlock.action("hello")["grant"]
        assert airlock.ready()
        assert 'airlock_runs_total{action="hello",status="ok"} 1' in airlock.metrics()
    assert server.stop() == 0


def test_each_status_is_an_exception_with_its_code(serve):
    server = serve()
    with Client.unix(server.socket) as airlock:
        with pytest.raises(ActionError) as e:
            airlock.invoke("probe", {"op": "fail", "message": "nope"})
        assert e.value.code == "action_failed" and e.value.outcome.run
        assert "nope" in e.value.outcome.message
        with pytest.raises(LimitExceeded) as e:
            airlock.invoke("probe", {"op": "spin"})
        assert e.value.code == "timeout"
        with pytest.raises(LimitExceeded) as e:
            airlock.invoke("probe", {"op": "sleep", "ms": 2000}, timeout="100ms")
        assert e.value.code == "timeout"
        with pytest.raises(Refused) as e:
            airlock.invoke("absent", {})
        assert e.value.code == "unknown_action" and e.value.outcome.run is None
        with pytest.raises(RequestRejected) as e:
            airlock.invoke("hello", {}, timeout="soon")
        assert e.value.code == "bad_json"


async def test_the_async_client_runs_many_at_once(serve):
    server = serve()
    async with AsyncClient.unix(server.socket) as airlock:
        outcomes = await asyncio.gather(
            *(airlock.invoke("hello", {"name": f"n{i}"}) for i in range(20))
        )
        assert [o.output["greeting"] for o in outcomes] == [f"Hello, n{i}!" for i in range(20)]
        assert len({o.run for o in outcomes}) == 20
        with pytest.raises(Refused):
            await airlock.invoke("absent", {})
        assert await airlock.ready()


def test_tcp_with_a_token(serve, token):
    server = serve("--listen", "tcp:127.0.0.1:0", "--tokens", "tokens")
    with Client.tcp(server.url(), token=token) as airlock:
        assert airlock.invoke("hello", {"name": "T"}).output["greeting"] == "Hello, T!"
    with Client.tcp(server.url(), token="x" * 40) as stranger:
        with pytest.raises(RequestRejected) as e:
            stranger.invoke("hello", {"name": "T"})
        assert e.value.code == "unauthenticated" and e.value.problem.status == 401
    starts = [r for r in server.records() if r["event"] == "run.start"]
    assert [r["caller"] for r in starts] == ["ci-runner"]


async def test_tls_with_a_client_certificate(serve, tls):
    server = serve(
        "--listen", "tcp:127.0.0.1:0",
        "--tls-cert", tls["server_cert"], "--tls-key", tls["server_key"],
        "--client-ca", tls["ca"],
    )
    url = server.url("https")
    with Client.tcp(url, ca=tls["ca"], cert=tls["cert"], key=tls["key"]) as airlock:
        assert airlock.invoke("hello", {"name": "S"}).output["greeting"] == "Hello, S!"
    async with AsyncClient.tcp(url, ca=tls["ca"], cert=tls["cert"], key=tls["key"]) as airlock:
        assert (await airlock.invoke("hello", {"name": "A"})).output["greeting"] == "Hello, A!"
    with Client.tcp(url, ca=tls["ca"]) as anonymous:
        with pytest.raises(Exception):
            anonymous.invoke("hello", {"name": "S"})
    callers = {r["caller"] for r in server.records() if r["event"] == "run.start"}
    assert len(callers) == 1 and callers.pop().startswith("cert:CN=client sha256:")


def test_a_full_server_says_when_to_retry(serve):
    server = serve("--concurrency", "1", "--queue", "0")
    with Client.unix(server.socket) as airlock:
        slow = threading.Thread(
            target=lambda: airlock.invoke("probe", {"op": "sleep", "ms": 1500})
        )
        slow.start()
        while not any(r["event"] == "run.start" for r in server.records()):
            pass
        with pytest.raises(ServerBusy) as e:
            airlock.invoke("hello", {"name": "x"})
        assert e.value.retry_after == 1
        slow.join()


def test_a_run_started_without_waiting(serve):
    server = serve()
    with Client.unix(server.socket) as airlock:
        run = airlock.start("hello", {"name": "Lin"})
        kinds = []
        for event in airlock.events(run):
            kinds.append(event.data.get("event", event.event))
        assert kinds[0] == "run.start" and kinds[-2:] == ["run.end", "end"]
        assert airlock.wait(run).output["greeting"] == "Hello, Lin!"
        state = airlock.run(run)
        assert state.state == "finished" and state.outcome.run == run

        slow = airlock.start("probe", {"op": "sleep", "ms": 60000})
        while airlock.run(slow).state != "running":
            pass
        assert airlock.cancel(slow).cancelled
        with pytest.raises(LimitExceeded) as e:
            airlock.wait(slow)
        assert e.value.code == "cancelled"
        ends = [r for r in server.records() if r["event"] == "run.end" and r["run"] == slow]
        assert ends[0]["outcome"] == "cancelled"


async def test_async_runs_started_without_waiting(serve):
    server = serve()
    async with AsyncClient.unix(server.socket) as airlock:
        runs = [await airlock.start("hello", {"name": f"a{i}"}) for i in range(5)]
        outcomes = [await airlock.wait(r) for r in runs]
        assert [o.run for o in outcomes] == runs
        seen = [e.event async for e in airlock.events(runs[0])]
        assert seen[-1] == "end"
        assert (await airlock.run(runs[0])).state == "finished"
        with pytest.raises(RequestRejected) as e:
            await airlock.cancel(runs[0])
        assert e.value.code == "run_finished"


def test_the_quick_start_example_runs(serve):
    server = serve()
    example = Path(__file__).parent.parent / "examples" / "quickstart.py"
    out = subprocess.run(
        [sys.executable, str(example)],
        cwd=server.dir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Hello, Ada! run "), out.stdout
