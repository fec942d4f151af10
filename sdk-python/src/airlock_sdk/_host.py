"""The one door to the host: the bindings componentize-py generates.

``componentize-py`` generates the package ``wit_world`` for the
``airlock:action/action`` world when it builds the component, with one module
per imported interface under ``wit_world.imports``. The component has no
files at run time: a module is there only if it was imported while
componentize-py initialised the app, so every binding the SDK uses is
imported here, when the app imports the SDK. Outside a component there is
no ``wit_world`` and :func:`imports` raises
:class:`~airlock_sdk.NotInAirlock`.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from ._errors import NotInAirlock

# The generated modules the SDK calls, by componentize-py's names for them.
_INTERFACES = ("config", "log", "outgoing_handler", "secrets", "wasi_http_types")


def _bind() -> tuple[dict[str, ModuleType], type[Exception] | None]:
    # The platform is checked first so that stub bindings an author
    # generated for an editor (`componentize-py bindings`) are never bound.
    if sys.platform != "wasi":
        return {}, None
    try:
        modules = {
            name: importlib.import_module(f"wit_world.imports.{name}") for name in _INTERFACES
        }
        err = importlib.import_module("componentize_py_types").Err
    except ImportError:
        return {}, None
    return modules, err


_MODULES, _ERR = _bind()


def imports(interface: str, what: str) -> ModuleType:
    """The generated module ``wit_world.imports.<interface>``.

    ``what`` names the SDK call for the :class:`NotInAirlock` message.
    """
    try:
        return _MODULES[interface]
    except KeyError:
        raise NotInAirlock(what) from None


def err_type() -> type[Exception]:
    """``componentize_py_types.Err``: how the generated bindings raise a
    WIT ``result``'s error, and how an export returns one."""
    if _ERR is None:
        raise NotInAirlock("returning an error value to the host")
    return _ERR
