"""What the Slack adapter keeps in Redis, in the store's ``slack`` namespace.

Keys, under ``{prefix}:slack:``; the first four are the keys parley used before namespaces existed,
so installations survive an upgrade:

- ``installation:{enterprise}:{team}``  a workspace's OAuth installation (JSON), until it is deleted
- ``oauth-state:{state}``  a pending OAuth install, for ten minutes
- ``thread-context:{channel}:{thread_ts}``  what an assistant thread's user is viewing
- ``user-name:{team}:{user}``  a user's display name, for a day (JSON; a name stored as plain
  text by an older parley reads as absent and is looked up again)
- ``greeted:{team}:{channel}:{thread_ts}``  an assistant thread already greeted (redeliveries greet once);
  ``thread_ts`` is ``messages`` for a DM greeted when its Messages tab opened (the agent view)
- ``viewing:{team}:{user}``  the channel a user is looking at beside parley's DM (the agent view's
  ``app_context_changed``), as a ``<#C…>`` link
"""

from __future__ import annotations

from typing import Any

from bot.api import Namespace

NAMESPACE = "slack"


class SlackState:
    def __init__(self, space: Namespace) -> None:
        self._space = space
        """The core's ``slack`` namespace: ``SlackState(conversation.state(NAMESPACE))``."""

    # -- OAuth installations and states ---------------------------------------------
    async def save_installation(self, enterprise_id: str | None, team_id: str | None, data: dict[str, Any]) -> None:
        """Keep a workspace's installation (bot token and ids) until it is deleted."""
        await self._space.set(_installation(enterprise_id, team_id), data)

    async def installation(self, enterprise_id: str | None, team_id: str | None) -> dict[str, Any] | None:
        found = await self._space.get(_installation(enterprise_id, team_id))
        return dict(found) if isinstance(found, dict) else None

    async def delete_installation(self, enterprise_id: str | None, team_id: str | None) -> None:
        await self._space.delete(_installation(enterprise_id, team_id))

    async def issue_oauth_state(self, oauth_state: str, ttl_seconds: int) -> None:
        await self._space.set(f"oauth-state:{oauth_state}", 1, ttl_seconds)

    async def consume_oauth_state(self, oauth_state: str) -> bool:
        """True once for an OAuth state that was issued and has not expired."""
        return await self._space.delete(f"oauth-state:{oauth_state}")

    # -- the assistant view -----------------------------------------------------------
    async def save_thread_context(
        self, channel: str, thread_ts: str, context: dict[str, Any], ttl_seconds: int
    ) -> None:
        """What an assistant thread's user is looking at (channel, team), as Slack last reported it."""
        await self._space.set(f"thread-context:{channel}:{thread_ts}", context, ttl_seconds)

    async def thread_context(self, channel: str, thread_ts: str) -> dict[str, Any] | None:
        found = await self._space.get(f"thread-context:{channel}:{thread_ts}")
        return dict(found) if isinstance(found, dict) else None

    async def claim_greeting(self, team_id: str, channel: str, thread_ts: str, ttl_seconds: int) -> bool:
        """True the first time an assistant thread is to be greeted (until the claim expires)."""
        return await self._space.claim(f"greeted:{team_id}:{channel}:{thread_ts}", ttl_seconds)

    async def save_viewing(self, team_id: str, user_id: str, channel: str, ttl_seconds: int) -> None:
        """The channel a user is looking at beside parley's DM (``<#C0123>``; "" for none)."""
        await self._space.set(f"viewing:{team_id}:{user_id}", channel, ttl_seconds)

    async def viewing(self, team_id: str, user_id: str) -> str | None:
        found = await self._space.get(f"viewing:{team_id}:{user_id}")
        return found if isinstance(found, str) else None

    # -- people -------------------------------------------------------------------------
    async def save_user_name(self, team_id: str, user_id: str, name: str, ttl_seconds: int) -> None:
        """A user's display name, looked up with users.info, kept a while (names rarely change)."""
        await self._space.set(f"user-name:{team_id}:{user_id}", name, ttl_seconds)

    async def user_name(self, team_id: str, user_id: str) -> str | None:
        found = await self._space.get(f"user-name:{team_id}:{user_id}")
        return found if isinstance(found, str) else None


def _installation(enterprise_id: str | None, team_id: str | None) -> str:
    return f"installation:{enterprise_id or '-'}:{team_id or '-'}"
