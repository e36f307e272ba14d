"""The process's one HTTP server: an aiohttp application listening on a host and port until the block ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.api import ConfigError


@asynccontextmanager
async def listening(app: web.Application, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on ``host:port`` inside the block; a port that cannot be had is a ConfigError saying so.

    Request bodies are taken as sent, never decompressed: neither Slack nor a browser compresses one, and a
    body in a broken Content-Encoding would otherwise fail inside aiohttp, with a traceback in the log.
    """
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}; choose another --port") from None
        yield
    finally:
        await runner.cleanup()
