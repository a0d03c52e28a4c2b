"""The app's outermost middleware: what every answer needs whichever code answers it.

One raw ASGI middleware, cheap per request (the posting fast path runs inside it):

- the request gets its id (``bank_web.request_ids``): the client's ``X-Request-Id`` when valid,
  else a new one; every answer carries it back in ``X-Request-Id``, and it is in the context
  of everything that serves the request (problem bodies, log lines);
- answers under ``/v1`` carry ``Cache-Control: no-store`` and ``X-Content-Type-Options:
  nosniff``: they hold customers' data, which no cache may keep, and are never to be read as
  anything but their declared type.

The headers are added as the answer starts, so they are on every answer: the routes', the
posting fast path's, the body limit's 413 and UnexpectedErrors' 500 alike.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_web.request_ids import (
    REQUEST_ID_HEADER,
    request_id_for,
    reset_request_id,
    set_request_id,
)

API_PREFIX: Final = "/v1"
_API_HEADERS: Final = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)


class RequestEdge:
    """ASGI middleware; must be the app's outermost, so that it wraps UnexpectedErrors too."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given_id: bytes | None = None
        given_ids = 0
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                given_id = value
                given_ids += 1
        # Sent twice, a header is one value joined with a comma (RFC 9110), which no valid
        # request id holds.
        request_id = request_id_for(given_id if given_ids == 1 else None)
        path: str = scope["path"]
        extra: list[tuple[bytes, bytes]] = [(REQUEST_ID_HEADER, request_id.encode("ascii"))]
        if path == API_PREFIX or path.startswith("/v1/"):
            extra += _API_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        token = set_request_id(request_id)
        try:
            await self._app(scope, receive, send_with_headers)
        finally:
            reset_request_id(token)
