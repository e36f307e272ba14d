"""Pure decisions about one Discord message: ignore it, or which conversation it belongs to.

``facts_from`` reads what matters off discord.py's objects (no I/O); ``ignored``
and ``plan`` decide from those facts alone, so every rule is testable without a
connection. The client does the two look-ups a decision needs (the channel's
``reply_mode`` and a reply chain's root) and hands them in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import discord

from bot.api import Author, ChannelKey, CommandStyle, IncomingMessage, ReplyMode, ThreadKey

PLATFORM = "discord"
DM_WORKSPACE = "@dm"
RESET_WORDS = ("reset", "/reset")

Place = Literal["text", "thread", "dm", "other"]
Delivery = Literal["new_thread", "here", "reply"]


@dataclass(frozen=True, slots=True)
class Facts:
    message_id: str
    author_id: str
    author_name: str
    author_is_bot: bool
    is_system: bool
    content: str
    guild_id: str | None
    channel_id: str
    place: Place
    parent_id: str | None
    """A thread's channel (its settings are the thread's)."""
    mentions_bot: bool
    reference_id: str | None
    """The message this one replies to, if any."""
    is_admin: bool
    """Manage Channels in this channel (for a thread: in its parent)."""
    thread_owner_id: str | None = None
    """Who opened the thread the message is in."""
    has_files: bool = False
    """Files are attached (a message may be only a mention and a file)."""


@dataclass(frozen=True, slots=True)
class Plan:
    message: IncomingMessage
    delivery: Delivery
    """new_thread: open a thread from the message; here: answer in its channel; reply: answer in place."""
    root: str | None = None
    """The reply chain's root message (delivery "reply")."""


def place_of(channel: object) -> Place:
    if isinstance(channel, discord.Thread):
        return "thread"
    if isinstance(channel, discord.DMChannel):
        return "dm"
    if isinstance(channel, discord.TextChannel):
        return "text"
    return "other"


def facts_from(message: discord.Message, channel: object, bot_id: int) -> Facts:
    """What the decisions need to know about ``message`` (seen in ``channel``)."""
    author = message.author
    is_admin = False
    # A thread's permissions are its parent's: with the parent not cached they are unknown, so not admin.
    if isinstance(author, discord.Member) and isinstance(channel, discord.TextChannel | discord.Thread):
        parent_known = not isinstance(channel, discord.Thread) or channel.parent is not None
        is_admin = parent_known and channel.permissions_for(author).manage_channels
    reference = message.reference
    content = message.content
    bot_roles = [role for role in message.role_mentions if role.tags is not None and role.tags.bot_id == bot_id]
    for role in bot_roles:  # typing @parley in a server often picks the bot's own role: the same as a mention
        content = content.replace(role.mention, f"<@{bot_id}>")
    return Facts(
        message_id=str(message.id),
        author_id=str(author.id),
        author_name=author.display_name,
        author_is_bot=author.bot,
        is_system=message.is_system(),
        content=content,
        guild_id=str(message.guild.id) if message.guild is not None else None,
        channel_id=str(message.channel.id),
        place=place_of(channel),
        parent_id=str(channel.parent_id) if isinstance(channel, discord.Thread) else None,
        mentions_bot=bool(bot_roles) or any(user.id == bot_id for user in message.mentions),
        reference_id=str(reference.message_id) if reference is not None and reference.message_id else None,
        is_admin=is_admin,
        thread_owner_id=str(channel.owner_id) if isinstance(channel, discord.Thread) else None,
        has_files=bool(message.attachments),
    )


def prompt_text(content: str, bot_id: int | str) -> str:
    """The message without the bot's mention (``<@ID>`` or the older ``<@!ID>``)."""
    return re.sub(rf"<@!?{bot_id}>", " ", content).strip()


_MARKUP = re.compile(r"<(@[!&]?|#)(\d+)>|<a?(:\w+:)\d+>")


def readable(text: str, message: discord.Message) -> str:
    """``text`` with mentions as Discord shows them (@name, @role, #channel, :emoji:).

    For a thread's title, where Discord shows the markup (``<@1234>``) as it is.
    """
    users = {user.id: user.display_name for user in message.mentions}
    roles = {role.id: role.name for role in message.role_mentions}
    guild = message.guild

    def shown(found: re.Match[str]) -> str:
        kind, number, emoji = found.groups()
        if emoji:
            return str(emoji)
        if kind == "#":
            channel = guild.get_channel_or_thread(int(number)) if guild is not None else None
            return f"#{channel.name}" if channel is not None else "#channel"
        if kind == "@&":
            return f"@{roles.get(int(number), 'role')}"
        return f"@{users.get(int(number), 'someone')}"

    return _MARKUP.sub(shown, text)


