"""Pure decisions: which Slack message events parley answers, and what the core is told.

No I/O here: the app looks up user names (``mentioned_users``) and passes them in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.api import Author, CommandStyle, IncomingMessage, ThreadKey

PLATFORM = "slack"
SLASH = "/parley"
"""The slash command, as the manifest declares it."""
DM_THREAD = "dm"
"""The thread id of a DM channel's top-level messages: one running conversation per DM."""
ANSWERED_SUBTYPES = (None, "file_share", "thread_broadcast")
"""Message subtypes that are a person writing; edits, deletions, joins and the like are not."""

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_OTHER_SPECIAL = re.compile(r"<!([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^>|]+)(?:\|([^>]*))?>")


COMMAND_STYLE = CommandStyle(prefix=f"{SLASH} ", reset="@parley reset")
"""Commands in Slack: ``/parley show``; a thread is reset by mentioning the bot in it with "reset" (a slash
command carries no thread). The mention is plain text, named as slack/manifest.yml names the bot, so that
it also reads right in the code blocks command answers are shown in."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who parley is in this workspace (from auth.test, which Bolt caches)."""

    user_id: str | None
    bot_id: str | None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A message to hand to the core, and where in Slack the answer goes."""

    message: IncomingMessage
    channel: str
    reply_thread_ts: str | None
    """The thread to answer in; None for a top-level DM message (answered in the DM itself)."""


def team_of(body: Mapping[str, Any], authorized_team: str | None) -> str:
    """The workspace an event belongs to: the envelope's team_id, else the one Bolt authorized."""
    return str(body.get("team_id") or authorized_team or "")


def is_dm(event: Mapping[str, Any]) -> bool:
    channel_type = event.get("channel_type")
    if channel_type is not None:
        return bool(channel_type == "im")
    return str(event.get("channel", "")).startswith("D")


def ignored_reason(event: Mapping[str, Any], bot: BotIdentity, *, answer_bots: bool) -> str | None:
    """Why parley stays silent on this event, or None if it is a person's (or allowed bot's) message."""
    if event.get("type") not in ("message", "app_mention"):
        return f"event type {event.get('type')!r}"
    if event.get("subtype") not in ANSWERED_SUBTYPES and event.get("subtype") != "bot_message":
        return f"subtype {event.get('subtype')!r}"
    if event.get("hidden"):
        return "hidden message"
    if (bot.user_id and event.get("user") == bot.user_id) or (bot.bot_id and event.get("bot_id") == bot.bot_id):
        return "parley's own message"
    if (event.get("bot_id") or event.get("subtype") == "bot_message") and not answer_bots:
        return "a bot's message (answer_bots is off)"
    if not event.get("channel") or not event.get("ts"):
        return "no channel or ts"
    return None


def mentioned_users(text: str, bot: BotIdentity) -> set[str]:
    """The user ids mentioned in a message, other than parley itself (their names are looked up)."""
    return {user for user in _MENTION.findall(text) if user != bot.user_id}


def strip_bot_mention(text: str, bot: BotIdentity) -> tuple[str, bool]:
    """The text without parley's own mention, and whether it was there."""
    if not bot.user_id:
        return text, False
    pattern = re.compile(rf"<@{re.escape(bot.user_id)}(?:\|[^>]*)?>")
    lines, found = text.split("\n"), False
    for index, line in enumerate(lines):  # only the mention's own line is tidied: code elsewhere keeps its indents
        stripped, count = pattern.subn("", line)
        if count:
            lines[index], found = re.sub(r"[ \t]{2,}", " ", stripped).strip(), True
    return "\n".join(lines).strip(), found


def render(text: str, names: Mapping[str, str]) -> str:
    """Slack's markup (``<@U1>``, ``<#C1|general>``, ``<https://x|label>``, ``&lt;``) as a person reads it."""
    text = _MENTION.sub(lambda m: "@" + (names.get(m.group(1)) or m.group(1)), text)
    text = _CHANNEL.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = _SPECIAL.sub(lambda m: "@" + m.group(1), text)
    text = _SUBTEAM.sub(lambda m: m.group(1) or "@group", text)
    text = _LINK.sub(lambda m: _link(m.group(1), m.group(2)), text)
    text = _OTHER_SPECIAL.sub(lambda m: m.group(2) or m.group(1), text)
    return html.unescape(text) if "&" in text else text


def _link(url: str, label: str | None) -> str:
    target = url.removeprefix("mailto:").removeprefix("tel:")
    if not label or label in (target, url):
        return target
    return f"{label} ({target})"


def to_incoming(
    event: Mapping[str, Any],
    *,
    team_id: str,
    bot: BotIdentity,
    names: Mapping[str, str],
    answer_bots: bool = False,
    viewing: str = "",
) -> Incoming | None:
    """The core's view of a message event, or None when parley should not even ask the core."""
    if ignored_reason(event, bot, answer_bots=answer_bots) is not None:
        return None
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    raw = str(event.get("text") or "")
    text, mentioned = strip_bot_mention(raw, bot)
    mentioned = mentioned or event.get("type") == "app_mention"
    dm = is_dm(event)
    if not dm and not thread_ts and not mentioned:
        return None  # a top-level channel message not for parley: the core need not see it
    text = render(text, names)
    if (mentioned or dm) and text.strip().lower() in ("reset", "/reset"):
        text = "/reset"
    if not text.strip():
        return None
    if dm:
        thread, reply_to = (str(thread_ts), str(thread_ts)) if thread_ts else (DM_THREAD, None)
    else:
        thread = str(thread_ts or ts)
        reply_to = thread
    user = str(event.get("user") or event.get("bot_id") or "")
    message = IncomingMessage(
        thread=ThreadKey(PLATFORM, team_id, channel, thread),
        author=Author(user, names.get(user, "")),
        text=text,
        event_id=f"{team_id}:{channel}:{ts}",
        mentioned=mentioned,
        is_dm=dm,
        viewing=viewing,
        style=COMMAND_STYLE,
    )
    return Incoming(message, channel, reply_to)
