"""A real Redis that a test stops and starts again: append-only file on, same loopback port, same directory.

async with RestartableRedis(tmp_path) as server:
    client = pooled_redis(server.url, 10, retry_seconds=10)
    await server.restart(down_for=2.0)   # stopped (Redis flushes its AOF), 2 s gone, started again
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Self

from bot.redis_server import RedisServer
from tests.support.net import free_port


class RestartableRedis:
    def __init__(self, directory: Path) -> None:
        self._server = RedisServer(directory, port=free_port(), persistent=True)
        self.url = self._server.url
        self.restarts = 0

    async def start(self) -> None:
        await self._server.start()

    async def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file out and exits; clients' connections break."""
        await self._server.stop()

    async def restart(self, down_for: float) -> None:
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start()
        self.restarts += 1

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()