def ignored(facts: Facts, *, bot_id: int | str, answer_bots: bool) -> str | None:
    """Why this message gets no answer at all, or None."""
    if facts.author_id == str(bot_id):
        return "the bot's own message"
    if facts.author_is_bot and not answer_bots:
        return "a message from another bot ([discord] answer_bots is off)"
    if facts.is_system:
        return "a system message"
    if facts.place == "other":
        return "a channel type parley does not answer in"
    if not prompt_text(facts.content, bot_id) and not facts.has_files:
        return "no text"
    return None


def is_chatter(facts: Facts) -> bool:
    """A text channel's message that neither mentions the bot nor replies to a message: never for the bot,
    whatever the channel's settings (so it costs no Redis round trip)."""
    return facts.place == "text" and not facts.mentions_bot and facts.reference_id is None


def channel_key(facts: Facts) -> ChannelKey:
    """The channel whose settings apply: a thread's parent, a DM's own channel."""
    if facts.guild_id is None:
        return ChannelKey(PLATFORM, DM_WORKSPACE, facts.channel_id)
    return ChannelKey(PLATFORM, facts.guild_id, facts.parent_id or facts.channel_id)


def command_style(bot_name: str) -> CommandStyle:
    """Commands in Discord: ``/parley show``; a thread is reset by mentioning the bot (plain text: it also
    reads right in the code blocks that command answers are shown in)."""
    return CommandStyle(prefix="/parley ", reset=f"@{bot_name} reset")


def plan(
    facts: Facts, *, bot_id: int | str, bot_name: str = "parley", reply_mode: ReplyMode, chain_root: str | None
) -> Plan | None:
    """Which conversation the message belongs to and where the answer goes; None: not for the bot.

    ``chain_root`` is the root of the reply chain the message answers (reply mode only).
    """
    text = prompt_text(facts.content, bot_id)
    channel = channel_key(facts)
    style = command_style(bot_name)
    if facts.place == "dm":
        return _plan(facts, style, channel, facts.channel_id, _command(text), "here", is_dm=True)
    if facts.place == "thread":
        if not facts.mentions_bot and facts.thread_owner_id != str(bot_id):
            return None  # someone else's thread: only mentions are for the bot
        return _plan(facts, style, channel, facts.channel_id, _command(text), "here")
    if reply_mode == "reply" and chain_root is not None:
        return _plan(facts, style, channel, chain_root, _command(text), "reply", root=chain_root)
    if not facts.mentions_bot:
        return None
    if reply_mode == "reply":
        return _plan(facts, style, channel, facts.message_id, text, "reply", root=facts.message_id)
    # A thread opened from a message has that message's id, so the key is known before the thread exists.
    return _plan(facts, style, channel, facts.message_id, text, "new_thread")


def unaddressed(facts: Facts, *, bot_id: int | str) -> IncomingMessage | None:
    """A message in someone else's thread that is not for the bot: the core keeps it as the thread's
    context if it remembers the thread (``Conversation.note``); None for any other message."""
    if facts.place != "thread" or facts.mentions_bot:
        return None
    channel = channel_key(facts)
    return IncomingMessage(
        thread=ThreadKey(channel.platform, channel.workspace, channel.channel, facts.channel_id),
        author=Author(facts.author_id, facts.author_name),
        text=prompt_text(facts.content, bot_id),
        event_id=facts.message_id,
    )


def _command(text: str) -> str:
    """``@bot reset`` in a conversation forgets it, as ``/reset`` does."""
    return "/reset" if text.lower().rstrip(".!") in RESET_WORDS else text


def _plan(
    facts: Facts,
    style: CommandStyle,
    channel: ChannelKey,
    thread: str,
    text: str,
    delivery: Delivery,
    *,
    is_dm: bool = False,
    root: str | None = None,
) -> Plan:
    message = IncomingMessage(
        thread=ThreadKey(channel.platform, channel.workspace, channel.channel, thread),
        author=Author(facts.author_id, facts.author_name, is_admin=facts.is_admin),
        text=text,
        event_id=facts.message_id,
        mentioned=facts.mentions_bot,
        is_dm=is_dm,
        style=style,
    )
    return Plan(message, delivery, root)
