"""What an admin's tool (the web console) asks of the core: channels, their settings, threads, audit, usage.

Settings are checked and stored by the same code as ``/set`` (``Channels``, ``Commands``), so the
allowed values and the messages are the same; a playground turn runs through ``Conversation.receive``
with settings that are not stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

from bot.audit import AuditEntry
from bot.channels import Channels
from bot.commands import Command, Commands, shown_value
from bot.config import Config
from bot.messages import Author, ChatMessage, IncomingMessage
from bot.settings import KEYS, ChannelSettings, SettingError, describe
from bot.sink import ReplySink
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from bot.usage import UsageBook

Receive = Callable[[IncomingMessage, ReplySink, ChannelSettings | None], Awaitable[None]]
ORIGIN = "web console"
PATTERN = "*?["


@dataclass(frozen=True, slots=True)
class SettingRow:
    key: str
    value: str
    """As a form field holds it: "" for a value that is not set."""
    source: str
    description: str
    choices: tuple[str, ...] = ()
    """The only values allowed, when there are few (true/false, a mode)."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    channel: ChannelKey
    last_active: datetime | None
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: str
    prompt: int
    completion: int
    replies: int

    @property
    def tokens(self) -> int:
        return self.prompt + self.completion


@dataclass(frozen=True, slots=True)
class Edited:
    """A settings form checked as ``/set`` checks each value: the settings to try, or what was refused."""

    settings: ChannelSettings
    changed: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BackendInfo:
    name: str
    type: str
    base_url: str
    model: str
    api_key_env: str
    """The name of the variable holding the key, never the key."""


def form_value(value: Any) -> str:
    return "" if value is None else shown_value(value)


def _choices(key: str) -> tuple[str, ...]:
    annotation = ChannelSettings.model_fields[key].annotation
    if annotation is bool:
        return ("true", "false")
    return tuple(str(arg) for arg in get_args(annotation) if isinstance(arg, str))


def _same(raw: str, current: str) -> bool:
    return raw.replace("\r\n", "\n").strip() == current.strip()


class Admin:
    def __init__(
        self, config: Config, store: Store, channels: Channels, commands: Commands, usage: UsageBook, receive: Receive
    ) -> None:
        self._config = config
        self._store = store
        self._channels = channels
        self._commands = commands
        self._usage = usage
        self._receive = receive

    async def channels(self) -> list[ChannelInfo]:
        """Every channel parley has answered or changed settings in, and every one a rule names exactly."""
        seen = {key: datetime.fromtimestamp(at, UTC) for key, at in (await self._store.seen_channels()).items()}
        named: list[ChannelKey] = []
        for rule in self._config.channels:
            if not any(character in rule.match for character in PATTERN):
                try:
                    named.append(ChannelKey.parse(rule.match))
                except ValueError:
                    continue
        every = sorted({*seen, *named}, key=str)
        return [ChannelInfo(key, seen.get(key), self._rules(key)) for key in every]

    def _rules(self, channel: ChannelKey) -> tuple[str, ...]:
        return tuple(layer.source for layer in self._config.layers_for(channel) if layer.source != "[defaults]")

    async def settings(self, channel: ChannelKey) -> list[SettingRow]:
        """Every setting in effect, as a form field holds it, with its source and what it allows."""
        resolved = await self._channels.resolve(channel)
        settings, sources = resolved.settings, resolved.sources
        return [
            SettingRow(key, form_value(getattr(settings, key)), sources[key], describe(key), _choices(key))
            for key in KEYS
        ]

    async def edited(self, channel: ChannelKey, form: Mapping[str, str]) -> Edited:
        """The channel's settings with the form's changed values, each checked as ``/set`` checks it; not stored."""
        current = (await self._channels.resolve(channel)).settings
        changed = self._changed(current, form)
        values: dict[str, Any] = {}
        errors: list[str] = []
        for key, raw in changed.items():
            try:
                values[key] = (await self._channels.check(channel, key, raw)).value
            except SettingError as error:
                errors.append(f"Not changed: {error}")
        return Edited(current.model_copy(update=values), changed, errors)

    def _changed(self, current: ChannelSettings, form: Mapping[str, str]) -> dict[str, str]:
        changed: dict[str, str] = {}
        for key in KEYS:
            if key not in form or _same(form[key], form_value(getattr(current, key))):
                continue
            raw = form[key].replace("\r\n", "\n").strip()
            changed[key] = raw or "none"
        return changed

    async def save(self, channel: ChannelKey, form: Mapping[str, str], who: str) -> list[str]:
        """Store each changed value as the channel's runtime override, as ``/set`` does: its answers, in order."""
        current = (await self._channels.resolve(channel)).settings
        thread = ThreadKey(channel.platform, channel.workspace, channel.channel, "console")
        author = Author(who, who, is_admin=True)
        answers = []
        for key, raw in self._changed(current, form).items():
            answers.append(await self._commands.run(Command("set", f"{key} {raw}"), thread, author, origin=ORIGIN))
        return answers

    async def play(self, thread: ThreadKey, text: str, settings: ChannelSettings, sink: ReplySink, who: str) -> None:
        """One playground turn, answered through the core's own path with these (unsaved) settings."""
        author = Author(who, who, is_admin=True)
        message = IncomingMessage(thread, author, text, f"console-{uuid.uuid4().hex}", mentioned=True)
        await self._receive(message, sink, settings)

    async def threads(self, channel: ChannelKey) -> list[tuple[ThreadKey, datetime]]:
        found = await self._store.recent_threads(channel)
        return [(thread, datetime.fromtimestamp(at, UTC)) for thread, at in found]

    async def history(self, thread: ThreadKey) -> list[ChatMessage]:
        return await self._store.thread_messages(thread)

    async def forget(self, thread: ThreadKey) -> None:
        """The same as ``/reset`` in that thread."""
        await self._store.forget_thread(thread)

    async def audit(self, channel: ChannelKey | None = None) -> list[AuditEntry]:
        entries = [AuditEntry.from_json(raw) for raw in await self._store.audit(channel)]
        return [entry for entry in entries if entry is not None]

    async def usage(self, channel: ChannelKey, days: int = 14) -> list[DayUsage]:
        """The channel's tokens and replies on each of the last ``days`` UTC days, oldest first."""
        today = date.fromisoformat(self._usage.today())
        names = [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
        totals = await self._store.usage_by_day(names, channel)
        return [
            DayUsage(day, found.get("prompt", 0), found.get("completion", 0), found.get("replies", 0))
            for day, found in zip(names, totals, strict=True)
        ]

    def backends(self) -> list[BackendInfo]:
        found = self._config.backends.items()
        return [
            BackendInfo(name, one.type, one.base_url, one.model or one.deployment or "", one.api_key_env or "")
            for name, one in found
        ]
