"""Workflows that run airlock actions on airlock workers, driven by
worker/tests/temporal.rs.

    python scenarios.py ADDRESS AIRLOCK_QUEUE FLAKY_PATH
    python scenarios.py ADDRESS AIRLOCK_QUEUE fault

Hosts the workflows itself (on a queue of its own), runs each scenario, and
prints one JSON line per scenario. For the scenarios that need the test to
act while an activity runs (cancel, kill, drain) it prints {STEP:
WORKFLOW_ID} and waits for a line on stdin: the test has seen the run start
in a worker's log and done its part (for cancel, nothing: the workflow
cancels once told to). Last, it prints how many activity attempts
Temporal's histories record.
"""

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from airlock_client.temporal import AirlockFailure, airlock_invoke

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=4)


@workflow.defn
class Chain:
    """The happy path: the output of one action is the next one's input."""

    @workflow.run
    async def run(self, args: dict) -> dict:
        first = await airlock_invoke("hello", {"name": args["name"]}, task_queue=args["queue"])
        second = await airlock_invoke("hello", {"name": first["greeting"]}, task_queue=args["queue"])
        return {"first": first, "second": second}


@workflow.defn
class Expect:
    """One action whose failure the workflow catches and reports."""

    @workflow.run
    async def run(self, args: dict) -> dict:
        timeout_ms = args.get("timeout_ms")
        try:
            output = await airlock_invoke(
                args["action"],
                args["input"],
                task_queue=args["queue"],
                retry_policy=FAST_RETRY,
                start_to_close_timeout=timedelta(seconds=args.get("start_to_close_s", 300)),
                action_timeout=timedelta(milliseconds=timeout_ms) if timeout_ms else None,
            )
            return {"output": output}
        except AirlockFailure as e:
            return {
                "class": type(e).__name__,
                "code": e.code,
                "non_retryable": e.non_retryable,
                "run": e.outcome.run if e.outcome else None,
            }
        except ActivityError as e:  # Temporal's own timeout, say
            return {"class": type(e.cause).__name__}


@workflow.defn
class Raw:
    """The activity scheduled by name with an argument that is not a call."""

    @workflow.run
    async def run(self, args: dict) -> dict:
        try:
            await workflow.execute_activity(
                "airlock.invoke", args["arg"], task_queue=args["queue"],
                start_to_close_timeout=timedelta(seconds=30), retry_policy=FAST_RETRY,
            )
            return {"ran": True}
        except ActivityError as e:
            return {"type": e.cause.type, "non_retryable": e.cause.non_retryable}


@workflow.defn
class Cancel:
    """A long run, cancelled by the workflow when signalled to."""

    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def cancel(self) -> None:
        self.go = True

    @workflow.run
    async def run(self, args: dict) -> str:
        task = asyncio.ensure_future(
            airlock_invoke(
                "probe",
                {"op": "sleep", "ms": 60000},
                task_queue=args["queue"],
                heartbeat_timeout=timedelta(seconds=2),
            )
        )
        await workflow.wait_condition(lambda: self.go)
        task.cancel()
        try:
            await task
            return "finished"
        except ActivityError as e:
            return "cancelled" if isinstance(e.cause, CancelledError) else f"failed: {e.cause}"


@workflow.defn
class Long:
    """A run long enough for its worker to be killed under it."""

    @workflow.run
    async def run(self, args: dict) -> dict:
        return await airlock_invoke(
            "probe",
            {"op": "sleep", "ms": args["ms"]},
            task_queue=args["queue"],
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=FAST_RETRY,
        )


def say(doc: dict) -> None:
    print(json.dumps(doc), flush=True)


async def fault(client: Client, queue: str) -> None:
    """One call of `hello`, whose first worker fails under it: the attempt
    is retried on the next worker the queue gets."""
    own = f"workflows-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=own, workflows=[Expect]):
        args = {"action": "hello", "input": {"name": "Ada"}, "queue": queue}
        result = await client.execute_workflow(
            Expect.run, args, id="fault-1", task_queue=own,
            execution_timeout=timedelta(minutes=2),
        )
        say({"scenario": "fault", "result": result})


async def main(address: str, queue: str, flaky: str) -> None:
    client = await Client.connect(address)
    if flaky == "fault":
        return await fault(client, queue)
    own = f"workflows-{uuid.uuid4().hex[:8]}"
    started: list[str] = []

    async def run(workflow_cls, args: dict, wid: str):
        started.append(wid)
        return await client.execute_workflow(
            workflow_cls.run, args, id=wid, task_queue=own,
            execution_timeout=timedelta(minutes=2),
        )

    async with Worker(client, task_queue=own, workflows=[Chain, Expect, Raw, Cancel, Long]):
        say({"scenario": "chain", "result": await run(Chain, {"name": "Ada", "queue": queue}, "chain-1")})
        for scenario, action, input in [
            ("refused", "unapproved", {"name": "x"}),
            ("unknown", "nope", {}),
            ("limit", "probe", {"op": "alloc", "mib": 1024}),
            ("action-error", "hello", {"name": " "}),
            ("flaky", "probe", {"op": "flaky", "path": flaky, "failures": 1}),
        ]:
            args = {"action": action, "input": input, "queue": queue}
            say({"scenario": scenario, "result": await run(Expect, args, scenario)})
        for i, arg in enumerate([{"action": "hello"}, {"action": "hello", "input": {}, "extra": 1}, "hello"]):
            result = await run(Raw, {"arg": arg, "queue": queue}, f"raw-{i}")
            say({"scenario": f"raw-{i}", "result": result})
        # A per-call time limit shorter than the grant's: the run's own
        # limit, not retried. And an attempt whose start-to-close ends the
        # run: retried, as Temporal's own timeout is.
        args = {"action": "probe", "input": {"op": "sleep", "ms": 5000}, "queue": queue}
        say({"scenario": "timeout-ms", "result": await run(Expect, dict(args, timeout_ms=300), "timeout-ms")})
        say({"scenario": "deadline", "result": await run(Expect, dict(args, start_to_close_s=1), "deadline")})

        async def step(name: str, wid: str, workflow_cls, args: dict):
            handle = await client.start_workflow(
                workflow_cls.run, args, id=wid, task_queue=own,
                execution_timeout=timedelta(minutes=2),
            )
            started.append(wid)
            say({name: wid})
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            return handle

        handle = await step("cancel", "cancel-1", Cancel, {"queue": queue})
        await handle.signal(Cancel.cancel)
        say({"scenario": "cancel", "result": await handle.result()})

        # SIGKILL mid-activity: Temporal retries it on the other worker.
        handle = await step("kill", "long-1", Long, {"queue": queue, "ms": 8000})
        say({"scenario": "kill", "result": await handle.result()})

        # SIGTERM mid-activity: the worker finishes it within its grace.
        handle = await step("drain", "drain-1", Long, {"queue": queue, "ms": 5000})
        say({"scenario": "drain", "result": await handle.result()})

    attempts = 0
    for wid in started:
        async for event in client.get_workflow_handle(wid).fetch_history_events():
            if event.HasField("activity_task_started_event_attributes"):
                attempts += event.activity_task_started_event_attributes.attempt
    say({"attempts": attempts, "workflows": started})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
    # The Temporal client's Rust threads can outlive the event loop and abort
    # CPython's finalization (temporalio/sdk-python#300), so once everything
    # is printed, leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
