"""A slowloris client: holds as many connections as it can to a server, each sending its
request's head a byte a second and never finishing it; a connection the server closes is
opened again a second later. Run as a process of its own, so that it is another client:

    python -m tests.integration.edge.slowloris --port 8080 --connections 5000 --seconds 30

Prints one JSON line when done: the most connections it held open at once (``peak_open``), how
many it opened in all, and how many the server closed on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass

HEAD = b"GET /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100_000
"""Never ends: its header line runs on, a byte at a time, past any timeout."""
BYTE_INTERVAL_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 5.0
SIMULTANEOUS_CONNECTS = 500


@dataclass
class Tally:
    open: int = 0
    peak_open: int = 0
    opened: int = 0
    closed_by_server: int = 0
    connect_failures: int = 0


async def _hold_one(
    port: int, source: str, until: float, tally: Tally, gate: asyncio.Semaphore
) -> None:
    while time.monotonic() < until:
        try:
            async with gate:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)),
                    CONNECT_TIMEOUT_SECONDS,
                )
        except (OSError, TimeoutError):
            tally.connect_failures += 1
            await asyncio.sleep(BYTE_INTERVAL_SECONDS)
            continue
        tally.opened += 1
        tally.open += 1
        tally.peak_open = max(tally.peak_open, tally.open)
        try:
            for byte in HEAD:
                if time.monotonic() >= until:
                    return
                writer.write(bytes([byte]))
                with contextlib.suppress(TimeoutError):
                    # Waiting for the next byte's turn is listening too: anything the server
                    # sends (a 408) or its closing ends this connection.
                    await asyncio.wait_for(reader.read(1024), BYTE_INTERVAL_SECONDS)
                    tally.closed_by_server += 1
                    break
        except OSError:
            tally.closed_by_server += 1
        finally:
            tally.open -= 1
            writer.close()
        await asyncio.sleep(BYTE_INTERVAL_SECONDS)


async def attack(port: int, source: str, connections: int, seconds: float) -> Tally:
    tally = Tally()
    until = time.monotonic() + seconds
    gate = asyncio.Semaphore(SIMULTANEOUS_CONNECTS)
    await asyncio.gather(*(_hold_one(port, source, until, tally, gate) for _ in range(connections)))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", default="127.0.0.2", help="the address to connect from")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=30.0)
    arguments = parser.parse_args()
    tally = asyncio.run(
        attack(arguments.port, arguments.source, arguments.connections, arguments.seconds)
    )
    print(json.dumps(asdict(tally)), flush=True)


if __name__ == "__main__":
    main()
