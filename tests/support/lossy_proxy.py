"""A loopback TCP proxy in front of Redis that loses a reply after the command it answers was applied.

What a connection reset or a reply timeout does to a client: the server did the write, the client
never heard so, and a retry sends it again. Arm it with the bytes that mark the command::

    async with LossyProxy(redis_url) as proxy:           # clients connect to proxy.url
        proxy.lose_reply_to(b"RPUSH")                    # the next request containing b"RPUSH" reaches
        ...                                              # Redis; its reply does not reach the client
        assert proxy.lost == 1
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self
from urllib.parse import urlparse


class LossyProxy:
    def __init__(self, upstream_url: str) -> None:
        upstream = urlparse(upstream_url)
        self._upstream = (upstream.hostname or "127.0.0.1", upstream.port or 6379)
        self._path = upstream.path or "/0"
        self._armed: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.lost = 0
        self.url = ""

    def lose_reply_to(self, marker: bytes) -> None:
        """Lose the reply to the next request that contains ``marker`` (once per call)."""
        self._armed.append(marker)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}{self._path}"
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        server_in, server_out = await asyncio.open_connection(*self._upstream)
        losing = asyncio.Event()
        try:
            await asyncio.gather(
                self._requests(client_in, server_out, losing), self._replies(server_in, client_out, losing)
            )
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for writer in (client_out, server_out):
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()
            self._tasks.discard(task)

    async def _requests(
        self, client_in: asyncio.StreamReader, server_out: asyncio.StreamWriter, losing: asyncio.Event
    ) -> None:
        while data := await client_in.read(65536):
            marker = next((m for m in self._armed if m in data), None)
            if marker is not None:
                self._armed.remove(marker)
                losing.set()
            server_out.write(data)
            await server_out.drain()
        server_out.close()

    async def _replies(
        self, server_in: asyncio.StreamReader, client_out: asyncio.StreamWriter, losing: asyncio.Event
    ) -> None:
        while data := await server_in.read(65536):
            if losing.is_set():
                self.lost += 1
                client_out.transport.abort()  # the reply is dropped; the client sees the connection reset
                return
            client_out.write(data)
            await client_out.drain()
        client_out.close()
