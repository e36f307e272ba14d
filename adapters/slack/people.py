"""Who a Slack user is: display names for mentions, workspace admin rights (users.info)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.state import SlackState

log = logging.getLogger(__name__)

NAME_TTL_SECONDS = 24 * 3600
"""Names are kept a day in Redis (they rarely change); admin rights are looked up every time."""


class People:
    def __init__(self, state: SlackState) -> None:
        self._state = state

    async def names(self, client: AsyncWebClient, team_id: str, user_ids: Iterable[str]) -> dict[str, str]:
        """Display names of the users found; a user that cannot be looked up is left out (shown by id)."""
        found: dict[str, str] = {}
        for user_id in user_ids:
            name = await self._state.user_name(team_id, user_id)
            if name is None:
                user = await self._user(client, user_id)
                if user is None:
                    continue
                name = _display_name(user) or user_id
                await self._state.save_user_name(team_id, user_id, name, NAME_TTL_SECONDS)
            found[user_id] = name
        return found

    async def known_name(self, team_id: str, user_id: str) -> str | None:
        """A user's display name if it was looked up lately (Redis only: no users.info call)."""
        return await self._state.user_name(team_id, user_id)

    async def is_workspace_admin(self, client: AsyncWebClient, user_id: str) -> bool:
        user = await self._user(client, user_id)
        return user is not None and any(user.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))

    async def _user(self, client: AsyncWebClient, user_id: str) -> dict[str, Any] | None:
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info %s failed: %s", user_id, error.response.get("error"))
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("users.info %s failed: %s", user_id, error)
            return None
        user = response.get("user")
        return user if isinstance(user, dict) else None


def _display_name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"), user.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return ""
