"""The SDK's exceptions. Every one of them derives from :class:`AirlockError`."""

from __future__ import annotations


class AirlockError(Exception):
    """The base of every exception this SDK raises."""


class NotInAirlock(AirlockError):
    """A host call (HTTP, secrets, config, log) made outside an airlock run.

    The host's interfaces exist only inside the component an airlock host
    runs. In plain CPython, an author's tests for instance, every host call
    raises this instead; code that does not call the host runs as usual.
    """

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} works only inside an airlock run: build the action with "
            "componentize-py and run it with `airlock run` (in tests, call the "
            "pure parts of the action, or replace the host call with a fake)"
        )


class ActionError(AirlockError):
    """Raise this to fail the action with a message for the operator.

    The message becomes the ``err`` value of the component's ``run`` export,
    as it is, and the operator sees it as the action's error. Any other
    exception fails the action too, as ``TypeName: message``.
    """
