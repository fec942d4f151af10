"""The Temporal benchmark's workflows and clock (worker/benches/temporal.rs).

    python bench.py ADDRESS latency QUEUE_AIRLOCK QUEUE_NOOP N
    python bench.py ADDRESS throughput QUEUE_AIRLOCK M

`latency`: N workflows one after another, alternating between one that runs
the `hello` action on an airlock worker and one that runs a no-op activity
on a worker of the same shape; prints each kind's median and p90 in ms.
`throughput`: M workflows of the first kind at once; prints workflows per
second. Each workflow runs one activity; this process hosts the workflows.
"""

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker


@workflow.defn
class One:
    @workflow.run
    async def run(self, args: dict):
        return await workflow.execute_activity(
            args["activity"],
            args["arg"],
            task_queue=args["queue"],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


AIRLOCK = {"activity": "airlock.invoke", "arg": {"action": "hello", "input": {"name": "Ada"}}}
NOOP = {"activity": "noop", "arg": {}}


async def main(address: str, mode: str, *rest: str) -> None:
    client = await Client.connect(address)
    own = f"bench-workflows-{uuid.uuid4().hex[:8]}"

    async def once(kind: dict, queue: str) -> float:
        start = time.perf_counter()
        await client.execute_workflow(
            One.run, dict(kind, queue=queue), id=f"bench-{uuid.uuid4().hex}", task_queue=own
        )
        return time.perf_counter() - start

    async with Worker(client, task_queue=own, workflows=[One], max_concurrent_workflow_tasks=200):
        if mode == "latency":
            airlock_queue, noop_queue, n = rest[0], rest[1], int(rest[2])
            for _ in range(10):  # warm both paths
                await once(AIRLOCK, airlock_queue)
                await once(NOOP, noop_queue)
            airlock, noop = [], []
            for _ in range(n):
                airlock.append(await once(AIRLOCK, airlock_queue))
                noop.append(await once(NOOP, noop_queue))

            def summary(xs: list[float]) -> dict:
                xs = sorted(xs)
                return {"p50_ms": statistics.median(xs) * 1e3, "p90_ms": xs[int(len(xs) * 0.9)] * 1e3}

            print(json.dumps({"airlock": summary(airlock), "noop": summary(noop)}), flush=True)
        else:
            queue, m = rest[0], int(rest[1])
            await asyncio.gather(*(once(AIRLOCK, queue) for _ in range(20)))  # warm
            start = time.perf_counter()
            await asyncio.gather(*(once(AIRLOCK, queue) for _ in range(m)))
            print(json.dumps({"workflows_per_s": m / (time.perf_counter() - start)}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
    # The Temporal client's Rust threads can outlive the event loop and abort
    # CPython's finalization (temporalio/sdk-python#300), so once everything
    # is printed, leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
