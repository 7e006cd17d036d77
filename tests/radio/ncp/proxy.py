"""A TCP proxy that corrupts a seeded fraction of the bytes it carries, in both directions.

Put it between a host stack and the emulated NCP to show ASH recovers from a noisy line: each
byte is, with probability `rate`, XORed with a non-zero value. Each direction has its own RNG
seeded from `seed`, so which bytes are hit depends only on the bytes that direction carries: in
virtual time (radio/timeloop.py) a run is the same every time.

Test helper only: it owns nothing of the emulator and never reads wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field

TO_TARGET = "to_target"
TO_CLIENT = "to_client"


@dataclass
class DirectionStats:
    bytes: int = 0
    corrupted: int = 0


@dataclass
class CorruptingProxy:
    """Listens on 127.0.0.1; every connection is relayed to (target_host, target_port)."""

    target_host: str
    target_port: int
    rate: float
    seed: int = 0
    stats: dict[str, DirectionStats] = field(
        default_factory=lambda: {TO_TARGET: DirectionStats(), TO_CLIENT: DirectionStats()}
    )
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _connections: int = 0

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the address a client connects to."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        index = self._connections
        self._connections += 1
        target_r, target_w = await asyncio.open_connection(self.target_host, self.target_port)
        self._writers += [client_w, target_w]
        for direction, reader, writer in (
            (TO_TARGET, client_r, target_w),
            (TO_CLIENT, target_r, client_w),
        ):
            rng = random.Random(f"{self.seed}/{index}/{direction}")
            task = asyncio.create_task(self._pump(direction, rng, reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self,
        direction: str,
        rng: random.Random,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        stats = self.stats[direction]
        try:
            while chunk := await reader.read(4096):
                out = bytearray(chunk)
                for i in range(len(out)):
                    if rng.random() < self.rate:
                        out[i] ^= rng.randrange(1, 256)
                        stats.corrupted += 1
                stats.bytes += len(out)
                writer.write(bytes(out))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
