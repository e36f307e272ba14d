"""``parley console``: the web console alone on its own HTTP server (127.0.0.1 by default)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiohttp import web

from adapters.http_server import listening
from adapters.web.app import TOKEN, mount
from bot.api import Config, ConfigError, open_conversation

log = logging.getLogger(__name__)


async def serve_console(config: Config, environ: Mapping[str, str], host: str, port: int) -> int:
    if not environ.get(TOKEN, "").strip():
        raise ConfigError(f"the web console needs {TOKEN}: set it to a long random secret, then sign in with it")
    async with open_conversation(config, environ) as conversation:
        app = web.Application()
        mount(app, conversation, environ)
        async with listening(app, host, port):
            log.info("the web console is at http://%s:%d/console", host, port)
            await asyncio.Event().wait()
    return 0
