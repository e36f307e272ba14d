"""Slack's agent messaging (``features.agent_view``, the only choice for apps created since mid-2026).

Under the agent view there is no ``assistant_thread_started``: a user opening the app's Messages tab
is ``app_home_opened`` with ``tab == "messages"``, and DM messages are plain ``message.im`` events
(answered as DMs). parley greets a DM it does not remember yet (once, however often the tab opens),
offers the suggested prompts, and keeps what the user is looking at (``app_context_changed``) so
that the next DM answer knows it. Apps installed with ``assistant_view`` keep ``assistant.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.events import DM_THREAD, PLATFORM
from adapters.slack.state import SlackState
from bot.api import ThreadKey

log = logging.getLogger(__name__)

CHANNEL_ENTITY = "slack#/types/channel_id"
MESSAGES_TAB = "messages"


def viewed_channel(context: Mapping[str, Any] | None) -> str:
    """The channel among what the user is looking at, most relevant first, as Slack links it (``<#C0123>``)."""
    for entity in (context or {}).get("entities") or []:
        if isinstance(entity, Mapping) and entity.get("type") == CHANNEL_ENTITY and entity.get("value"):
            return f"<#{entity['value']}>"
    return ""


def event_user(event: Mapping[str, Any], body: Mapping[str, Any]) -> str:
    """Who the event is about: its ``user``, else the person the event was authorized for."""
    if event.get("user"):
        return str(event["user"])
    people = [a for a in body.get("authorizations") or [] if isinstance(a, Mapping) and not a.get("is_bot")]
    return str(people[0].get("user_id") or "") if people else ""


class AgentView:
    def __init__(
        self,
        *,
        has_history: Callable[[ThreadKey], Awaitable[bool]],
        state: SlackState,
        config: SlackConfig,
        ttl_seconds: int,
        dedup_seconds: int,
    ) -> None:
        self._has_history = has_history
        self._state = state
        self._config = config
        self._ttl = ttl_seconds
        self._dedup = dedup_seconds

    async def home_opened(self, event: Mapping[str, Any], team: str, client: AsyncWebClient) -> None:
        """The Messages tab opened: greet a DM parley does not remember yet, and offer the suggested prompts."""
        channel = str(event.get("channel") or "")
        if event.get("tab") != MESSAGES_TAB or not channel:
            return
        if await self._has_history(ThreadKey(PLATFORM, team, channel, DM_THREAD)):
            return
        if not await self._state.claim_greeting(team, channel, MESSAGES_TAB, self._dedup):
            return  # greeted already (the tab opened again, or the event was delivered again)
        await client.chat_postMessage(channel=channel, text=self._config.assistant_greeting)
        if not self._config.suggested_prompts:
            return
        prompts = [{"title": p.title, "message": p.message} for p in self._config.suggested_prompts]
        try:
            await client.assistant_threads_setSuggestedPrompts(channel_id=channel, prompts=prompts)
        except SlackApiError as error:
            log.warning("assistant.threads.setSuggestedPrompts failed: %s", error.response.get("error"))

    async def context_changed(self, event: Mapping[str, Any], body: Mapping[str, Any], team: str) -> None:
        """What the user is looking at now, kept for their next DM message."""
        user = event_user(event, body)
        if user:
            await self._state.save_viewing(team, user, viewed_channel(event.get("context")), self._ttl)
