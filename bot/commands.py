"""The commands every adapter offers: /reset, /set, /unset, /show, /models, /usage, /help.

Chat platforms deliver them as slash commands, the terminal as lines that
start with ``/``; all end up in ``Commands.run`` and get a text answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.audit import Changer
from bot.channels import Channels
from bot.config import Config
from bot.desk import NOT_HANDED_OFF, TAKEN_BACK, Desk
from bot.messages import TERMINAL_STYLE, Author, CommandStyle
from bot.settings import KEYS, SettingError, describe, format_value
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from bot.usage import UsageBook, parse_day

HELP = {
    "reset": "forget this thread's history",
    "resume": "answer again in a thread handed to a person (a helpdesk channel)",
    "set": "KEY VALUE: change a setting for this channel (admins)",
    "unset": "KEY: drop this channel's override of a setting (admins)",
    "show": "the settings in effect here and where each comes from",
    "models": "the configured backends and their models",
    "usage": "[YYYY-MM-DD]: tokens this channel used today (UTC) or that day, and by whom",
    "help": "this help",
}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


def parse_command(text: str) -> Command | None:
    """``/set temperature 0.2`` -> Command("set", "temperature 0.2"); other text -> None.

    Only a word made of letters counts as a command name (an unknown one gets
    the help), so a message such as "/etc/hosts has a typo" goes to the model.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return None
    name, _, args = stripped[1:].partition(" ")
    if not name.isalpha() or not name.isascii():
        return None
    return Command(name.lower(), args.strip())


KEY_WIDTH = max(len(key) for key in KEYS)


def help_text() -> str:
    lines = ["Commands:"]
    lines += [f"  /{name:<6} {text}" for name, text in HELP.items()]
    lines.append("Settings:")
    lines += [f"  {key:<{KEY_WIDTH}} {describe(key)}" for key in KEYS]
    return "\n".join(lines)


SHOWN_CHARS = 28
"""A value's column in /show (a longer one is cut), so that the whole table fits one chat message."""


def show_text(title: str, rows: list[tuple[str, str, str]]) -> str:
    width = max(len(row[1]) for row in rows)
    width = min(max(width, 8), SHOWN_CHARS)
    key_width = max(len(row[0]) for row in rows)
    lines = [title]
    for key, value, source in rows:
        shown = value if len(value) <= SHOWN_CHARS else value[: SHOWN_CHARS - 3] + "..."
        lines.append(f"  {key:<{key_width}} {shown:<{width}}  ({source})")
    return "\n".join(lines)


