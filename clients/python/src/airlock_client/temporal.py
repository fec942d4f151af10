"""Run airlock actions from Temporal workflows (needs ``temporalio``).

``airlock_invoke`` schedules the activity ``airlock.invoke`` on the task
queue that ``airlock worker`` processes poll, with timeouts and a retry
policy that suit it, and returns the action's JSON output. A run that does
not end ``ok`` raises the exception class of its status, carrying the stable
``code`` (docs/outcome.md) and the whole ``outcome``; each is a Temporal
``ApplicationError``, so one the workflow does not catch fails the workflow
with the code as its type. A cancelled activity raises Temporal's own
``ActivityError`` with a ``CancelledError`` cause, as any activity does.

Import it in a workflow module through the sandbox's pass-through::

    with workflow.unsafe.imports_passed_through():
        from airlock_client.temporal import airlock_invoke, Refused
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Optional

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

from ._types import Outcome

ACTIVITY = "airlock.invoke"
"""The activity type an airlock worker runs."""

DEFAULT_TASK_QUEUE = "airlock"
"""The task queue ``airlock_invoke`` uses unless told another."""

DEFAULT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)
"""Retries what can succeed on a second try (an action's own error, a host
fault on one worker); the worker marks refusals and limits non-retryable."""


class AirlockFailure(ApplicationError):
    """An airlock run that did not end ``ok``."""

    code: str
    outcome: Optional[Outcome]

    def __init__(self, code: str, message: str, outcome: Optional[Outcome], non_retryable: bool):
        super().__init__(message, type=code, non_retryable=non_retryable)
        self.code = code
        self.outcome = outcome


class ActionError(AirlockFailure):
    """The action ran and returned an error of its own (``action_failed``)."""


class Refused(AirlockFailure):
    """Nothing ran: the action, its input or the policy was refused
    (``not_approved``, ``capability_drift``, ``unknown_action``, ...)."""


class LimitExceeded(AirlockFailure):
    """The run was stopped at a limit or trapped (``timeout``, ``memory``,
    ``output``, ``refusals``, ``trap``)."""


class HostFault(AirlockFailure):
    """The worker could not keep its guarantees (its audit log, its engine,
    a mount); nothing ran unrecorded, and that worker stopped taking
    activities."""


_BY_STATUS: dict[str, type[AirlockFailure]] = {
    "action_error": ActionError,
    "refused": Refused,
    "limit": LimitExceeded,
    "host_fault": HostFault,
}


async def airlock_invoke(
    action: str,
    input: Any,
    *,
    task_queue: str = DEFAULT_TASK_QUEUE,
    start_to_close_timeout: timedelta = timedelta(minutes=5),
    heartbeat_timeout: Optional[timedelta] = timedelta(seconds=30),
    retry_policy: Optional[RetryPolicy] = None,
    action_timeout: Optional[timedelta] = None,
    activity_id: Optional[str] = None,
) -> Any:
    """Run the approved action ``action`` on ``input`` on an airlock worker
    and return its JSON output.

    ``start_to_close_timeout`` bounds each attempt; the worker also holds
    the run to the action's grant, and the smaller wins. ``action_timeout``
    shortens the grant's limit for this call only. ``heartbeat_timeout``
    is how soon a worker that died is noticed and how soon a cancellation
    reaches the run. Raises ``ActionError``, ``Refused``,
    ``LimitExceeded`` or ``HostFault`` after the retry policy gives up.
    """
    call: dict[str, Any] = {"action": action, "input": input}
    if action_timeout is not None:
        call["timeout_ms"] = int(action_timeout.total_seconds() * 1000)
    try:
        return await workflow.execute_activity(
            ACTIVITY,
            call,
            task_queue=task_queue,
            start_to_close_timeout=start_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            retry_policy=retry_policy or DEFAULT_RETRY,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            activity_id=activity_id,
        )
    except ActivityError as e:
        failure = airlock_failure(e)
        if failure is None:
            raise
        raise failure from e


def airlock_failure(error: ActivityError) -> Optional[AirlockFailure]:
    """The typed failure an ``airlock.invoke`` activity error carries, or
    ``None`` if its cause is not an airlock outcome (a cancellation, a
    Temporal timeout)."""
    cause = error.cause
    if not isinstance(cause, ApplicationError) or not cause.type:
        return None
    outcome = None
    if cause.details and isinstance(cause.details[0], dict):
        try:
            outcome = Outcome.from_json(cause.details[0])
        except (KeyError, TypeError):
            outcome = None
    cls = _BY_STATUS.get(outcome.status if outcome else "", AirlockFailure)
    if outcome is None and cause.type not in _CODES:
        return None
    return cls(cause.type, cause.message, outcome, cause.non_retryable)


# The stable codes (docs/outcome.md) but `cancelled`, which Temporal reports
# as a cancellation.
_CODES = {
    "action_failed",
    "unknown_action",
    "not_approved",
    "digest_mismatch",
    "capability_drift",
    "bad_signature",
    "bad_manifest",
    "invalid_component",
    "too_large",
    "bad_input",
    "bad_policy",
    "timeout",
    "memory",
    "output",
    "refusals",
    "trap",
    "audit_busy",
    "audit_tampered",
    "audit_unavailable",
    "host_error",
}
