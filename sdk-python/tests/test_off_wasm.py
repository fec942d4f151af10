"""Outside a component every host call raises NotInAirlock, and nothing else breaks."""

import pytest

from airlock_sdk import AirlockError, NotInAirlock, config, http, log, secrets

HOST_CALLS = {
    "log.trace": lambda: log.trace("x"),
    "log.debug": lambda: log.debug("x"),
    "log.info": lambda: log.info("x"),
    "log.warn": lambda: log.warn("x"),
    "log.error": lambda: log.error("x"),
    "secrets.get": lambda: secrets.get("TOKEN"),
    "config.get": lambda: config.get("channel"),
    "config.get_int": lambda: config.get_int("retries"),
    "config.get_bool": lambda: config.get_bool("dry_run"),
    "http.get": lambda: http.get("https://api.example.com/"),
    "http.post": lambda: http.post("https://api.example.com/", json={"a": 1}),
    "http.request": lambda: http.request("DELETE", "https://api.example.com/x"),
}


@pytest.mark.parametrize(("what", "call"), HOST_CALLS.items(), ids=HOST_CALLS.keys())
def test_a_host_call_raises_not_in_airlock(what, call):
    with pytest.raises(NotInAirlock) as error:
        call()
    assert isinstance(error.value, AirlockError)
    # The HTTP helpers all go through http.request.
    named = "http.request" if what.startswith("http.") else what
    assert str(error.value).startswith(f"{named} works only inside an airlock run")


def test_a_bad_url_is_refused_before_the_host_is_needed():
    with pytest.raises(http.HttpError) as error:
        http.get("ftp://example.com/")
    assert error.value.kind == "request"
