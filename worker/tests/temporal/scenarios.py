"""Workflows that run airlock actions on airlock workers, driven by
worker/tests/temporal.rs.

    python scenarios.py ADDRESS AIRLOCK_QUEUE FLAKY_PATH

Hosts the workflows itself (on a queue of its own), runs each scenario, and
prints one JSON line per scenario. Before the kill scenario's result it
prints {"kill": WORKFLOW_ID} and waits for a line on stdin: the test kills
the worker that runs it meanwhile. Last, it prints how many activity
attempts Temporal's histories record.
"""

import asyncio
import json
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
        try:
            output = await airlock_invoke(
                args["action"], args["input"], task_queue=args["queue"], retry_policy=FAST_RETRY
            )
            return {"output": output}
        except AirlockFailure as e:
            return {
                "class": type(e).__name__,
                "code": e.code,
                "non_retryable": e.non_retryable,
                "run": e.outcome.run if e.outcome else None,
            }


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
    """A long run, cancelled by the workflow once it has started."""

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
        await workflow.sleep(timedelta(seconds=args["after_s"]))
        task.cancel()
        try:
            await task
            return "finished"
        except ActivityError as e:
            return "cancelled" if isinstance(e.cause, CancelledError) else f"failed: {e.cause}"
        except asyncio.CancelledError:
            return "cancelled"


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


async def main(address: str, queue: str, flaky: str) -> None:
    client = await Client.connect(address)
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
        say({"scenario": "cancel", "result": await run(Cancel, {"queue": queue, "after_s": 1.5}, "cancel-1")})

        handle = await client.start_workflow(
            Long.run, {"queue": queue, "ms": 4000}, id="long-1", task_queue=own,
            execution_timeout=timedelta(minutes=2),
        )
        started.append("long-1")
        say({"kill": "long-1"})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        say({"scenario": "kill", "result": await handle.result()})

        # SIGTERM mid-activity: the worker finishes it within its grace.
        handle = await client.start_workflow(
            Long.run, {"queue": queue, "ms": 2000}, id="drain-1", task_queue=own,
            execution_timeout=timedelta(minutes=2),
        )
        started.append("drain-1")
        say({"drain": "drain-1"})
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        say({"scenario": "drain", "result": await handle.result()})

    attempts = 0
    for wid in started:
        async for event in client.get_workflow_handle(wid).fetch_history_events():
            if event.HasField("activity_task_started_event_attributes"):
                attempts += event.activity_task_started_event_attributes.attempt
    say({"attempts": attempts, "workflows": started})


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
