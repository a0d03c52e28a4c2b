"""The app's outermost middleware: what every answer needs whichever code answers it.

One raw ASGI middleware, cheap per request (the posting fast path runs inside it):

- a ``Host`` header that names no allowed host (``BANK_ALLOWED_HOSTS``) is refused with a 400
  ``host_not_allowed`` before anything else reads the request, so a page on another site whose
  name was re-pointed at 127.0.0.1 (DNS rebinding) cannot talk to a server bound there;
- the request gets its id (``bank_web.request_ids``): the client's ``X-Request-Id`` when valid,
  else a new one; every answer carries it back in ``X-Request-Id``, and it is in the context
  of everything that serves the request (problem bodies, log lines);
- answers under ``/v1`` carry ``Cache-Control: no-store`` and ``X-Content-Type-Options:
  nosniff``: they hold customers' data, which no cache may keep, and are never to be read as
  anything but their declared type;
- what became of the request (bank_web.request_outcomes: its route, status and duration) is
  handed to the observers (the metrics, the JSON access log) once the answer is sent, its own
  refusals and UnexpectedErrors' 500s included, as the client got them.

The headers are added as the answer starts, so they are on every answer: the routes', the
posting fast path's, the body limit's 413 and UnexpectedErrors' 500 alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from time import perf_counter
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_web.idempotency import REPLAYED_RAW_HEADER
from bank_web.problems import problem_response
from bank_web.request_ids import (
    REQUEST_ID_HEADER,
    request_id_for,
    reset_request_id,
    set_request_id,
)
from bank_web.request_outcomes import RequestObserver, outcome_of

API_PREFIX: Final = "/v1"
_API_HEADERS: Final = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)
ANY_HOST: Final = "*"


class AllowedHosts:
    """The names a ``Host`` header may give, each with any port (or none). ``*`` allows any;
    ``*.example.com`` any name under example.com (not example.com itself). IPv6 addresses are
    written with or without their brackets (``[::1]``, ``::1``). Names compare without regard
    to case."""

    def __init__(self, names: Iterable[str]) -> None:
        exact: set[bytes] = set()
        suffixes: list[bytes] = []
        self.any = False
        for name in (n.strip().lower() for n in names):
            if name == ANY_HOST:
                self.any = True
            elif name.startswith("*."):
                suffixes.append(b"." + name[2:].encode("idna"))
            elif ":" in name and not name.startswith("["):
                exact.add(f"[{name}]".encode("ascii"))
            elif name:
                exact.add(name.encode("idna"))
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)

    def allow(self, host_header: bytes | None) -> bool:
        if self.any:
            return True
        if host_header is None:
            return False
        value = host_header.lower()
        if value.startswith(b"["):
            end = value.find(b"]") + 1
            name, port = value[:end], value[end:]
            if not end or (port and not port.startswith(b":")):
                return False
        else:
            name = value.partition(b":")[0]
        return name in self._exact or (bool(self._suffixes) and name.endswith(self._suffixes))


class RequestEdge:
    """ASGI middleware; must be the app's outermost, so that it wraps UnexpectedErrors too."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Iterable[str],
        observers: Sequence[RequestObserver] = (),
    ) -> None:
        self._app = app
        self._allowed_hosts = AllowedHosts(allowed_hosts)
        self._observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = perf_counter()
        host: bytes | None = None
        given_id: bytes | None = None
        hosts = given_ids = 0
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
                hosts += 1
            elif name == REQUEST_ID_HEADER:
                given_id = value
                given_ids += 1
        # Sent twice, a header is one value joined with a comma (RFC 9110), which no valid
        # host name and no valid request id holds.
        request_id = request_id_for(given_id if given_ids == 1 else None)
        path: str = scope["path"]
        extra: list[tuple[bytes, bytes]] = [(REQUEST_ID_HEADER, request_id.encode("ascii"))]
        if path == API_PREFIX or path.startswith("/v1/"):
            extra += _API_HEADERS
        status = 500  # what the client gets if nothing below starts an answer
        replayed = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                status = message["status"]
                replayed = REPLAYED_RAW_HEADER in headers
                message["headers"] = [*headers, *extra]
            await send(message)

        token = set_request_id(request_id)
        try:
            if hosts > 1 or not self._allowed_hosts.allow(host):
                refusal = problem_response(
                    400, "host_not_allowed", "The Host header names no host this server serves."
                )
                await refusal(scope, receive, send_with_headers)
                return
            await self._app(scope, receive, send_with_headers)
        finally:
            outcome = outcome_of(scope, status, perf_counter() - started, replayed=replayed)
            for observe in self._observers:
                observe(outcome)
            reset_request_id(token)
