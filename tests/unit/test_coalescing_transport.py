"""A response's head and body leave in one write; nothing is held past its turn of the loop or
past the connection's close."""

from __future__ import annotations

import asyncio

from bank_web.http_protocol import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _coalescing() -> tuple[CoalescingTransport, RecordingTransport]:
    recording = RecordingTransport()
    return CoalescingTransport(recording, asyncio.get_running_loop()), recording  # type: ignore[arg-type]


async def test_a_head_and_its_body_leave_in_one_write() -> None:
    transport, recording = _coalescing()
    transport.write(b"HTTP/1.1 201 Created\r\n\r\n")
    transport.write(b'{"id": 1}')
    assert recording.writes == [b'HTTP/1.1 201 Created\r\n\r\n{"id": 1}']
    await asyncio.sleep(0)
    assert recording.writes == [b'HTTP/1.1 201 Created\r\n\r\n{"id": 1}']


async def test_a_write_that_nothing_follows_leaves_as_its_turn_ends() -> None:
    transport, recording = _coalescing()
    transport.write(b"head only")
    assert recording.writes == []
    await asyncio.sleep(0)
    assert recording.writes == [b"head only"]
    transport.write(b"next head")
    transport.write(b"next body")
    transport.write(b"a third")
    await asyncio.sleep(0)
    assert recording.writes == [b"head only", b"next headnext body", b"a third"]


async def test_closing_sends_what_is_held_first() -> None:
    transport, recording = _coalescing()
    transport.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    transport.close()
    assert recording.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"]
    assert recording.closed
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 408 Request Timeout\r\n\r\n"]


async def test_a_held_write_is_dropped_when_the_peer_has_gone() -> None:
    transport, recording = _coalescing()
    transport.write(b"late")
    recording.closed = True
    await asyncio.sleep(0)
    assert recording.writes == []


async def test_everything_else_is_the_transports_own() -> None:
    transport, _ = _coalescing()
    assert transport.get_extra_info("peername") == "info:peername"
