"""Configuration values in the host's text form, parsed by type."""

import pytest

from airlock_sdk import ConfigError, config
from airlock_sdk.config import parse_bool, parse_int


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("42", 42), ("-7", -7), ("9223372036854775807", 2**63 - 1), ("007", 7)],
)
def test_integers_in_decimal(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["", "+1", " 1", "1 ", "1_000", "0x10", "1.0", "1e3", "--1", "٣"])
def test_anything_else_is_not_an_integer(text):
    with pytest.raises(ValueError, match="not an integer"):
        parse_int(text)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_booleans_are_true_or_false(text, value):
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "True", "FALSE", "1", "0", "yes", "true "])
def test_anything_else_is_not_a_boolean(text):
    with pytest.raises(ValueError, match="not true or false"):
        parse_bool(text)


def test_typed_getters_parse_what_the_host_gives(monkeypatch):
    values = {"retries": "3", "dry_run": "false", "channel": "ops", "unset": None}
    monkeypatch.setattr(config, "_lookup", lambda name, what: values[name])
    assert config.get_int("retries") == 3
    assert config.get_bool("dry_run") is False
    assert config.get_int("unset") is None
    assert config.get_int("unset", 5) == 5
    assert config.get_bool("unset", True) is True
    with pytest.raises(ConfigError) as error:
        config.get_int("channel")
    assert str(error.value) == "config `channel` is 'ops': not an integer"
    assert error.value.name == "channel"
