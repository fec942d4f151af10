"""The Temporal demo's workflows: Python code that runs airlock actions on
airlock workers (demo/temporal.sh starts them).

    python workflow.py ADDRESS
"""

import asyncio
import json
import os
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from airlock_client.temporal import Refused, airlock_invoke


@workflow.defn
class Announce:
    """Two actions in a row: the output of `hello` goes into `release-notes`."""

    @workflow.run
    async def run(self, project: str) -> dict:
        hello = await airlock_invoke("hello", {"name": project})
        return await airlock_invoke(
            "release-notes",
            {"project": project, "version": "1.0.0", "changes": [hello["greeting"]]},
        )


@workflow.defn
class Harvest:
    """An action the operator never approved: refused, and the workflow
    sees why."""

    @workflow.run
    async def run(self) -> str:
        try:
            await airlock_invoke("sign-payload", {"body": "{}"})
            return "it ran?!"
        except Refused as e:
            return f"refused ({e.code}, non-retryable={e.non_retryable}): {e.message}"


async def main(address: str) -> None:
    client = await Client.connect(address)
    queue = f"demo-workflows-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[Announce, Harvest]):
        notes = await client.execute_workflow(
            Announce.run, "airlock", id="announce-1", task_queue=queue,
            execution_timeout=timedelta(minutes=1),
        )
        print("workflow announce-1 returned:", json.dumps(notes))
        why = await client.execute_workflow(
            Harvest.run, id="harvest-1", task_queue=queue,
            execution_timeout=timedelta(minutes=1),
        )
        print("workflow harvest-1 returned:", why)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
    # The Temporal client's Rust threads can outlive the event loop and abort
    # CPython's finalization (temporalio/sdk-python#300), so once everything
    # is printed, leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
