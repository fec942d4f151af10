"""Write airlock actions in Python.

An *action* is one step of a workflow, compiled to a WebAssembly component
that an airlock host runs with only the capabilities its operator approved.
This package is what the action's code uses: the entry point
(:func:`action`), an HTTP client (:mod:`airlock_sdk.http`), secrets
(:class:`Secret`, :mod:`airlock_sdk.secrets`), configuration
(:mod:`airlock_sdk.config`) and log lines (:mod:`airlock_sdk.log`).

A complete action, ``app.py``::

    from airlock_sdk import ActionError, action, config, log

    def run(input):
        name = input.get("name")
        if not isinstance(name, str):
            raise ActionError("input.name must be a string")
        greeting = config.get("greeting") or "Hello"
        log.info(f"greeting {name}")
        return {"message": f"{greeting}, {name}!"}

    WitWorld = action(run)

Build it with componentize-py against the world in airlock's ``sdk/wit``,
then embed the manifest with ``airlock pack``::

    componentize-py -d sdk/wit -w airlock:action/action componentize app \\
        -p . -p sdk-python/src -o app.raw.wasm
    airlock pack app.raw.wasm --manifest action.toml -o app.wasm

``run`` takes the decoded JSON input and returns any value :mod:`json`
encodes. Raising :class:`ActionError` fails the action with its message;
any other exception fails it as ``TypeName: message``.

Outside a run, in an author's tests for instance, the package imports and
its pure parts work; every call to the host (HTTP, secrets, config, log)
raises :class:`NotInAirlock`.
"""

from . import config, http, log, secrets
from ._entry import action, dispatch
from ._errors import ActionError, AirlockError, NotInAirlock
from .config import ConfigError
from .http import HttpError
from .secrets import Secret, SecretError

__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "AirlockError",
    "ConfigError",
    "HttpError",
    "NotInAirlock",
    "Secret",
    "SecretError",
    "action",
    "config",
    "dispatch",
    "http",
    "log",
    "secrets",
]
