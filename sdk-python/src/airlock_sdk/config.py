"""Configuration that is not secret: the keys declared under ``[config]``.

The manifest declares each key with its type and, optionally, a default::

    [config.channel]
    type = "string"
    default = "general"
    description = "The channel to post to"

The operator sets values for the action under ``[actions.NAME.config]`` in
the policy; the host gives that value or the manifest's default, and records
every value of a run in its audit log. Read a key with the getter of its
declared type: :func:`get` for a ``string``, :func:`get_int` for an
``integer``, :func:`get_bool` for a ``boolean``. A key the manifest does not
declare raises :class:`ConfigError`.
"""

from __future__ import annotations

import re
from typing import TypeVar

from . import _host
from ._errors import AirlockError

T = TypeVar("T")

_INTEGER = re.compile(r"-?[0-9]+")


class ConfigError(AirlockError):
    """A key that is not declared, or a value that is not of the type asked for.

    ``name`` is the key.
    """

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(message)


def get(name: str, default: str | None = None) -> str | None:
    """The value of the declared key ``name`` as text.

    ``default`` when neither the operator's policy nor the manifest gives
    one (the manifest's ``default`` is the place for a default; this one is
    for keys that are optional by design).
    """
    value = _lookup(name, "config.get")
    return default if value is None else value


def get_int(name: str, default: int | None = None) -> int | None:
    """The value of the declared ``integer`` key ``name``.

    Raises :class:`ConfigError` when the value is not a decimal integer.
    """
    return _typed(name, _lookup(name, "config.get_int"), parse_int, default)


def get_bool(name: str, default: bool | None = None) -> bool | None:
    """The value of the declared ``boolean`` key ``name``.

    Raises :class:`ConfigError` when the value is not ``true`` or ``false``.
    """
    return _typed(name, _lookup(name, "config.get_bool"), parse_bool, default)


def parse_int(text: str) -> int:
    """An integer in the host's text form: decimal digits, an optional ``-``.

    Raises :class:`ValueError` for anything else (``"+1"``, ``" 1"``,
    ``"1_000"`` and ``"0x10"`` included, which :func:`int` would take).
    """
    if not _INTEGER.fullmatch(text):
        raise ValueError("not an integer")
    return int(text)


def parse_bool(text: str) -> bool:
    """A boolean in the host's text form: ``true`` or ``false``.

    Raises :class:`ValueError` for anything else.
    """
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError("not true or false")


def _lookup(name: str, what: str) -> str | None:
    wit = _host.imports("config", what)
    Err = _host.err_type()
    try:
        return wit.get(name)
    except Err:
        # `not-declared` is the interface's one error.
        raise ConfigError(
            name,
            f"config `{name}` is not declared: add [config.{name}] to action.toml",
        ) from None


def _typed(name: str, text: str | None, parse, default: T | None) -> T | None:
    if text is None:
        return default
    try:
        return parse(text)
    except ValueError as e:
        raise ConfigError(name, f"config `{name}` is {text!r}: {e}") from None
