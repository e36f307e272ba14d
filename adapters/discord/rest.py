"""Discord's REST API for a worker: the gateway client's own (``parley run``), or a login without a gateway.

A worker posts, edits, opens threads, reads history and downloads files over REST alone, so
``parley worker`` logs in (``GET /users/@me``) and never connects to the gateway: any number of
workers can run beside the one gateway connection a bot token allows per shard.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import discord

from adapters.discord.call_metrics import discord_call_trace
from adapters.discord.config import DiscordConfig
from adapters.discord.endpoints import API_ENV, TOKEN_ENV, Endpoints
from adapters.discord.pacing import rate_limit_trace
from bot.api import ConfigError, Metrics, PaceBook

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rest:
    """A logged-in client (only its REST side is used) and the channels' write budgets its replies share."""

    client: discord.Client
    paces: PaceBook

    @property
    def bot_id(self) -> int:
        return self.client.user.id if self.client.user is not None else 0


class RestSource(Protocol):
    async def rest(self) -> Rest:
        """The client to answer with, logged in."""
        ...

    async def open(self) -> None:
        """Be ready to answer (log in now, where that is the source's own to do)."""
        ...

    async def aclose(self) -> None:
        """Release what ``rest`` opened."""
        ...


class RestLogin:
    """A client of its own, logged in on first use, that never opens the gateway (``parley worker``)."""

    def __init__(self, endpoints: Endpoints, config: DiscordConfig, metrics: Metrics) -> None:
        self._endpoints = endpoints
        self._config = config
        self._metrics = metrics
        self._rest: Rest | None = None
        self._login = asyncio.Lock()

    async def rest(self) -> Rest:
        async with self._login:
            if self._rest is None:
                self._rest = await self._logged_in()
        return self._rest

    async def _logged_in(self) -> Rest:
        self._endpoints.apply()
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        paces = PaceBook()
        client = discord.Client(
            intents=discord.Intents.none(),
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=discord_call_trace(self._metrics, rate_limit_trace(paces)),
            connector=aiohttp.TCPConnector(limit=self._config.max_connections),
        )
        try:
            await client.login(self._endpoints.token)
        except discord.LoginFailure:
            await client.close()
            raise ConfigError(
                f"Discord refused the token in {TOKEN_ENV}: copy it again from the developer portal "
                "(your application -> Bot -> Reset Token)"
            ) from None
        except (aiohttp.ClientConnectionError, OSError) as error:
            await client.close()
            raise ConfigError(
                f"cannot reach Discord at {self._endpoints.api_url} ({error.__class__.__name__}: {error}); "
                f"check the network, or {API_ENV} if you set it"
            ) from None
        log.info("Discord worker logged in as %s (REST only, no gateway)", client.user)
        return Rest(client, paces)

    async def open(self) -> None:
        await self.rest()

    async def aclose(self) -> None:
        """Close the client's HTTP session (nothing to do if it never logged in)."""
        async with self._login:
            if self._rest is not None:
                await self._rest.client.close()
                self._rest = None
