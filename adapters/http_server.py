"""The process's one HTTP server: an aiohttp application listening on a host and port until the block ends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.api import ConfigError

SERVER_LOG = "aiohttp.server"


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a repeated Content-Type, a broken header) at ERROR, with a
    traceback, after answering it 400: anyone on the network can send one, so one line at WARNING says it."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError) and 400 <= error.code < 500:
            record.msg, record.args = "%s (%s: %s)", (record.getMessage(), error.code, error.message)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


@asynccontextmanager
async def listening(app: web.Application, host: str, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on ``host:port`` inside the block; a port that cannot be had is a ConfigError saying so.

    Request bodies are taken as sent, never decompressed: neither Slack nor a browser compresses one, and a
    body in a broken Content-Encoding would otherwise fail inside aiohttp, with a traceback in the log.
    """
    server_log = logging.getLogger(SERVER_LOG)
    if not any(isinstance(found, MalformedRequests) for found in server_log.filters):
        server_log.addFilter(MalformedRequests())
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
