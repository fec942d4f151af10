"""The outcome of a run and the exceptions for each way it can fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Denial:
    """A capability refused during a run."""

    event: str
    """The event kind, like ``net.request`` or ``secret.read``."""
    target: str
    """What was refused: an origin, a path, a secret's name."""
    message: str
    """Why, and what would grant it."""


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended (docs/outcome.md)."""

    status: str
    """``ok``, ``action_error``, ``refused``, ``limit`` or ``host_fault``."""
    code: Optional[str]
    """``None`` for ``ok``; otherwise a stable code like ``capability_drift``."""
    message: Optional[str]
    run: Optional[str]
    action: Optional[str]
    version: Optional[str]
    digest: Optional[str]
    output: Any
    denials: list[Denial] = field(default_factory=list)
    duration_ms: Optional[float] = None
    peak_memory: Optional[int] = None
    audit: Optional[dict[str, Any]] = None

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Outcome":
        return cls(
            status=doc["status"],
            code=doc.get("code"),
            message=doc.get("message"),
            run=doc.get("run"),
            action=doc.get("action"),
            version=doc.get("version"),
            digest=doc.get("digest"),
            output=doc.get("output"),
            denials=[Denial(**d) for d in doc.get("denials") or []],
            duration_ms=doc.get("duration_ms"),
            peak_memory=doc.get("peak_memory"),
            audit=doc.get("audit"),
        )


@dataclass(frozen=True)
class RunEvent:
    """One Server-Sent Event of a run: ``record`` (``data`` holds the audit
    record's fields and ``seq``, redacted as recorded), ``dropped``, or
    ``end`` (``data`` is the outcome document)."""

    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RunState:
    """Where a run started with ``start`` is."""

    run: str
    action: str
    state: str
    """``queued``, ``running`` or ``finished``."""
    cancelled: bool
    outcome: Optional[Outcome]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "RunState":
        outcome = doc.get("outcome")
        return cls(
            run=doc["run"],
            action=doc["action"],
            state=doc["state"],
            cancelled=doc["cancelled"],
            outcome=Outcome.from_json(outcome) if outcome else None,
        )


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem: the server refused the request itself."""

    status: int
    code: str
    detail: str


class AirlockError(Exception):
    """Any invocation that did not end ``ok``."""

    code: str
    outcome: Optional[Outcome]

    def __init__(self, code: str, message: str, outcome: Optional[Outcome] = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.outcome = outcome


class ActionError(AirlockError):
    """The action ran and returned an error of its own (``action_failed``)."""


class Refused(AirlockError):
    """Nothing ran: the action, its input or the policy was refused
    (``not_approved``, ``capability_drift``, ``bad_input``, ...)."""


class LimitExceeded(AirlockError):
    """The run was stopped at a limit or trapped (``timeout``, ``memory``,
    ``output``, ``refusals``, ``trap``)."""


class HostFault(AirlockError):
    """The host could not keep its guarantees; nothing ran unrecorded
    (``audit_busy``: retry; ``audit_tampered``: a person must look;
    ``audit_unavailable``: fail over)."""


class RequestRejected(AirlockError):
    """The server refused the request itself (``unauthenticated``,
    ``bad_json``, ``body_too_large``, ...)."""

    problem: Problem

    def __init__(self, problem: Problem):
        super().__init__(problem.code, problem.detail)
        self.problem = problem


class ServerBusy(RequestRejected):
    """Every run slot is taken and the queue is full (``busy``): retry after
    ``retry_after`` seconds."""

    retry_after: float

    def __init__(self, problem: Problem, retry_after: float):
        super().__init__(problem)
        self.retry_after = retry_after


BY_STATUS: dict[str, type[AirlockError]] = {
    "action_error": ActionError,
    "refused": Refused,
    "limit": LimitExceeded,
    "host_fault": HostFault,
}
