"""The Discord adapter: a discord.py bot that answers in threads, DMs and reply chains.

``parley run discord`` imports this package and calls ``create`` (the gateway side, which queues each
message) and, unless ``--ingress-only``, answers the queued messages through ``DiscordAdapter.handler``
(the same client). ``parley worker`` calls ``create_handler``: a REST-only login, no gateway. Inside
it, ``import discord`` is discord.py (imports are absolute).

- ``endpoints``: the token and the REST/gateway URLs from the environment.
- ``config``: the ``[discord]`` table.
- ``client``: the discord.py client, its intents, and routing messages into the queue.
- ``events``: pure decisions: ignore a message, or which conversation it is.
- ``payload``: what a queued job carries from the ingress to the worker.
- ``worker``: the ``JobHandler``: rebuilds the message and its sink from a job and answers it.
- ``rest``: the REST API a worker answers through (the gateway client's, or a login of its own).
- ``turns``: the messages this process queued that its own worker has not answered yet.
- ``sink``: the reply sink and its destination (typing, send, edit; never a ping).
- ``intake``: a gateway event discord.py cannot read is dropped, not fatal.
- ``mentions``: ``@everyone`` and ``@here`` made plain text in whatever parley writes.
- ``state``: what the adapter keeps in Redis (reply chains, threads opened for a job).
- ``slash``: ``/parley show|set|unset|models|usage|help``.
"""

from __future__ import annotations

import asyncio
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
from adapters.discord.rest import Rest, RestLogin
from adapters.discord.turns import QueuedTurns
from adapters.discord.worker import DiscordJobs
from bot.api import MASK, ConfigError, Conversation, RedactSecrets

log = logging.getLogger(__name__)

INTENT_REFUSED = (
    "Discord refused the Message Content intent (gateway close code 4014). Turn it on: "
    "https://discord.com/developers/applications -> your application -> Bot -> Privileged Gateway Intents -> "
    "Message Content Intent, press Save Changes, then start parley again."
)


class DiscordAdapter:
    """The gateway side (``run``), and in ``parley run`` also the worker side (``worker``) on the same client.

    With a worker in this process, the client's REST side outlives the gateway: on shutdown the gateway
    stops first, the worker finishes its replies through the client, and ``aclose`` (run once the worker
    has stopped) closes it.
    """

    name = "discord"

    def __init__(self, conversation: Conversation, endpoints: Endpoints, **client_options: Any) -> None:
        self.conversation = conversation
        self._endpoints = endpoints
        self._options = client_options
        self.client: ParleyClient | None = None
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._closed = asyncio.Event()
        self._closing: asyncio.Task[None] | None = None
        self._worker: DiscordJobs | None = None

    @property
    def worker(self) -> DiscordJobs:
        """The worker side of ``parley run``: answers the queued jobs through this adapter's client (one
        client, one connection pool and one set of channel budgets serve both sides). Asked for before
        ``run``; an adapter nobody asks (``--ingress-only``) closes its client as soon as it stops."""
        if self._worker is None:
            config = self.conversation.config.table(DiscordConfig)
            self._worker = DiscordJobs(self.conversation, config, self, QueuedTurns())
        return self._worker

    async def rest(self) -> Rest:
        """The client's REST side, once it has logged in (a ConfigError if it stopped before)."""
        await self._started.wait()
        client = self.client
        assert client is not None
        logged_in, ended = asyncio.ensure_future(client.logged_in.wait()), asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait([logged_in, ended], return_when=asyncio.FIRST_COMPLETED)
        finally:
            logged_in.cancel()
            ended.cancel()
        if not client.logged_in.is_set():
            raise ConfigError("the Discord client stopped before it logged in")
        return Rest(client, client.paces)

    async def open(self) -> None:
        """Nothing to do: the client logs in when ``run`` starts it."""

    async def aclose(self) -> None:
        """The worker has stopped: close the client (its gateway stopped with ``run``)."""
        self._closed.set()
        if self._closing is not None:
            await self._closing

    def mount(self, app: web.Application) -> None:
        """Discord needs no HTTP routes: everything comes over the gateway."""

    async def readiness(self) -> str | None:
        """``/readyz``: None while the gateway is identified (READY, or RESUMED after a drop); else why not."""
        return "gateway not connected" if self.client is None else self.client.gateway_down

    async def run(self) -> None:
        self._endpoints.apply()
        mask_in_logs(self._endpoints.token)
        config = self.conversation.config.table(DiscordConfig)
        queued = self._worker.queued if self._worker is not None else None
        client = ParleyClient(self.conversation, config, queued, **self._options)
        intake.guard(client, client.tree)
        self.client = client
        self._started.set()
        try:
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
        finally:
            self._ended.set()
            if self._worker is None or not client.logged_in.is_set():
                await client.close()
            else:  # the worker still answers through the client: it closes once the worker has stopped
                self._closing = asyncio.ensure_future(self._close_when_done(client))

    async def _close_when_done(self, client: ParleyClient) -> None:
        await self._closed.wait()
        await client.close()


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


def create_handler(conversation: Conversation, environ: Mapping[str, str]) -> DiscordJobs:
    """The worker side ``parley worker`` runs: answers queued Discord jobs over REST, with no gateway
    connection (it logs in on the first job; ``aclose`` ends its HTTP session)."""
    endpoints = from_environment(environ)
    mask_in_logs(endpoints.token)
    config = conversation.config.table(DiscordConfig)
    return DiscordJobs(conversation, config, RestLogin(endpoints, config, conversation.metrics))
