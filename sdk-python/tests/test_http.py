"""The HTTP client's pure parts: URLs, headers, bodies, error codes, responses."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from airlock_sdk.http import (
    Headers,
    HttpError,
    Response,
    code_name,
    encode_body,
    error_from_code,
    header_items,
    split_url,
)

WIT_HTTP = Path(__file__).resolve().parents[2] / "sdk" / "wit" / "deps" / "http.wit"


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("https://hooks.example.com/services/x?y=1#frag", ("https", "hooks.example.com", "/services/x?y=1")),
        ("HTTP://127.0.0.1:8080", ("http", "127.0.0.1:8080", "/")),
        ("http://h?q", ("http", "h", "?q")),
        ("http://notify.test/v1/{{secret:TOKEN}}?k={{secret:KEY}}", ("http", "notify.test", "/v1/{{secret:TOKEN}}?k={{secret:KEY}}")),
    ],
)
def test_urls_split_into_parts(url, parts):
    assert split_url(url) == parts


@pytest.mark.parametrize("url", ["hooks.example.com/x", "ftp://x", "https:///path", "https://", "", "file:///etc/passwd"])
def test_other_urls_are_refused(url):
    with pytest.raises(HttpError) as error:
        split_url(url)
    assert error.value.kind == "request"


def test_headers_are_lowercased_bytes():
    assert header_items({"Authorization": "Bearer {{secret:T}}", "X-Raw": b"\x01"}) == [
        ("authorization", b"Bearer {{secret:T}}"),
        ("x-raw", b"\x01"),
    ]
    assert header_items([("A", "1"), ("a", "2")]) == [("a", b"1"), ("a", b"2")]
    assert header_items(None) == []
    with pytest.raises(TypeError, match="str or bytes"):
        header_items({"x-n": 1})


def test_bodies_are_json_or_raw():
    assert encode_body({"text": "é", "n": 1}, None) == ('{"text":"é","n":1}'.encode(), "application/json")
    assert encode_body(None, None) == (b"null", "application/json")
    from airlock_sdk.http import _NO_JSON

    assert encode_body(_NO_JSON, None) == (b"", None)
    assert encode_body(_NO_JSON, "text") == (b"text", None)
    assert encode_body(_NO_JSON, b"\x00") == (b"\x00", None)
    with pytest.raises(TypeError, match="not both"):
        encode_body({}, "x")
    with pytest.raises(TypeError, match="send JSON with json="):
        encode_body(_NO_JSON, {"a": 1})
    with pytest.raises(TypeError, match="cannot encode the JSON body"):
        encode_body(float("nan"), None)


def wit_error_codes():
    """The case names of `wasi:http/types.error-code`, read from the WIT."""
    text = WIT_HTTP.read_text()
    body = re.search(r"variant error-code \{(.*?)\n  \}", text, re.S)
    assert body, f"no error-code variant in {WIT_HTTP}"
    return re.findall(r"^\s+([A-Za-z-]+)(?:\(|,)", body.group(1), re.M)


def test_every_wit_error_code_round_trips_through_the_generated_class_name():
    codes = wit_error_codes()
    assert "HTTP-request-denied" in codes and len(codes) >= 39
    for code in codes:
        # componentize-py's class name: each kebab word capitalised.
        generated = "ErrorCode_" + "".join(word.capitalize() for word in code.split("-"))
        assert code_name(generated) == code


@pytest.mark.parametrize(
    ("code", "detail", "kind", "says"),
    [
        ("HTTP-request-denied", None, "denied", "the host refused the request (HTTP-request-denied)"),
        ("destination-IP-prohibited", None, "denied", "an address actions may not reach"),
        ("connection-limit-reached", None, "denied", "http_requests limit"),
        ("HTTP-request-body-size", 1024, "denied", "http_request_body limit (1024 bytes)"),
        ("HTTP-response-body-size", 10, "too-large", "http_response_body limit"),
        ("connection-refused", None, "network", "the request failed: connection-refused"),
        ("internal-error", "boom", "network", "internal-error (boom)"),
    ],
)
def test_error_codes_become_typed_errors(code, detail, kind, says):
    error = error_from_code(code, detail)
    assert (error.kind, error.code) == (kind, code)
    assert says in str(error)


def test_a_payload_record_is_shown_without_empty_fields():
    @dataclass
    class DnsErrorPayload:
        rcode: object
        info_code: object

    assert str(error_from_code("DNS-error", DnsErrorPayload("NXDOMAIN", None))).endswith(
        "DNS-error (rcode='NXDOMAIN')"
    )


def response(status=200, headers=(), content=b""):
    return Response("POST", "http://notify.test/v1", status, Headers(list(headers)), content)


def test_headers_are_case_insensitive_and_keep_repeats():
    headers = Headers([("Content-Type", b"text/plain"), ("set-cookie", b"a=1"), ("Set-Cookie", b"b=2")])
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "text/plain"
    assert headers["set-cookie"] == "a=1, b=2"
    assert headers.get_all("SET-COOKIE") == ["a=1", "b=2"]
    assert list(headers) == ["content-type", "set-cookie"] and len(headers) == 2
    assert headers.get("missing") is None


def test_response_text_follows_the_charset():
    assert response(headers=[("content-type", b"text/plain; charset=iso-8859-1")], content=b"caf\xe9").text == "café"
    assert response(content="café".encode()).text == "café"
    assert response(headers=[("content-type", b"text/plain; charset=no-such")], content=b"ok").text == "ok"
    assert response(content=b"\xff").text == "\ufffd"


def test_response_json_and_status():
    ok = response(201, content=b'{"id": 7}')
    assert ok.ok and ok.json() == {"id": 7}
    ok.raise_for_status()
    assert response(302).ok

    with pytest.raises(HttpError) as error:
        response(content=b"<html>").json()
    assert (error.value.kind, error.value.status) == ("body", 200)

    for status in (400, 404, 500, 503):
        with pytest.raises(HttpError) as error:
            response(status).raise_for_status()
        assert (error.value.kind, error.value.status) == ("status", status)
        assert str(error.value) == f"POST http://notify.test/v1 answered {status}"
