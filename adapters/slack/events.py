"""Pure decisions: which Slack message events parley answers, and what the core is told.

Two steps, each run once per event: ``classify`` says whether an event is for parley (and why not),
what kind of message it is and where it belongs; the app then looks up the display names of the
users it mentions (``Addressed.users``) and ``incoming_message`` builds the core's message with them.
No I/O here.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot.api import Attachment, Author, CommandStyle, IncomingMessage, PriorMessage, ThreadKey

PLATFORM = "slack"
SLASH = "/parley"
"""The slash command, as the manifest declares it."""
DM_THREAD = "dm"
"""The thread id of a DM channel's top-level messages: one running conversation per DM."""
ANSWERED_SUBTYPES = (None, "file_share", "thread_broadcast")
"""Message subtypes that are a person writing; edits, deletions, joins and the like are not."""

# No part of a reference holds "<" (Slack sends it as "&lt;"): each match attempt stops at the next "<", so that
# text full of unclosed "<http:a" or "<@U1|" is read in linear time (with [^>], each one read to the end: quadratic).
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
_CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^<>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^<>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^<>]*))?>")
_OTHER_SPECIAL = re.compile(r"<!([^<>|]+)(?:\|([^<>]*))?>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^<>|]+)(?:\|([^<>]*))?>")


COMMAND_STYLE = CommandStyle(prefix=f"{SLASH} ", reset="@parley reset")
"""Commands in Slack: ``/parley show``; a thread is reset by mentioning the bot in it with "reset" (a slash
command carries no thread). The mention is plain text, named as slack/manifest.yml names the bot, so that
it also reads right in the code blocks command answers are shown in."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who parley is in this workspace (from auth.test, which Bolt caches)."""

    user_id: str | None
    bot_id: str | None


class Kind(Enum):
    """What an answered message is, for the core."""

    MENTION = "mention"
    """parley mentioned in a channel, at the top level or in a thread."""
    DM = "DM"
    """A direct message, in the DM itself or in one of its threads."""
    FOLLOW_UP = "thread follow-up"
    """A reply in a channel thread, no mention: the core answers it in parley's threads (trigger "thread")."""
    COMMAND = "command"
    """``reset``, mentioning parley or in a DM (the other commands are the /parley slash command)."""


RESET = "/reset"


@dataclass(frozen=True, slots=True)
class Ignored:
    """An event parley stays silent on, and why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Addressed:
    """A message event for parley, classified; the names of the users it mentions are not filled in yet."""

    thread: ThreadKey
    event_id: str
    """The message's identity, whichever event (``app_mention`` or ``message``) carried it."""
    channel: str
    reply_thread_ts: str | None
    """The thread to answer in; None for a top-level DM message (answered in the DM itself)."""
    user: str
    text: str
    """In Slack's markup, parley's own mention taken out; ``/reset`` for the reset command."""
    users: frozenset[str]
    """The users the text mentions, other than parley: their display names are looked up."""
    mentioned: bool
    dm: bool

    @property
    def kind(self) -> Kind:
        if self.text == RESET:
            return Kind.COMMAND
        if self.dm:
            return Kind.DM
        return Kind.MENTION if self.mentioned else Kind.FOLLOW_UP


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
    if not event.get("channel") or not isinstance(event["channel"], str) or not event.get("ts"):
        return "no channel or ts"
    user = event.get("user")
    if not isinstance(user, str | None) or not (user or event.get("bot_id")):
        return "no author"  # Slack names the person (by id) or bot who wrote every message
    return None


def mentioned_users(text: str, bot: BotIdentity) -> set[str]:
    """The user ids mentioned in a message, other than parley itself (their names are looked up)."""
    return {user for user in _MENTION.findall(text) if user != bot.user_id}


def strip_bot_mention(text: str, bot: BotIdentity) -> tuple[str, bool]:
    """The text without parley's own mention, and whether it was there."""
    if not bot.user_id:
        return text, False
    pattern = re.compile(rf"<@{re.escape(bot.user_id)}(?:\|[^<>]*)?>")
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


def classify(event: Mapping[str, Any], team_id: str, bot: BotIdentity, *, answer_bots: bool) -> Addressed | Ignored:
    """Whether parley answers this message event, and if so what it is and where it belongs."""
    reason = ignored_reason(event, bot, answer_bots=answer_bots)
    if reason is not None:
        return Ignored(reason)
    channel, ts = str(event["channel"]), str(event["ts"])
    thread_ts = event.get("thread_ts")
    text, mentioned = strip_bot_mention(str(event.get("text") or ""), bot)
    mentioned = mentioned or event.get("type") == "app_mention"
    dm = is_dm(event)
    if not dm and not thread_ts and not mentioned:
        return Ignored("a top-level channel message not for parley")  # the core need not see it
    # A mention renders as "@name" or "@id", never as nothing or as "reset": names cannot change these two.
    plain = render(text, {}).strip()
    if (mentioned or dm) and plain.lower() in ("reset", RESET):
        text = RESET
    elif not plain and not event.get("files"):
        return Ignored("nothing to answer")
    if dm:
        thread_id, reply_to = (str(thread_ts), str(thread_ts)) if thread_ts else (DM_THREAD, None)
    else:
        thread_id = str(thread_ts or ts)
        reply_to = thread_id
    return Addressed(
        thread=ThreadKey(PLATFORM, team_id, channel, thread_id),
        event_id=f"{team_id}:{channel}:{ts}",
        channel=channel,
        reply_thread_ts=reply_to,
        user=str(event.get("user") or event.get("bot_id") or ""),
        text=text,
        users=frozenset(mentioned_users(text, bot)),
        mentioned=mentioned,
        dm=dm,
    )


def incoming_message(
    addressed: Addressed,
    *,
    names: Mapping[str, str],
    viewing: str = "",
    prior: tuple[PriorMessage, ...] = (),
    files: tuple[Attachment, ...] = (),
) -> IncomingMessage:
    """The core's view of a classified message, its mentions shown by the display names found;
    ``prior``: the thread's earlier messages, when parley is first mentioned in it."""
    return IncomingMessage(
        thread=addressed.thread,
        author=Author(addressed.user, names.get(addressed.user, "")),
        text=render(addressed.text, names),
        event_id=addressed.event_id,
        mentioned=addressed.mentioned,
        is_dm=addressed.dm,
        viewing=viewing,
        style=COMMAND_STYLE,
        prior=prior,
        files=files,
    )
