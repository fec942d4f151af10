"""HTTP requests, over the standard ``wasi:http`` interface.

A small blocking client in the shape of ``requests``::

    from airlock_sdk import Secret, http

    response = http.post(
        "https://api.example.com/v1/messages",
        json={"text": "deployed"},
        headers={"authorization": f"Bearer {Secret.placeholder('API_TOKEN')}"},
    )
    response.raise_for_status()
    return response.json()

Every request passes the host's network check: the origin must be declared
in the manifest's ``network``, the name must not resolve to a private
address, and a placeholder is filled in only for its secret's audience. A
refusal raises :class:`HttpError` of kind ``"denied"`` whose ``code`` is the
``wasi:http`` error code (``HTTP-request-denied``, …); the operator sees
why in the run's refusals and the audit log. The host follows no redirects:
a ``3xx`` is a response like any other. The response body is read whole,
up to ``max_response_bytes`` (1 MiB unless given) and the host's
``http_response_body`` limit.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterator, Mapping
from dataclasses import fields as _dataclass_fields, is_dataclass
from typing import Any, Union

from . import _host
from ._errors import AirlockError

DEFAULT_MAX_RESPONSE = 1 << 20
"""How many response body bytes a request reads unless given
``max_response_bytes``."""

_WRITE_CHUNK = 4096
_READ_CHUNK = 64 * 1024
_NO_JSON = object()

HeadersArg = Union[Mapping[str, Union[str, bytes]], "list[tuple[str, Union[str, bytes]]]", None]


class HttpError(AirlockError):
    """Why a request did not give the response wanted.

    ``kind`` says what failed:

    - ``"request"``: the request could not be built (a bad URL or header);
    - ``"denied"``: the host refused it (an undeclared origin, a private
      address, a secret outside its audience, a limit reached);
    - ``"network"``: it was allowed but failed (DNS, connect, TLS, HTTP);
    - ``"too-large"``: the response body is over the action's or the host's limit;
    - ``"body"``: the body is not what was asked for (not JSON);
    - ``"status"``: :meth:`Response.raise_for_status` found a 4xx or 5xx.

    ``code`` is the ``wasi:http`` error code when the host gave one
    (``"HTTP-request-denied"``), ``status`` and ``response`` are set for a
    ``"status"`` or ``"body"`` error.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        code: str | None = None,
        response: Response | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.response = response
        self.status = response.status if response is not None else None


class Headers(Mapping[str, str]):
    """Response headers: names in any case; a repeated header's values
    joined with ``", "`` (all of them, apart, with :meth:`get_all`)."""

    def __init__(self, entries: list[tuple[str, bytes]]) -> None:
        self._entries = [(name.lower(), value.decode("latin-1")) for name, value in entries]

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in the order received."""
        name = name.lower()
        return [value for n, value in self._entries if n == name]

    def __getitem__(self, name: str) -> str:
        values = self.get_all(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._entries))

    def __len__(self) -> int:
        return len(dict.fromkeys(name for name, _ in self._entries))

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


class Response:
    """A response, read whole."""

    def __init__(self, method: str, url: str, status: int, headers: Headers, content: bytes) -> None:
        self.method = method
        """The request's method."""
        self.url = url
        """The request's URL, as the action wrote it (placeholders unfilled)."""
        self.status = status
        """The status code."""
        self.headers = headers
        """The :class:`Headers`."""
        self.content = content
        """The body, as bytes."""

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status < 400

    @property
    def text(self) -> str:
        """The body decoded with the ``content-type``'s charset (UTF-8 if it
        names none, or one this Python does not have); bytes that do not
        decode become U+FFFD."""
        charset = _charset(self.headers.get("content-type", ""))
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body decoded from JSON; :class:`HttpError` of kind ``"body"``
        if it is not JSON."""
        try:
            return _json.loads(self.content)
        except (ValueError, RecursionError) as e:
            raise HttpError(
                "body", f"the response to {self.method} {self.url} is not JSON: {e}", response=self
            ) from None

    def raise_for_status(self) -> None:
        """Raise :class:`HttpError` of kind ``"status"`` for a 4xx or 5xx."""
        if not self.ok:
            raise HttpError(
                "status", f"{self.method} {self.url} answered {self.status}", response=self
            )

    def __repr__(self) -> str:
        return f"<Response [{self.status}]>"


def get(url: str, *, headers: HeadersArg = None, max_response_bytes: int = DEFAULT_MAX_RESPONSE) -> Response:
    """``GET url``. See :func:`request`."""
    return request("GET", url, headers=headers, max_response_bytes=max_response_bytes)


def post(
    url: str,
    *,
    json: Any = _NO_JSON,
    data: bytes | str | None = None,
    headers: HeadersArg = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE,
) -> Response:
    """``POST url`` with a JSON or raw body. See :func:`request`."""
    return request(
        "POST", url, json=json, data=data, headers=headers, max_response_bytes=max_response_bytes
    )


def request(
    method: str,
    url: str,
    *,
    json: Any = _NO_JSON,
    data: bytes | str | None = None,
    headers: HeadersArg = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE,
) -> Response:
    """Send a request and read the whole response.

    ``url`` is ``http://`` or ``https://``, a host, an optional port, path
    and query (a ``#fragment`` is dropped). ``json`` is any value to send
    as JSON (with ``content-type: application/json`` unless ``headers``
    sets one); ``data`` is a raw body, bytes or text (sent as UTF-8). Header
    values, the URL's path and query and the body may hold
    :meth:`Secret.placeholder <airlock_sdk.Secret.placeholder>` text.

    A status of 4xx or 5xx is a response, not an error: check it with
    :meth:`Response.raise_for_status`. Raises :class:`HttpError` when there
    is no response, :class:`~airlock_sdk.NotInAirlock` outside a run.
    """
    method = method.upper()
    scheme, authority, path = split_url(url)
    items = header_items(headers)
    body, content_type = encode_body(json, data)
    if content_type and not any(name == "content-type" for name, _ in items):
        items.append(("content-type", content_type.encode()))
    return _send(method, url, scheme, authority, path, items, body, max_response_bytes)


def split_url(url: str) -> tuple[str, str, str]:
    """``scheme://authority/path?query#fragment`` → ``(scheme, authority,
    path_with_query)``, the scheme lowercased, the path ``/`` if empty.

    Raises :class:`HttpError` of kind ``"request"`` for anything but an
    ``http`` or ``https`` URL with a host.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    rest = rest.split("#", 1)[0]
    end = len(rest)
    for stop in "/?":
        at = rest.find(stop)
        if at != -1:
            end = min(end, at)
    authority, path = rest[:end], rest[end:] or "/"
    if not sep or scheme not in ("http", "https") or not authority:
        raise HttpError("request", f"{url!r} is not an http:// or https:// URL")
    return scheme, authority, path


