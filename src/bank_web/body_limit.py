"""Refuses request bodies that are too large with 413, before anything parses them."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank_web.problems import problem_response


class BodyTooLarge(HTTPException):
    """Raised inside the app as the body grows too large; an HTTPException, so that FastAPI's
    body parsing lets it through to the problem handlers instead of calling it a parse error."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(413, too_large_detail(limit_bytes), headers={"Connection": "close"})


def too_large_detail(limit_bytes: int) -> str:
    return f"Request bodies must be smaller than {limit_bytes} bytes."


class BodySizeLimit:
    """ASGI middleware: a declared Content-Length at or over the limit is refused at once; a
    streamed body is counted as it arrives and refused as soon as it reaches the limit."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self._app = app
        self._limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) >= self._limit_bytes):
            await self._refuse(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received >= self._limit_bytes:
                    raise BodyTooLarge(self._limit_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            too_large_detail(self._limit_bytes),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
