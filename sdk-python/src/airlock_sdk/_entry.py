"""The entry point: a Python function becomes the component's ``run`` export.

The world exports ``run: func(input: string) -> result<string, string>``:
JSON text in, JSON text or an error message out. :func:`action` wraps a
function of the decoded input into the class componentize-py exports, and
:func:`dispatch` is the same wrapping without the component, for tests.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from . import _host
from ._errors import ActionError, NotInAirlock

Action = Callable[[Any], Any]


def dispatch(fn: Action, input: str) -> str:
    """Decode ``input`` as JSON, call ``fn`` with it and encode its result.

    Every failure is an :class:`ActionError` whose message is the text the
    operator sees: input that is not JSON (``fn`` is not called), an
    :class:`ActionError` ``fn`` raises (its message as it is), any other
    exception (``TypeName: message``), and a result that JSON cannot encode.
    ``NaN`` and the infinities are refused both ways: they are not JSON.
    """
    try:
        value = json.loads(input, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as e:
        raise ActionError(f"invalid input: {e}") from None
    try:
        output = fn(value)
    except ActionError:
        raise
    except Exception as e:
        raise ActionError(_describe(e)) from None
    except SystemExit as e:
        raise ActionError(f"the action called sys.exit({e.code!r})") from None
    try:
        return json.dumps(output, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise ActionError(f"cannot encode output: {e}") from None


def action(fn: Action) -> type:
    """Make ``fn`` the component's ``run`` export.

    ``fn`` takes the decoded JSON input (a ``dict``, ``list``, ``str``, …)
    and returns any value :mod:`json` can encode. componentize-py exports
    the class named ``WitWorld`` in the app module, so the app ends with::

        WitWorld = action(run)

    ``run`` stays a plain function for tests. Outside a component,
    ``WitWorld().run(text)`` returns the JSON output or raises the
    :class:`ActionError` that would have been the ``err`` value.
    """
    if not callable(fn):
        raise TypeError(f"action() takes the action's function, not {type(fn).__name__}")

    class WitWorld:
        """The ``airlock:action/action`` world's export, made by ``airlock_sdk.action``."""

        def run(self, input: str) -> str:
            try:
                return dispatch(fn, input)
            except ActionError as failure:
                raise _as_err(failure) from None

    WitWorld.__doc__ = f"The ``run`` export of the action {getattr(fn, '__qualname__', fn)!r}."
    return WitWorld


def _as_err(failure: ActionError) -> Exception:
    """Inside a component, the WIT ``err`` value carrying the message;
    elsewhere, the :class:`ActionError` itself."""
    try:
        return _host.err_type()(str(failure))
    except NotInAirlock:
        return failure


def _describe(e: BaseException) -> str:
    message = str(e)
    name = type(e).__name__
    return f"{name}: {message}" if message else name


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
