"""The names the SDK calls exist in the bindings componentize-py generates.

The SDK is written against the modules componentize-py generates for
``sdk/wit``; this test generates them (the stubs of ``componentize-py
bindings``, which have the same names) and reads what they define. It is
skipped, and says so, where componentize-py is not installed.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from airlock_sdk import _host

WIT = Path(__file__).resolve().parents[2] / "sdk" / "wit"


def componentize_py():
    here = Path(sys.executable).parent / "componentize-py"
    return str(here) if here.exists() else shutil.which("componentize-py")


@pytest.fixture(scope="module")
def bindings(tmp_path_factory):
    tool = componentize_py()
    if tool is None:
        pytest.skip("componentize-py is not installed (scripts/setup.sh installs it into .venv)")
    out = tmp_path_factory.mktemp("bindings")
    subprocess.run(
        [tool, "-q", "-d", str(WIT), "-w", "airlock:action/action", "bindings", str(out)],
        check=True,
    )
    return out / "wit_world" / "imports"


def defined(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_interface_the_sdk_binds_is_generated(bindings):
    for name in _host._INTERFACES:
        assert (bindings / f"{name}.py").exists(), name


def test_the_names_the_sdk_calls_are_defined(bindings):
    wanted = {
        "config": {"get", "Error_NotDeclared"},
        "log": {"emit", "Level"},
        "secrets": {"get", "Error_NotDeclared", "Error_NotExposed", "Error_NotGranted", "Error_Unavailable"},
        "outgoing_handler": {"handle"},
        "wasi_http_types": {
            "Fields",
            "OutgoingRequest",
            "OutgoingBody",
            "Scheme_Http",
            "Scheme_Https",
            "Method_Get",
            "Method_Post",
            "Method_Other",
            "http_error_code",
        },
        "streams": {"StreamError_Closed", "StreamError_LastOperationFailed"},
    }
    for module, names in wanted.items():
        missing = names - defined(bindings / f"{module}.py")
        assert not missing, f"{module}: {missing}"
    levels = (bindings / "log.py").read_text()
    for level in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"):
        assert f"    {level} = " in levels
