"""The thread parley is first mentioned in: its earlier messages, read once (``conversations.replies``).

The core says how many to read (``Conversation.context_wanted``: none once it remembers the thread,
so later turns make no platform read; Slack limits its history methods hard for most apps). A read
that fails is logged and the answer goes on without the thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import ANSWERED_SUBTYPES, BotIdentity, mentioned_users, render
from bot.api import PriorMessage

log = logging.getLogger(__name__)

PAGE = 200
"""Messages per ``conversations.replies`` call (Slack's largest page is 1,000; 200 is its advice)."""
MAX_PAGES = 5
PATIENCE_SECONDS = 10.0
"""How long the answer waits for the thread (a rate-limited read is retried after its Retry-After, which for
``conversations.replies`` may be a minute): past that, parley answers without it."""


async def read_thread(
    client: AsyncWebClient, channel: str, thread_ts: str, before_ts: str, limit: int
) -> list[dict[str, Any]]:
    """The thread's newest ``limit`` messages written before ``before_ts``, oldest first ([] if it cannot be read)."""
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(PATIENCE_SECONDS):
            await _pages(client, channel, thread_ts, before_ts, found)
    except SlackApiError as error:
        log.warning("conversations.replies %s/%s failed: %s", channel, thread_ts, error.response.get("error"))
        return []
    except (aiohttp.ClientError, TimeoutError) as error:
        log.warning("conversations.replies %s/%s failed: %s", channel, thread_ts, error or "it took too long")
        return []
    earlier = sorted((m for m in found if _ts(m) < _ts({"ts": before_ts})), key=_ts)
    return earlier[-limit:]


async def _pages(
    client: AsyncWebClient, channel: str, thread_ts: str, before_ts: str, found: list[dict[str, Any]]
) -> None:
    """The thread's pages up to the mention, into ``found``."""
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        answer = await client.conversations_replies(
            channel=channel, ts=thread_ts, latest=before_ts, inclusive=False, limit=PAGE, cursor=cursor
        )
        found.extend(m for m in answer.get("messages") or [] if isinstance(m, dict))
        cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
        if not answer.get("has_more") or not cursor:
            return


def authors_and_mentions(messages: Sequence[Mapping[str, Any]], bot: BotIdentity) -> set[str]:
    """The users whose names the thread shows: its authors and the people its messages mention."""
    users = {str(m["user"]) for m in messages if m.get("user") and not _is_own(m, bot)}
    for message in messages:
        users |= mentioned_users(str(message.get("text") or ""), bot)
    return users


def prior_messages(
    messages: Sequence[Mapping[str, Any]], bot: BotIdentity, names: Mapping[str, str]
) -> tuple[PriorMessage, ...]:
    """The thread's messages as the core takes them: written by people (or other bots), each with its author's
    name; parley's own are left out."""
    prior: list[PriorMessage] = []
    for message in messages:
        if message.get("subtype") not in ANSWERED_SUBTYPES and message.get("subtype") != "bot_message":
            continue
        shared = [
            f"[file: {f.get('name') or f.get('title')}]" for f in message.get("files") or [] if isinstance(f, dict)
        ]
        text = " ".join(part for part in (render(str(message.get("text") or ""), names).strip(), *shared) if part)
        if not text:
            continue
        if _is_own(message, bot):
            continue  # its answers are in the history already (or expired with it); a notice is no context
        user = str(message.get("user") or "")
        profile = message.get("bot_profile") or {}
        author = names.get(user) or message.get("username") or profile.get("name") or user
        prior.append(PriorMessage(str(author), text))
    return tuple(prior)


def profile_name(event: Mapping[str, Any]) -> str:
    """The author's name as a message event may carry it (``user_profile``), or ""."""
    profile = event.get("user_profile") or {}
    for name in (profile.get("display_name"), profile.get("real_name"), profile.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return ""


def _is_own(message: Mapping[str, Any], bot: BotIdentity) -> bool:
    return bool(
        (bot.user_id and message.get("user") == bot.user_id) or (bot.bot_id and message.get("bot_id") == bot.bot_id)
    )


def _ts(message: Mapping[str, Any]) -> tuple[int, int]:
    seconds, _, fraction = str(message.get("ts") or "0").partition(".")
    return int(seconds or 0), int(fraction or 0)
