"""Secrets the action declared and the operator provides.

The way to use a secret is not to read it: put :meth:`Secret.placeholder`
into an HTTP request (a header, the URL's query or path, the body) and the
host fills in the value on the request that leaves, only when it goes to an
origin in the secret's ``send_to``. A request that carries it anywhere else
is refused. The action never holds the value, so it cannot leak it.

A secret the action must compute with (an HMAC key) is declared with
``expose = true`` and read with :func:`get`; every read is an audit record
(the name, never the value).
"""

from __future__ import annotations

import re

from . import _host
from ._errors import AirlockError

_NAME = re.compile(r"[A-Z0-9_]{1,128}")

# The WIT variant `secrets.error`, by the class names componentize-py gives
# its cases, to the case names the WIT uses.
_REASONS = {
    "Error_NotDeclared": "not-declared",
    "Error_NotExposed": "not-exposed",
    "Error_NotGranted": "not-granted",
    "Error_Unavailable": "unavailable",
}


class SecretError(AirlockError):
    """Why :func:`get` returned no value. It never contains the value.

    ``name`` is the secret asked for; ``reason`` is the host's, as the WIT
    case name: ``"not-declared"``, ``"not-exposed"``, ``"not-granted"`` or
    ``"unavailable"``.
    """

    def __init__(self, name: str, reason: str, detail: str | None = None) -> None:
        self.name = name
        self.reason = reason
        super().__init__(_explain(name, reason, detail))


def _explain(name: str, reason: str, detail: str | None) -> str:
    if reason == "not-declared":
        return f"secret `{name}` is not declared: add it to [capabilities] secrets in action.toml"
    if reason == "not-exposed":
        return (
            f"secret `{name}` is not exposed: send it as {{{{secret:{name}}}}} "
            "or declare it with expose = true"
        )
    if reason == "not-granted":
        return f"secret `{name}` has no source in the operator's policy"
    return f"secret `{name}` is unavailable: {detail or 'the host gave no reason'}"


class Secret:
    """A declared secret, used without being read."""

    @staticmethod
    def placeholder(name: str) -> str:
        """The placeholder ``{{secret:NAME}}`` for the secret ``name``.

        ``name`` is the name declared in ``action.toml``: 1 to 128 of ``A-Z``,
        ``0-9`` and ``_``. Any other name raises :class:`ValueError` here,
        instead of leaving in a request as text the host does not fill in.

        >>> Secret.placeholder("NOTIFY_TOKEN")
        '{{secret:NOTIFY_TOKEN}}'
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a secret name: use 1 to 128 of A-Z, 0-9 and _, "
                'like "SLACK_WEBHOOK"'
            )
        return f"{{{{secret:{name}}}}}"


def get(name: str) -> str:
    """The plaintext of the secret ``name``.

    Works only for a secret declared in ``action.toml`` with
    ``expose = true`` and provided by the operator; otherwise raises
    :class:`SecretError`. Do not log, print or return the value.
    """
    wit = _host.imports("secrets", "secrets.get")
    Err = _host.err_type()
    try:
        return wit.get(name)
    except Err as e:
        reason = _REASONS.get(type(e.value).__name__, "unavailable")
        detail = getattr(e.value, "value", None)
        raise SecretError(name, reason, detail) from None
