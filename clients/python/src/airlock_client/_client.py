"""The synchronous and asyncio clients."""

from __future__ import annotations

import ssl
import json
from typing import Any, AsyncIterator, Iterator, Optional, Union

import httpx

from ._types import BY_STATUS, Outcome, Problem, RequestRejected, RunEvent, RunState, ServerBusy

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
    return _ok(Outcome.from_json(doc), response.status_code)


def _ok(outcome: Outcome, status: int = 200) -> Outcome:
    """``outcome`` if it is ``ok``; the exception for its status if not."""
    if outcome.status == "ok":
        return outcome
    error = BY_STATUS.get(outcome.status, RequestRejected)
    if error is RequestRejected:
        raise RequestRejected(Problem(status, outcome.code or "unknown", outcome.message or ""))
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


def _start_body(action: str, input: Any, timeout: Optional[str]) -> dict[str, Any]:
    return {"action": action, **_invoke_body(input, timeout)}


class _Events:
    """Server-Sent Events, parsed line by line."""

    def __init__(self) -> None:
        self.event = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> Optional[RunEvent]:
        if line == "":
            if not self.data:
                return None
            event = RunEvent(self.event, json.loads("\n".join(self.data)))
            self.event, self.data = "message", []
            return event
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self.event = value
        elif field == "data":
            self.data.append(value)
        return None


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

    def start(self, action: str, input: Any, *, timeout: Optional[str] = None) -> str:
        """Queue a run of ``action`` on ``input`` and return its id at once."""
        response = self._http.post("/v1/runs", json=_start_body(action, input, timeout))
        return _json(response)["run"]

    def run(self, run: str) -> RunState:
        """Where the run ``run`` is, with its outcome once finished."""
        return RunState.from_json(_json(self._http.get(f"/v1/runs/{run}")))

    def events(self, run: str) -> Iterator[RunEvent]:
        """The run's records as they are written, then its ``end``."""
        with self._http.stream("GET", f"/v1/runs/{run}/events", timeout=None) as response:
            if response.is_error:
                response.read()
                _raise_problem(response)
            parser = _Events()
            for line in response.iter_lines():
                event = parser.feed(line)
                if event is not None:
                    yield event

    def wait(self, run: str) -> Outcome:
        """Follow the run to its end; its outcome, or the exception for it."""
        for event in self.events(run):
            if event.event == "end":
                return _ok(Outcome.from_json(event.data))
        raise RequestRejected(Problem(0, "no_end", f"the events of run {run} ended without its end"))

    def cancel(self, run: str) -> RunState:
        """Cancel the run: it ends with code ``cancelled``, recorded."""
        return RunState.from_json(_json(self._http.delete(f"/v1/runs/{run}")))

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

    async def start(self, action: str, input: Any, *, timeout: Optional[str] = None) -> str:
        """See :meth:`Client.start`."""
        response = await self._http.post("/v1/runs", json=_start_body(action, input, timeout))
        return _json(response)["run"]

    async def run(self, run: str) -> RunState:
        return RunState.from_json(_json(await self._http.get(f"/v1/runs/{run}")))

    async def events(self, run: str) -> AsyncIterator[RunEvent]:
        """See :meth:`Client.events`."""
        async with self._http.stream("GET", f"/v1/runs/{run}/events", timeout=None) as response:
            if response.is_error:
                await response.aread()
                _raise_problem(response)
            parser = _Events()
            async for line in response.aiter_lines():
                event = parser.feed(line)
                if event is not None:
                    yield event

    async def wait(self, run: str) -> Outcome:
        """See :meth:`Client.wait`."""
        async for event in self.events(run):
            if event.event == "end":
                return _ok(Outcome.from_json(event.data))
        raise RequestRejected(Problem(0, "no_end", f"the events of run {run} ended without its end"))

    async def cancel(self, run: str) -> RunState:
        return RunState.from_json(_json(await self._http.delete(f"/v1/runs/{run}")))

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
