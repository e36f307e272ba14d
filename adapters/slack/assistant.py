"""Slack's assistant view (the AI app split view), with slack_bolt's AsyncAssistant middleware.

A thread opens: greet, offer the suggested prompts, remember what the user is
looking at. A message (queued, then answered by a worker): answered like a DM
thread, with "is thinking…" as the status until the first text, the thread
titled after its first question, and the channel the user is viewing mentioned
in the system prompt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.async_store import AsyncAssistantThreadContextStore
from slack_bolt.context.save_thread_context.async_save_thread_context import AsyncSaveThreadContext
from slack_bolt.context.say.async_say import AsyncSay
from slack_bolt.context.set_suggested_prompts.async_set_suggested_prompts import AsyncSetSuggestedPrompts
from slack_bolt.middleware.assistant.async_assistant import AsyncAssistant

from adapters.slack.config import SlackConfig
from adapters.slack.events import team_of
from adapters.slack.state import SlackState

log = logging.getLogger(__name__)

TITLE_CHARS = 60


class RedisThreadContextStore(AsyncAssistantThreadContextStore):
    """What each assistant thread is looking at, in Redis (Bolt's default re-reads the thread instead)."""

    def __init__(self, state: SlackState, ttl_seconds: int) -> None:
        self._state = state
        self._ttl = ttl_seconds

    async def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        await self._state.save_thread_context(channel_id, thread_ts, dict(context), self._ttl)

    async def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        found = await self._state.thread_context(channel_id, thread_ts)
        return AssistantThreadContext(found) if found and found.get("channel_id") else None


def viewing_channel(thread_context: Mapping[str, Any] | None, dm_channel: str) -> str:
    """The channel the user has open beside the assistant, as Slack links it (``<#C0123>``), or ""."""
    channel = (thread_context or {}).get("channel_id")
    if not channel or channel == dm_channel:
        return ""
    return f"<#{channel}>"


def title_for(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def build_assistant(*, state: SlackState, config: SlackConfig, ttl_seconds: int, dedup_seconds: int) -> AsyncAssistant:
    """Greeting and suggested prompts as a thread opens, and its context kept; a user's message in the thread
    is queued by the ingress before Bolt's assistant sees it, and answered, titled and told the viewed channel
    by the worker (``worker.py``)."""
    assistant = AsyncAssistant(thread_context_store=RedisThreadContextStore(state, ttl_seconds), logger=log)

    @assistant.thread_started
    async def started(
        payload: dict[str, Any],
        body: dict[str, Any],
        say: AsyncSay,
        set_suggested_prompts: AsyncSetSuggestedPrompts,
        save_thread_context: AsyncSaveThreadContext,
    ) -> None:
        thread = payload["assistant_thread"]
        if not await state.claim_greeting(
            team_of(body, None), thread["channel_id"], thread["thread_ts"], dedup_seconds
        ):
            return  # a redelivery: the greeting is already there
        if thread.get("context", {}).get("channel_id"):
            await save_thread_context(thread["context"])
        await say(config.assistant_greeting)
        if config.suggested_prompts:
            prompts = [{"title": p.title, "message": p.message} for p in config.suggested_prompts]
            await set_suggested_prompts(prompts=prompts)

    return assistant
