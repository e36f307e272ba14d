"""Web API clients: Bolt's, and the one a worker makes for a queued event's workspace.

Every client goes to SLACK_API_URL and retries 429s (slowing the replies' budgets first) and
5xx answers. A worker has no Bolt request to authorize: it uses SLACK_BOT_TOKEN, or with OAuth
the bot token of the workspace's (or Enterprise Grid org's) installation. While a process runs,
its clients share one keep-alive session (``session``), as Bolt's per-request clients do; its
requests are counted for ``/metrics`` (``call_metrics.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncServerErrorRetryHandler
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.call_metrics import slack_call_trace
from adapters.slack.env import SlackEnv
from adapters.slack.pacing import PacedRateLimitRetryHandler, SlackPaces
from adapters.slack.queued import QueuedEvent
from bot.api import Metrics

RATE_LIMIT_RETRIES = 5
SERVER_ERROR_RETRIES = 2


def configure_client(client: AsyncWebClient, env: SlackEnv, paces: SlackPaces) -> None:
    """The Web API client: SLACK_API_URL; 429 answers slow the replies' budgets and are retried after
    their Retry-After, 500 and 503 twice.

    (Bolt copies both into the per-workspace clients it makes for listeners.)
    """
    client.base_url = env.api_url
    client.retry_handlers.append(PacedRateLimitRetryHandler(paces, max_retry_count=RATE_LIMIT_RETRIES))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=SERVER_ERROR_RETRIES))


class NotInstalled(LookupError):
    """No installation of parley holds a bot token for the event's workspace (it was uninstalled)."""


class Workspaces:
    def __init__(
        self, env: SlackEnv, paces: SlackPaces, installations: AsyncInstallationStore | None, metrics: Metrics
    ) -> None:
        self._env = env
        self._metrics = metrics
        self._paces = paces
        self._installations = installations
        self.session: aiohttp.ClientSession | None = None
        """The process's keep-alive session, while one is open (None: slack_sdk opens one per call)."""

    @asynccontextmanager
    async def kept_alive(self, max_connections: int, call_seconds: float) -> AsyncIterator[aiohttp.ClientSession]:
        """One session, ``max_connections`` connections at most, for every client made while it is open;
        each of its requests is counted in ``parley_platform_calls_total``."""
        connector = aiohttp.TCPConnector(limit=max_connections)
        timeout = aiohttp.ClientTimeout(total=call_seconds)
        trace = slack_call_trace(self._metrics, self._env.api_url)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, trace_configs=[trace]) as session:
            self.session = session
            try:
                yield session
            finally:
                self.session = None

    async def client(self, queued: QueuedEvent) -> AsyncWebClient:
        """A client with the bot token of the event's workspace."""
        token = self._env.bot_token
        if self._installations is not None:
            bot = await self._installations.async_find_bot(
                enterprise_id=queued.enterprise,
                team_id=None if queued.org_install else queued.team,
                is_enterprise_install=queued.org_install,
            )
            if bot is None:
                raise NotInstalled(f"parley is not installed in Slack workspace {queued.team}")
            token = bot.bot_token
        client = AsyncWebClient(token=token, session=self.session)
        configure_client(client, self._env, self._paces)
        return client
