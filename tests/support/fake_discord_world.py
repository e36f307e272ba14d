"""The world a fake Discord holds: one server, its channels, users, roles and messages, as Discord's JSON.

``FakeDiscord`` (fake_discord.py) serves this world over REST and the gateway.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
VIEW, SEND, READ_HISTORY = 1 << 10, 1 << 11, 1 << 16
CREATE_PUBLIC_THREADS, SEND_IN_THREADS, MANAGE_CHANNELS = 1 << 35, 1 << 38, 1 << 4
EVERYONE_PERMISSIONS = VIEW | SEND | READ_HISTORY | CREATE_PUBLIC_THREADS | SEND_IN_THREADS


def now() -> str:
    return datetime.now(UTC).isoformat()


def make_user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name.capitalize(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Request:
    method: str
    path: str
    body: Any
    status: int
    at: float


@dataclass
class Fault:
    """A Discord error the fake answers once, instead of doing the call."""

    method: str
    path: str
    """A regex the request path must end with, e.g. ``/messages/\\d+`` for an edit."""
    status: int
    code: int
    message: str

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(f"{self.path}$", path) is not None


@dataclass
class Sent:
    """A message as the fake holds it now (content changes with each edit)."""

    payload: dict[str, Any]
    by_bot: bool
    versions: list[str] = field(default_factory=list)
    pinged: set[str] = field(default_factory=set)
    allowed_mentions: list[Any] = field(default_factory=list)
    components: list[Any] = field(default_factory=list)
    """The message's components (buttons) as last sent."""
    reactions: list[str] = field(default_factory=list)
    """Emoji the bot added, in order."""

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def channel_id(self) -> str:
        return str(self.payload["channel_id"])

    @property
    def content(self) -> str:
        return str(self.payload["content"])


def pinged(content: str, allowed: dict[str, Any] | None, reply_author: str | None = None) -> set[str]:
    """Who Discord would notify for this content under these allowed_mentions (absent: every mention)."""
    parse = {"everyone", "users", "roles"} if allowed is None else set(allowed.get("parse", []))
    users = {str(user) for user in allowed.get("users", [])} if allowed else set()  # snowflakes: ints or strings
    roles = {str(role) for role in allowed.get("roles", [])} if allowed else set()
    found: set[str] = set()
    if "everyone" in parse:
        found |= {f"@{word}" for word in re.findall(r"@(everyone|here)\b", content)}
    for user in re.findall(r"<@!?(\d+)>", content):
        if "users" in parse or user in users:
            found.add(f"user:{user}")
    for role in re.findall(r"<@&(\d+)>", content):
        if "roles" in parse or role in roles:
            found.add(f"role:{role}")
    if reply_author and (allowed is None or allowed.get("replied_user", False)):
        found.add(f"user:{reply_author}")
    return found


class DiscordWorld:
    """One guild (``guild``) with text channels ``general`` and ``random``; users alice (Manage Channels
    through the "mods" role), bob (no role) and a bot ``otherbot``; and the bot itself (``bot``)."""

    def __init__(self) -> None:

        self._ids = itertools.count(int(time.time() * 1000 - DISCORD_EPOCH_MS) << 22, 1 << 12)
        self.app_id = self.new_id()
        self.bot = make_user(self.app_id, "parley", bot=True)
        self.mention = f"<@{self.app_id}>"
        self.alice = make_user(self.new_id(), "alice")
        self.bob = make_user(self.new_id(), "bob")
        self.otherbot = make_user(self.new_id(), "otherbot", bot=True)
        self.guild = self.new_id()
        self.mods_role = self.new_id()
        self.bot_role = self.new_id()  # the role Discord manages for the bot (people @mention it by mistake)
        self.general = self.new_id()
        self.random = self.new_id()
        self.roles = {self.alice["id"]: [self.mods_role]}
        self.channels: dict[str, dict[str, Any]] = {
            cid: {
                "id": cid,
                "type": 0,
                "guild_id": self.guild,
                "name": name,
                "position": position,
                "permission_overwrites": [],
                "topic": None,
                "nsfw": False,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "parent_id": None,
            }
            for position, (cid, name) in enumerate([(self.general, "general"), (self.random, "random")])
        }
        self.messages: dict[str, Sent] = {}

    def new_id(self) -> str:
        return str(next(self._ids))

    def open_dm(self, user: dict[str, Any]) -> str:
        channel_id = self.new_id()
        self.channels[channel_id] = {"id": channel_id, "type": 1, "recipients": [user], "last_message_id": None}
        return channel_id

    def permissions(self, user: dict[str, Any]) -> int:
        return EVERYONE_PERMISSIONS | (MANAGE_CHANNELS if self.mods_role in self.roles.get(user["id"], []) else 0)

    def bot_messages(self, channel_id: str) -> list[Sent]:
        return [m for m in self.messages.values() if m.by_bot and m.channel_id == channel_id]

    def bot_texts(self, channel_id: str) -> list[str]:
        return [m.content for m in self.bot_messages(channel_id)]

    def thread_of(self, message_id: str) -> dict[str, Any] | None:
        return self.channels.get(message_id) if self.channels.get(message_id, {}).get("type") == 11 else None

    def _guild(self) -> dict[str, Any]:
        role = {"color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None}
        return {
            "id": self.guild,
            "name": "Fake Guild",
            "owner_id": self.new_id(),
            "icon": None,
            "features": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "roles": [
                {
                    **role,
                    "id": self.guild,
                    "name": "@everyone",
                    "position": 0,
                    "permissions": str(EVERYONE_PERMISSIONS),
                },
                {**role, "id": self.mods_role, "name": "mods", "position": 1, "permissions": str(MANAGE_CHANNELS)},
                {
                    **role,
                    "id": self.bot_role,
                    "name": "parley",
                    "position": 2,
                    "permissions": str(EVERYONE_PERMISSIONS),
                    "managed": True,
                    "tags": {"bot_id": self.app_id},
                },
            ],
            "emojis": [],
            "stickers": [],
            "channels": [c for c in self.channels.values() if c.get("type") == 0],
            "threads": [],
            "members": [{**self._member(self.bot), "user": self.bot}],
            "member_count": 4,
            "large": False,
            "unavailable": False,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": now(),
        }

    def _member(self, user: dict[str, Any]) -> dict[str, Any]:
        return {
            "roles": self.roles.get(user["id"], []),
            "joined_at": now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
        }

    def _message(self, channel: dict[str, Any], author: dict[str, Any], content: str, kind: int = 0) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.new_id(),
            "channel_id": channel["id"],
            "author": author,
            "content": content,
            "timestamp": now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": kind,
            "flags": 0,
            "components": [],
        }
        if channel.get("guild_id"):
            payload["guild_id"] = channel["guild_id"]
            payload["member"] = self._member(author)
        return payload

    def open_thread(
        self, parent_id: str, name: str, *, thread_id: str | None = None, owner: str = ""
    ) -> dict[str, Any]:
        """A thread exists (opened by someone, or while the bot was away: no THREAD_CREATE is sent here)."""
        thread_id = thread_id or self.new_id()
        thread = {
            "id": thread_id,  # a thread opened from a message has the message's id
            "type": 11,
            "guild_id": self.channels[parent_id]["guild_id"],
            "parent_id": parent_id,
            "owner_id": owner or self.alice["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now(),
                "locked": False,
            },
        }
        self.channels[thread_id] = thread
        return thread
