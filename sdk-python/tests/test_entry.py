"""The entry point: JSON in, a Python value to the action, JSON out."""

import sys

import pytest

from airlock_sdk import ActionError, action, dispatch


def double(value):
    if value["n"] > 100:
        raise ActionError(f"{value['n']} is too large")
    return {"double": value["n"] * 2}


@pytest.mark.parametrize(
    ("input", "output"),
    [
        ('{"n": 21}', '{"double": 42}'),
        ('{"n": 0.5}', '{"double": 1.0}'),
    ],
)
def test_dispatch_decodes_calls_and_encodes(input, output):
    assert dispatch(double, input) == output


@pytest.mark.parametrize(
    ("fn", "input", "message"),
    [
        (double, '{"n": 101}', "101 is too large"),
        (double, '{"m": 1}', "KeyError: 'n'"),
        (double, "not json", "invalid input: Expecting value: line 1 column 1 (char 0)"),
        (double, '{"n": NaN}', "invalid input: NaN is not JSON"),
        (double, "[" * 100_000, "invalid input: maximum recursion depth exceeded"),
        (lambda v: 1 / 0, "null", "ZeroDivisionError: division by zero"),
        (lambda v: {1, 2}, "null", "cannot encode output: Object of type set is not JSON serializable"),
        (lambda v: float("inf"), "null", "cannot encode output: Out of range float values are not JSON compliant"),
        (lambda v: sys.exit(3), "null", "the action called sys.exit(3)"),
    ],
)
def test_every_failure_is_an_action_error_with_the_operators_message(fn, input, message):
    with pytest.raises(ActionError) as failure:
        dispatch(fn, input)
    assert str(failure.value).startswith(message)


def test_an_exception_without_a_message_is_its_type():
    def fail(value):
        raise LookupError

    with pytest.raises(ActionError, match="^LookupError$"):
        dispatch(fail, "{}")


def test_output_keeps_unicode_and_none_is_null():
    assert dispatch(lambda v: {"text": "héllo"}, "{}") == '{"text": "héllo"}'
    assert dispatch(lambda v: None, "{}") == "null"


def test_action_exports_a_class_whose_run_works_off_wasm():
    WitWorld = action(double)
    assert WitWorld().run('{"n": 2}') == '{"double": 4}'
    # Off wasm the `err` value is raised as the ActionError it came from.
    with pytest.raises(ActionError, match="^101 is too large$"):
        WitWorld().run('{"n": 101}')


def test_action_takes_a_function():
    with pytest.raises(TypeError, match="takes the action's function"):
        action("run")
