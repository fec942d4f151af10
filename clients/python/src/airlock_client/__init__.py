"""A client for ``airlock serve``: run vetted WebAssembly workflow actions
with only the capabilities an operator approved, and get each run's outcome.

``Client`` is synchronous, ``AsyncClient`` is for asyncio; both talk to the
server over its Unix socket or over TCP (a bearer token, TLS with a client
certificate). ``invoke`` returns the :class:`Outcome` of a run that ended
``ok`` and raises the exception class of any other status, carrying the
outcome and its stable ``code`` (docs/outcome.md).
"""

from ._client import AsyncClient, Client
from ._types import (
    ActionError,
    AirlockError,
    Denial,
    HostFault,
    LimitExceeded,
    Outcome,
    Problem,
    Refused,
    RequestRejected,
    RunEvent,
    RunState,
    ServerBusy,
)

__all__ = [
    "ActionError",
    "AirlockError",
    "AsyncClient",
    "Client",
    "Denial",
    "HostFault",
    "LimitExceeded",
    "Outcome",
    "Problem",
    "Refused",
    "RequestRejected",
    "RunEvent",
    "RunState",
    "ServerBusy",
]