def shown_value(value: Any) -> str:
    """A setting as /show lists it: a whole number of seconds is 300, not 300.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return format_value(value)


class Commands:
    def __init__(
        self,
        config: Config,
        store: Store,
        channels: Channels,
        usage: UsageBook | None = None,
        desk: Desk | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._channels = channels
        self._usage = usage or UsageBook(store)
        self._desk = desk

    async def run(
        self,
        command: Command,
        thread: ThreadKey,
        author: Author,
        style: CommandStyle = TERMINAL_STYLE,
        origin: str | None = None,
    ) -> str:
        """The answer to a command, naming other commands as this platform's users type them.

        ``origin``: where a settings change comes from, for the audit (default: ``chat (PLATFORM)``).
        """
        return style.phrase(await self._answer(command, thread, author, origin or f"chat ({thread.platform})"))

    async def _answer(self, command: Command, thread: ThreadKey, author: Author, origin: str) -> str:
        channel = thread.channel_key
        if command.name == "reset":
            await self._store.clear_history(thread)
            await self._store.mark_reset(thread, self._config.history.ttl_seconds)
            return "Done: this thread's history is forgotten. Your next message starts afresh."
        if command.name == "resume":
            return await self._resume(thread)
        if command.name == "show":
            return await self.show(channel)
        if command.name == "models":
            return await self.models(channel)
        if command.name == "usage":
            return await self.usage(channel, command.args)
        if command.name == "help":
            return help_text()
        if command.name in ("set", "unset"):
            if not (author.is_admin or self._config.is_admin(thread.platform, author.id)):
                return "Sorry, only admins can change this channel's settings. /show lists them."
            who = f"{author.name} ({author.id})" if author.name and author.name != author.id else author.id
            return await self._change(command, channel, Changer(who, origin))
        return f"Unknown command /{command.name}.\n{help_text()}"

    async def _resume(self, thread: ThreadKey) -> str:
        if self._desk is not None and await self._desk.take_back(thread):
            return TAKEN_BACK
        return NOT_HANDED_OFF

    async def show(self, channel: ChannelKey) -> str:
        resolved = await self._channels.resolve(channel)
        settings = resolved.settings
        rows = []
        for key in KEYS:
            value = shown_value(getattr(settings, key))
            if key == "model" and settings.model is None and settings.backend:
                rows.append((key, *await self._backend_model(settings.backend)))
                continue
            rows.append((key, value, resolved.sources[key]))
        return show_text(f"Settings for {channel}:", rows)

    async def _backend_model(self, backend: str) -> tuple[str, str]:
        """The model a channel with no model setting gets, and where it comes from."""
        configured = self._config.backends.get(backend)
        if configured is not None and configured.model:
            return configured.model, f"backend {backend}"
        found = await self._channels.default_model(backend)
        return found or "(unknown: its server cannot be asked now)", f"backend {backend}: the first its server lists"

    async def models(self, channel: ChannelKey) -> str:
        settings = (await self._channels.resolve(channel)).settings
        lines = ["Backends (/set backend NAME, /set model NAME):"]
        for name, backend in self._config.backends.items():
            model = backend.model or await self._listed_model(name)
            here = "  <- this channel" if name == settings.backend else ""
            lines.append(f"  {name:<12} {model} at {backend.base_url}{here}")
        if settings.model:
            lines.append(f"This channel uses model {settings.model}.")
        return "\n".join(lines)

    async def _listed_model(self, backend: str) -> str:
        found = await self._channels.default_model(backend)
        if found is None:
            return "the first model the server lists (it does not answer now)"
        return f"{found} (the first the server lists)"

    async def usage(self, channel: ChannelKey, args: str = "") -> str:
        """Today's (or the given day's) token totals of the channel, with its budget."""
        try:
            day = parse_day(args) if args else None
        except ValueError as error:
            return f"Usage: /usage [YYYY-MM-DD]: {error}"
        budget = (await self._channels.resolve(channel)).settings.daily_token_budget
        report = await self._usage.report(channel, day, budget)
        if self._desk is None:
            return report
        desk = await self._desk.report(channel, day or self._usage.today())
        return "\n".join([report, *desk])

    async def day_report(self, day: str | None = None) -> str:
        """Every channel's totals that day (today, UTC, by default), then every user's (``parley usage``)."""
        return await self._usage.day_report(day)

    async def _change(self, command: Command, channel: ChannelKey, by: Changer) -> str:
        key, _, raw = command.args.partition(" ")
        key = key.strip().lower()
        try:
            if command.name == "set":
                if not key or not raw.strip():
                    return "Usage: /set KEY VALUE, e.g. /set temperature 0.3. /help lists the settings."
                stored = await self._channels.set(channel, key, raw, by)
                note = f" ({stored.note})" if stored.note else ""
                return f"{key} is now {format_value(stored.value)} in {channel}{note}."
            if not key:
                return "Usage: /unset KEY, e.g. /unset temperature."
            removed = await self._channels.unset(channel, key, by)
        except SettingError as error:
            return f"Not changed: {error}"
        resolved = await self._channels.resolve(channel)
        now = f"{format_value(getattr(resolved.settings, key))} ({resolved.sources[key]})"
        if not removed:
            return f"{key} had no override in {channel}; it stays {now}."
        return f"Override of {key} removed in {channel}; it is now {now}."
