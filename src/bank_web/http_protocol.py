"""uvicorn's httptools protocol with the limits on a request's head and a connection's requests
that uvicorn lacks.

uvicorn (0.54) with httptools reads a request's head for as long as the client takes, of any
size and any number of fields: one client sending its headers a byte at a time holds a
connection forever (slowloris), and a 64 MiB header is read whole into memory. This protocol,
which ``bank-api serve`` gives uvicorn in place of its own, adds:

- a deadline for the head (``BANK_HEADER_TIMEOUT_SECONDS``): from the connection's opening, or
  from the first byte of a kept-alive connection's next request, to the head's end; past it
  the connection gets a 408 (or, if it sent nothing, is just closed);
- a cap on the head's size (``BANK_HEADER_LIMIT_BYTES``, the request line and every header as
  sent) and on its number of fields (``BANK_HEADER_FIELDS_LIMIT``); over either, a 431 and the
  connection closed, counted as the bytes arrive, so at most the limit and one read (256 KiB)
  are ever held.

A kept-alive connection is closed after ``BANK_REQUESTS_PER_CONNECTION`` requests (the last
answer says ``Connection: close``), as nginx's ``keepalive_requests`` does. With several worker
processes on one listening socket, whichever worker wakes first accepts a whole burst of new
connections and keeps them for their life: seen here, 23 of 32, and once all 32, on one worker
while the other idled. A client that reconnects is accepted by a worker that is free to accept,
so the connections spread over the workers again. The default, 1,000, is nginx's: at 100, the
benchmark's 2-worker rows were no better within the machine's noise (bench/README.md), and
every reconnection costs a handshake.

It also sends a response's head and body in one write (``CoalescingTransport``): uvicorn writes
the head as the answer starts and the body after, two system calls and two TCP segments where
one does, on the posting path a few per cent of a worker's CPU (bench/README.md).

The refusals are problem+json, like the API's, but carry no request id: they come before the
app, which gives ids. The protocol overrides uvicorn's parser callbacks and its
``send_400_response``; ``tests/integration/edge/test_server_limits.py`` holds it to the
behaviour above, so an upgrade of uvicorn that changes them fails there.
"""

from __future__ import annotations

import asyncio
import functools
from http import HTTPStatus
from typing import Any, Final, NamedTuple

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bank_web.json_codec import dumps
from bank_web.problems import PROBLEM_MEDIA_TYPE
from bank_web.settings import Settings


class ConnectionLimits(NamedTuple):
    head_timeout_seconds: float
    head_max_bytes: int
    head_max_fields: int
    requests_per_connection: int


@functools.cache
def connection_limits() -> ConnectionLimits:
    """This server process's limits, read once from its settings (the environment, which
    ``bank-api serve`` checked before starting it)."""
    settings = Settings()
    return ConnectionLimits(
        settings.header_timeout_seconds,
        settings.header_limit_bytes,
        settings.header_fields_limit,
        settings.requests_per_connection,
    )


class HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head over the limits; httptools hands
    it to uvicorn as a parse error, which calls ``send_400_response``."""


def _problem(status: HTTPStatus, code: str, detail: str) -> bytes:
    body = dumps(
        {
            "type": f"https://bank-ledger.example/problems/{code}",
            "title": status.phrase,
            "status": int(status),
            "detail": detail,
            "code": code,
        }
    )
    return b"".join(
        [
            f"HTTP/1.1 {int(status)} {status.phrase}\r\n".encode("ascii"),
            f"content-type: {PROBLEM_MEDIA_TYPE}\r\n".encode("ascii"),
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class CoalescingTransport:
    """A transport that sends each write together with the one after it, when that one comes in
    the same turn of the event loop: a response's head with its body (uvicorn writes them one
    after the other, with nothing awaited between). A write that nothing follows in its turn is
    sent as the turn ends, and before the connection is closed. Everything but ``write`` and
    ``close`` is the wrapped transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self._send_held)
            return
        self._held = None
        self._transport.write(held + data)

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def _send_held(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


TOO_LARGE_CODE: Final = "request_header_too_large"
TIMEOUT_CODE: Final = "request_timeout"


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size and field cap on each head and a
    cap on the requests of a connection, that sends each response's head and body in one
    write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = connection_limits()
        self._head_clock: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._head_fields = 0
        self._head_parsed_bytes = 0
        self._head_too_large = False
        self._in_head = False
        """Between a request's first byte and the end of its head."""
        self._requests_left = self._limits.requests_per_connection

    # The clock: runs from the connection's opening (or a next request's first byte) until
    # its head is complete.

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_fields = 0
        self._head_parsed_bytes = 0
        if self._head_clock is None:
            self._head_bytes = 0
            self._start_head_clock()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_head_clock()
        super().on_headers_complete()
        self._requests_left -= 1
        if self._requests_left <= 0 and self.cycle is not None:
            # Answered with "Connection: close", then closed (as uvicorn's shutdown does).
            self.cycle.keep_alive = False

    def _start_head_clock(self) -> None:
        self._head_clock = self.loop.call_later(
            self._limits.head_timeout_seconds, self._head_timed_out
        )

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_timed_out(self) -> None:
        self._head_clock = None
        if self.transport.is_closing():
            return
        if self._in_head:
            self.transport.write(
                _problem(
                    HTTPStatus.REQUEST_TIMEOUT,
                    TIMEOUT_CODE,
                    "The request's head did not arrive within "
                    f"{self._limits.head_timeout_seconds:g} s.",
                )
            )
        self.transport.close()

    # The size: counted as the bytes arrive (a huge header never sits whole in memory) and as
    # the parser reads each field (a head over the limit in one read is caught before the app
    # sees it).

    def data_received(self, data: bytes) -> None:
        # A kept-alive connection's next head begins inside a read (its clock starts during
        # super().data_received): that first read is left uncounted, since it may hold the end
        # of the previous request's body. The parser's own count below still sees every field.
        if self._head_clock is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._head_clock is not None
            and self._head_bytes > self._limits.head_max_bytes
            and not self.transport.is_closing()
        ):
            self._head_too_large = True
            self.send_400_response("")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        # As sent: the name, ": ", the value and CRLF.
        self._count_head(len(name) + len(value) + 4)
        if self._head_fields > self._limits.head_max_fields:
            self._head_too_large = True
            raise HeadTooLarge
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_parsed_bytes += size
        if self._head_parsed_bytes > self._limits.head_max_bytes:
            self._head_too_large = True
            raise HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        self._stop_head_clock()
        self.transport.write(
            _problem(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                TOO_LARGE_CODE,
                f"A request's head is at most {self._limits.head_max_bytes} bytes and "
                f"{self._limits.head_max_fields} header fields.",
            )
        )
        self.transport.close()
