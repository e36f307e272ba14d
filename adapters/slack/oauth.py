"""OAuth installation for several workspaces: slack_bolt's flow, with its state in Redis (``SlackState``)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from adapters.slack.env import SlackEnv
from adapters.slack.redact import mask_tokens
from adapters.slack.state import SlackState

log = mask_tokens(logging.getLogger(__name__))

BOT_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "chat:write",
    "commands",
    "files:read",
    "groups:history",
    "im:history",
    "mpim:history",
    "reactions:read",
    "reactions:write",
    "users:read",
)
"""Exactly what slack/manifest.yml asks for."""
STATE_TTL_SECONDS = 600


class RedisInstallationStore(AsyncInstallationStore):
    """One installation per workspace (or per org for an org-wide install), bot tokens only."""

    def __init__(self, state: SlackState) -> None:
        self._state = state

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        team = None if installation.is_enterprise_install else installation.team_id
        await self._state.save_installation(installation.enterprise_id, team, dict(vars(installation)))
        log.warning("Slack app installed in %s", installation.team_name or installation.team_id)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        data = await self._state.installation(enterprise_id, None if is_enterprise_install else team_id)
        return None if data is None else Installation(**data)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._state.delete_installation(enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:  # a user's own token is never stored: only the workspace's removal matters
            await self._state.delete_installation(enterprise_id, team_id)


class RedisStateStore(AsyncOAuthStateStore):
    """The OAuth ``state``: issued when a user starts an install, valid once for ten minutes."""

    def __init__(self, state: SlackState) -> None:
        self._state = state

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        oauth_state = secrets.token_urlsafe(24)
        await self._state.issue_oauth_state(oauth_state, STATE_TTL_SECONDS)
        return oauth_state

    async def async_consume(self, state: str) -> bool:
        return await self._state.consume_oauth_state(state)


def multi_workspace_oauth(env: SlackEnv, state: SlackState) -> AsyncOAuthSettings | None:
    """OAuth for several workspaces when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set; else None."""
    if not env.oauth:
        return None
    # https://slack.com/api/ -> https://slack.com/oauth/v2/authorize (GovSlack and the tests use other hosts)
    authorize = env.api_url.rstrip("/").removesuffix("/api") + "/oauth/v2/authorize"
    return AsyncOAuthSettings(
        client_id=env.client_id,
        client_secret=env.client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=env.redirect_uri,
        authorization_url=authorize,
        installation_store=RedisInstallationStore(state),
        installation_store_bot_only=True,
        state_store=RedisStateStore(state),
        state_expiration_seconds=STATE_TTL_SECONDS,
        logger=log,
    )
