"""Log lines for the operator, recorded in the run's audit log.

The host cuts long lines and redacts the values of the action's secrets it
knows before it stores anything; still, never log a secret. What the action
prints to stdout or stderr is captured and recorded too, but these calls
keep their level.
"""

from __future__ import annotations

from . import _host


def trace(message: str) -> None:
    """Log ``message`` at ``trace`` level."""
    _emit("TRACE", message)


def debug(message: str) -> None:
    """Log ``message`` at ``debug`` level."""
    _emit("DEBUG", message)


def info(message: str) -> None:
    """Log ``message`` at ``info`` level."""
    _emit("INFO", message)


def warn(message: str) -> None:
    """Log ``message`` at ``warn`` level."""
    _emit("WARN", message)


def error(message: str) -> None:
    """Log ``message`` at ``error`` level."""
    _emit("ERROR", message)


def _emit(level: str, message: str) -> None:
    wit = _host.imports("log", f"log.{level.lower()}")
    wit.emit(wit.Level[level], str(message))
