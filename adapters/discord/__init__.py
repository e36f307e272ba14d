"""The Discord adapter: a discord.py bot that answers in threads, DMs and reply chains.

``parley run discord`` imports this package and calls ``create``. Inside it,
``import discord`` is discord.py (imports are absolute).

- ``endpoints``: the token and the REST/gateway URLs from the environment.
- ``config``: the ``[discord]`` table.
- ``client``: the discord.py client, its intents, and routing messages to the core.
- ``events``: pure decisions: ignore a message, or which conversation it is.
- ``turns``: the turns handed to the core that are still running.
- ``sink``: the reply sink and its destination (typing, send, edit; never a ping).
- ``intake``: a gateway event discord.py cannot read is dropped, not fatal.
- ``mentions``: ``@everyone`` and ``@here`` made plain text in whatever parley writes.
- ``state``: what the adapter keeps in Redis (reply chains).
- ``slash``: ``/parley show|set|unset|models|usage|help``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import aiohttp
import discord
from aiohttp import web

from adapters.discord import intake
from adapters.discord.client import ParleyClient
from adapters.discord.config import DiscordConfig
from adapters.discord.endpoints import API_ENV, TOKEN_ENV, Endpoints, from_environment
from bot.api import MASK, ConfigError, Conversation, RedactSecrets

log = logging.getLogger(__name__)

INTENT_REFUSED = (
    "Discord refused the Message Content intent (gateway close code 4014). Turn it on: "
    "https://discord.com/developers/applications -> your application -> Bot -> Privileged Gateway Intents -> "
    "Message Content Intent, press Save Changes, then start parley again."
)


class DiscordAdapter:
    name = "discord"

    def __init__(self, conversation: Conversation, endpoints: Endpoints, **client_options: Any) -> None:
        self.conversation = conversation
        self._endpoints = endpoints
        self._options = client_options
        self.client: ParleyClient | None = None

    def mount(self, app: web.Application) -> None:
        """Discord needs no HTTP routes: everything comes over the gateway."""

    async def run(self) -> None:
        self._endpoints.apply()
        mask_in_logs(self._endpoints.token)
        client = ParleyClient(self.conversation, self.conversation.config.table(DiscordConfig), **self._options)
        intake.guard(client, client.tree)
        self.client = client
        try:
            async with client:
                await client.start(self._endpoints.token)
        except discord.PrivilegedIntentsRequired:
            raise ConfigError(INTENT_REFUSED) from None
        except (aiohttp.ClientConnectionError, OSError) as error:
            if client.user is not None:  # connected once: discord.py reconnects by itself, so this is not it
                raise
            raise ConfigError(
                f"cannot reach Discord at {self._endpoints.api_url} ({error.__class__.__name__}: {error}); "
                f"check the network, or {API_ENV} if you set it"
            ) from None
        except discord.LoginFailure:
            raise ConfigError(
                f"Discord refused the token in {TOKEN_ENV}: copy it again from the developer portal "
                "(your application -> Bot -> Reset Token)"
            ) from None


def mask_in_logs(token: str) -> None:
    """The bot token joins the API keys that every log handler masks (``parley run`` set them up),
    and so do interaction tokens, which discord.py's debug log shows in the URLs it calls."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets([token], tracebacks=logging.getLogger().level <= logging.INFO))
        handler.addFilter(MaskInteractionTokens())


class MaskInteractionTokens(logging.Filter):
    """In URLs (``/interactions/ID/TOKEN/...``, ``/webhooks/ID/TOKEN``) and in logged gateway events
    (``'token': '...'``): an interaction token lets whoever holds it answer as the bot for 15 minutes."""

    PATTERN = re.compile(r"(/(?:interactions|webhooks)/\d+/|['\"]token['\"]: ['\"])[\w.-]+")

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.PATTERN.sub(rf"\1{MASK}", record.getMessage())
        record.args = None
        return True


def create(conversation: Conversation, environ: Mapping[str, str], **client_options: Any) -> DiscordAdapter:
    """The adapter ``parley run`` starts; ``client_options`` go to discord.py's Client (e.g. ``heartbeat_timeout``)."""
    return DiscordAdapter(conversation, from_environment(environ), **client_options)
