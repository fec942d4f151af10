"""Placeholders and secret errors."""

import pytest

from airlock_sdk import Secret, SecretError
from airlock_sdk.secrets import _explain


@pytest.mark.parametrize("name", ["NOTIFY_TOKEN", "A", "GH_TOKEN_2", "_", "X" * 128])
def test_a_valid_name_gives_its_placeholder(name):
    assert Secret.placeholder(name) == "{{secret:" + name + "}}"


@pytest.mark.parametrize(
    "name",
    ["", "lower", "Mixed", "WITH-DASH", "WITH SPACE", "A}}B", "X" * 129, "TOKEN\n", None, 7],
)
def test_any_other_name_is_refused_before_a_request_carries_it(name):
    with pytest.raises(ValueError, match="is not a secret name"):
        Secret.placeholder(name)


@pytest.mark.parametrize(
    ("reason", "detail", "says"),
    [
        ("not-declared", None, "add it to [capabilities] secrets in action.toml"),
        ("not-exposed", None, "send it as {{secret:API_KEY}} or declare it with expose = true"),
        ("not-granted", None, "has no source in the operator's policy"),
        ("unavailable", "vault is down", "is unavailable: vault is down"),
    ],
)
def test_a_secret_error_says_what_to_do_and_keeps_the_reason(reason, detail, says):
    error = SecretError("API_KEY", reason, detail)
    assert says in str(error)
    assert (error.name, error.reason) == ("API_KEY", reason)
    assert _explain("API_KEY", reason, detail) == str(error)
