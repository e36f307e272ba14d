"""Who a Slack user is: display names for mentions, workspace admin rights (users.info)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

MAX_CACHED = 2000


class People:
    """Looks users up with users.info; names are kept in memory (they rarely change), rights never are."""

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}

    async def names(self, client: AsyncWebClient, team_id: str, user_ids: Iterable[str]) -> dict[str, str]:
        """Display names of the users found; a user that cannot be looked up is left out (shown by id)."""
        found: dict[str, str] = {}
        for user_id in user_ids:
            key = (team_id, user_id)
            if key not in self._names:
                user = await self._user(client, user_id)
                if user is None:
                    continue
                if len(self._names) >= MAX_CACHED:
                    self._names.clear()
                self._names[key] = _display_name(user) or user_id
            found[user_id] = self._names[key]
        return found

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