def header_items(headers: HeadersArg) -> list[tuple[str, bytes]]:
    """Headers as ``wasi:http`` takes them: lowercased names, byte values
    (text is sent as UTF-8)."""
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    items = []
    for name, value in pairs:
        if isinstance(value, str):
            value = value.encode()
        elif not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"header {name!r}: a value is str or bytes, not {type(value).__name__}")
        items.append((str(name).lower(), bytes(value)))
    return items


def encode_body(json: Any, data: bytes | str | None) -> tuple[bytes, str | None]:
    """The body's bytes and, for ``json``, its content type."""
    if json is not _NO_JSON:
        if data is not None:
            raise TypeError("give a request json= or data=, not both")
        try:
            text = _json.dumps(json, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise TypeError(f"cannot encode the JSON body: {e}") from None
        return text.encode(), "application/json"
    if data is None:
        return b"", None
    if isinstance(data, str):
        return data.encode(), None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data), None
    raise TypeError(
        f"data= is bytes or str, not {type(data).__name__} (send JSON with json=)"
    )


_ACRONYMS = {"Dns": "DNS", "Http": "HTTP", "Tls": "TLS", "Ip": "IP", "Uri": "URI"}


def code_name(class_name: str) -> str:
    """The WIT name of a variant case from the class componentize-py
    generates for it: ``ErrorCode_HttpRequestUriInvalid`` →
    ``HTTP-request-URI-invalid``, ``HeaderError_InvalidSyntax`` →
    ``invalid-syntax``."""
    words = re.findall(r"[A-Z][a-z0-9]*", class_name.rpartition("_")[2])
    return "-".join(_ACRONYMS.get(word, word.lower()) for word in words)


def error_from_code(code: str, detail: Any = None) -> HttpError:
    """The :class:`HttpError` for the ``wasi:http`` error code ``code``
    (its WIT name) with the case's payload ``detail``."""
    if code == "HTTP-request-denied":
        why = "its destination or content is not allowed (the run's refusals say why)"
    elif code == "destination-IP-prohibited":
        why = "its host resolves to an address actions may not reach"
    elif code == "connection-limit-reached":
        why = "the run's http_requests limit is reached"
    elif code == "HTTP-request-body-size":
        why = f"the body is larger than the http_request_body limit ({detail or 0} bytes)"
    elif code == "HTTP-response-body-size":
        return HttpError(
            "too-large", "the response body is larger than the http_response_body limit", code=code
        )
    else:
        shown = _payload(detail)
        return HttpError("network", f"the request failed: {code}{shown}", code=code)
    return HttpError("denied", f"the host refused the request ({code}): {why}", code=code)


