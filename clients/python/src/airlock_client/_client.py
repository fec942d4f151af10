"""The synchronous and asyncio clients."""

from __future__ import annotations

import ssl
from typing import Any, Optional, Union

import httpx

from ._types import BY_STATUS, Outcome, Problem, RequestRejected, ServerBusy

_DEFAULT_TIMEOUT = 120.0


def _tls(ca: Optional[str], cert: Optional[str], key: Optional[str]) -> Union[ssl.SSLContext, bool]:
    if ca is None and cert is None:
        return True
    context = ssl.create_default_context(cafile=ca)
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context


def _headers(token: Optional[str]) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _invoke_body(input: Any, timeout: Optional[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"input": input}
    if timeout is not None:
        body["timeout"] = timeout
    return body


def _outcome(response: httpx.Response) -> Outcome:
    """The outcome in ``response``, or the exception for it."""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        _raise_problem(response)
    try:
        doc = response.json()
    except ValueError:
        raise RequestRejected(
            Problem(response.status_code, "bad_response", response.text[:200])
        ) from None
    outcome = Outcome.from_json(doc)
    if outcome.status == "ok":
        return outcome
    error = BY_STATUS.get(outcome.status, RequestRejected)
    if error is RequestRejected:
        raise RequestRejected(
            Problem(response.status_code, outcome.code or "unknown", outcome.message or "")
        )
    raise error(outcome.code or "unknown", outcome.message or "", outcome)


def _raise_problem(response: httpx.Response) -> None:
    try:
        doc = response.json()
    except ValueError:
        doc = {}
    problem = Problem(
        status=response.status_code,
        code=doc.get("code", "unknown"),
        detail=doc.get("detail", response.text[:200]),
    )
    if problem.code == "busy":
        raise ServerBusy(problem, float(response.headers.get("retry-after", "1")))
    raise RequestRejected(problem)


def _json(response: httpx.Response) -> Any:
    if response.is_error:
        _raise_problem(response)
    return response.json()


class Client:
    """A synchronous client of ``airlock serve``.

    ``Client.unix(path)`` talks over the server's Unix socket;
    ``Client.tcp(url, token=..., ca=..., cert=..., key=...)`` over TCP.
    """

    def __init__(self, http: httpx.Client):
        self._http = http

    @classmethod
    def unix(cls, path: str, *, timeout: float = _DEFAULT_TIMEOUT) -> "Client":
        transport = httpx.HTTPTransport(uds=path)
        return cls(httpx.Client(transport=transport, base_url="http://localhost", timeout=timeout))

    @classmethod
    def tcp(
        cls,
        url: str,
        *,
        token: Optional[str] = None,
        ca: Optional[str] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> "Client":
        return cls(
            httpx.Client(
                base_url=url,
                headers=_headers(token),
                verify=_tls(ca, cert, key),
                timeout=timeout,
            )
        )

    def invoke(self, action: str, input: Any, *, timeout: Optional[str] = None) -> Outcome:
        """Run ``action`` once on ``input``; its outcome if it ended ``ok``.

        ``timeout`` (like ``"10s"``) can only shorten the action's grant.
        Raises ``ActionError``, ``Refused``, ``LimitExceeded`` or
        ``HostFault`` (with ``.code`` and ``.outcome``) otherwise, and
        ``RequestRejected`` (``ServerBusy`` for a full queue) when the
        server refused the request itself.
        """
        response = self._http.post(
            f"/v1/actions/{action}/invoke", json=_invoke_body(input, timeout)
        )
        return _outcome(response)

    def actions(self) -> list[dict[str, Any]]:
        """The policy's actions: name, approved, version, digest, publisher."""
        return _json(self._http.get("/v1/actions"))["actions"]

    def action(self, name: str) -> dict[str, Any]:
        """One action, loaded and verified, with its grant."""
        return _json(self._http.get(f"/v1/actions/{name}"))

    def ready(self) -> bool:
        """Whether the server takes runs (its audit log is writable)."""
        return self._http.get("/readyz").status_code == 200

    def metrics(self) -> str:
        """The server's counters, in the Prometheus text format."""
        response = self._http.get("/metrics")
        if response.is_error:
            _raise_problem(response)
        return response.text

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """The asyncio twin of :class:`Client`."""

    def __init__(self, http: httpx.AsyncClient):
        self._http = http

    @classmethod
    def unix(cls, path: str, *, timeout: float = _DEFAULT_TIMEOUT) -> "AsyncClient":
        transport = httpx.AsyncHTTPTransport(uds=path)
        return cls(
            httpx.AsyncClient(transport=transport, base_url="http://localhost", timeout=timeout)
        )

    @classmethod
    def tcp(
        cls,
        url: str,
        *,
        token: Optional[str] = None,
        ca: Optional[str] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        timeout: float = _DEFAULT_TIMEOUT,
    ) -> "AsyncClient":
        return cls(
            httpx.AsyncClient(
                base_url=url,
                headers=_headers(token),
                verify=_tls(ca, cert, key),
                timeout=timeout,
            )
        )

    async def invoke(self, action: str, input: Any, *, timeout: Optional[str] = None) -> Outcome:
        """See :meth:`Client.invoke`."""
        response = await self._http.post(
            f"/v1/actions/{action}/invoke", json=_invoke_body(input, timeout)
        )
        return _outcome(response)

    async def actions(self) -> list[dict[str, Any]]:
        return _json(await self._http.get("/v1/actions"))["actions"]

    async def action(self, name: str) -> dict[str, Any]:
        return _json(await self._http.get(f"/v1/actions/{name}"))

    async def ready(self) -> bool:
        return (await self._http.get("/readyz")).status_code == 200

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
