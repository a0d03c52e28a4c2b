"""A TCP proxy that can take the database away: it forwards 127.0.0.1:<port> to an upstream
server until ``cut()`` drops every live connection and stops listening (new connections are
refused), and forwards again after ``restore()``."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from tests.support.server import free_port

_T = TypeVar("_T")

CONNECT_TIMEOUT_SECONDS: Final = 5.0
CHUNK: Final = 65536


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tcp-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._forwarding = False
        self._flowing = asyncio.Event()
        self.connections_accepted = 0
        self.connections_dropped = 0

    def cut(self) -> None:
        """Drops every live connection at once (as a reset) and refuses new ones."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listens on the same port again and forwards new connections."""
        self._call(self._listen())

    def freeze(self) -> None:
        """Keeps every connection open and accepts new ones, but forwards nothing: a database
        (or a network) that has stopped answering without saying so."""
        self._call(self._set_flowing(False))

    def thaw(self) -> None:
        """Forwards again, what was held back first."""
        self._call(self._set_flowing(True))

    async def _set_flowing(self, flowing: bool) -> None:
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    def __enter__(self) -> Self:
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )
        self._forwarding = True
        self._flowing.set()

    async def _cut(self) -> None:
        self._forwarding = False
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._live):
            writer.transport.abort()
        self.connections_dropped += len(self._live) // 2
        self._live.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_accepted += 1
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(*self._upstream), CONNECT_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        if not self._forwarding:
            # Cut while this one was connecting upstream.
            writer.transport.abort()
            upstream_writer.transport.abort()
            return
        self._live |= {writer, upstream_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, upstream_writer)),
            asyncio.create_task(self._pump(upstream_reader, writer)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for side in (writer, upstream_writer):
                self._live.discard(side)
                side.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