def _payload(detail: Any) -> str:
    if detail is None:
        return ""
    if is_dataclass(detail):
        parts = [
            f"{f.name}={getattr(detail, f.name)!r}"
            for f in _dataclass_fields(detail)
            if getattr(detail, f.name) is not None
        ]
        return f" ({', '.join(parts)})" if parts else ""
    return f" ({detail})"


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def _code_error(code: Any) -> HttpError:
    return error_from_code(code_name(type(code).__name__), getattr(code, "value", None))


def _send(
    method: str,
    url: str,
    scheme: str,
    authority: str,
    path: str,
    items: list[tuple[str, bytes]],
    body: bytes,
    limit: int,
) -> Response:
    types = _host.imports("wasi_http_types", "http.request")
    handler = _host.imports("outgoing_handler", "http.request")
    Err = _host.err_type()

    try:
        headers = types.Fields.from_list(items)
    except Err as e:
        raise HttpError(
            "request",
            f"the headers of {method} {url} are refused ({code_name(type(e.value).__name__)})",
        ) from None
    request = types.OutgoingRequest(headers)
    parts = (
        (request.set_method, _method(types, method), "method"),
        (request.set_scheme, types.Scheme_Https() if scheme == "https" else types.Scheme_Http(), "scheme"),
        (request.set_authority, authority, "host"),
        (request.set_path_with_query, path, "path"),
    )
    for setter, value, what in parts:
        try:
            setter(value)
        except Err:
            raise HttpError("request", f"invalid {what} in {url!r}") from None
    outgoing = request.body()

    # Hand the request over first, then write the body: the host reads it
    # while it checks the request.
    try:
        future = handler.handle(request, None)
    except Err as e:
        raise _code_error(e.value) from None
    with future:
        written = _write_body(types, Err, outgoing, body)
        with future.subscribe() as ready:
            ready.block()
        # some(ok(ok(response))), some(ok(err(code))); none or some(err) only
        # if the future was not ready or already taken.
        outcome = future.get()
        if outcome is None or isinstance(outcome, Err):
            raise HttpError("network", f"{method} {url}: no response")
        if isinstance(outcome.value, Err):
            raise _code_error(outcome.value.value)
        if written is not None:
            raise written
        return _read(types, Err, method, url, outcome.value.value, limit)


def _method(types: Any, method: str) -> Any:
    known = {
        "GET": "Method_Get",
        "HEAD": "Method_Head",
        "POST": "Method_Post",
        "PUT": "Method_Put",
        "DELETE": "Method_Delete",
        "OPTIONS": "Method_Options",
        "PATCH": "Method_Patch",
    }
    if method in known:
        return getattr(types, known[method])()
    return types.Method_Other(method)


def _write_body(types: Any, Err: type, outgoing: Any, body: bytes) -> HttpError | None:
    """Write and finish the body; the error, if any, to raise once the
    response says whether the host refused the request."""
    try:
        stream = outgoing.write()
    except Err:
        return HttpError("network", "sending the body: the body has no stream")
    try:
        with stream:
            for at in range(0, len(body), _WRITE_CHUNK):
                stream.blocking_write_and_flush(body[at : at + _WRITE_CHUNK])
    except Err as e:
        return _stream_failure(types, e.value, "sending the body")
    try:
        types.OutgoingBody.finish(outgoing, None)
    except Err as e:
        return _code_error(e.value)
    return None


def _read(types: Any, Err: type, method: str, url: str, response: Any, limit: int) -> Response:
    with response:
        status = response.status()
        with response.headers() as fields:
            entries = fields.entries()
        try:
            incoming = response.consume()
        except Err:
            raise HttpError("network", f"{method} {url}: the response has no body") from None
        with incoming:
            content = _read_body(types, Err, incoming, limit)
    return Response(method, url, status, Headers(entries), content)


def _read_body(types: Any, Err: type, incoming: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with incoming.stream() as stream:
        while True:
            try:
                chunk = stream.blocking_read(_READ_CHUNK)
            except Err as e:
                if type(e.value).__name__ == "StreamError_Closed":
                    break
                raise _stream_failure(types, e.value, "reading the response") from None
            size += len(chunk)
            if size > limit:
                raise HttpError(
                    "too-large",
                    f"the response body is larger than {limit} bytes (max_response_bytes)",
                )
            chunks.append(chunk)
    return b"".join(chunks)


def _stream_failure(types: Any, error: Any, doing: str) -> HttpError:
    """The :class:`HttpError` for a ``wasi:io`` stream error: the
    ``wasi:http`` error code behind it when there is one."""
    if type(error).__name__ == "StreamError_Closed":
        return HttpError("network", f"{doing}: the stream is closed")
    code = types.http_error_code(error.value)
    if code is not None:
        return _code_error(code)
    return HttpError("network", f"{doing}: {error.value.to_debug_string()}")
