"""``/parley show|set|unset|models|usage|help``: the settings panel as a slash command, answered ephemerally."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.config import SlackConfig
from adapters.slack.events import COMMAND_STYLE, PLATFORM
from adapters.slack.people import People
from bot.api import Author, Command, Conversation, ThreadKey

SUBCOMMANDS = ("show", "set", "unset", "models", "usage", "help")
SLACK_HELP = (
    "In Slack: /parley show | set KEY VALUE | unset KEY | models | usage [YYYY-MM-DD] | help, answered only to you. "
    "To forget a thread's history, mention me in it with: reset"
)
SLASH_THREAD = "slash"
"""Slash commands act on the channel; their thread id only has to be a name of its own."""


def parse(text: str) -> Command:
    """``set temperature 0.3`` -> Command("set", "temperature 0.3"); nothing -> help."""
    name, _, args = text.strip().partition(" ")
    return Command(name.lower() or "help", args.strip())


def as_code(text: str) -> str:
    """Multi-line answers (tables of settings) keep their columns in a code block."""
    return f"```\n{text}\n```" if "\n" in text else text


class Slash:
    def __init__(self, conversation: Conversation, config: SlackConfig, people: People) -> None:
        self._conversation = conversation
        self._config = config
        self._people = people

    async def answer(self, command: Mapping[str, Any], team_id: str, client: AsyncWebClient) -> str:
        """The ephemeral answer to one /parley invocation."""
        parsed = parse(str(command.get("text") or ""))
        if parsed.name == "reset":
            return "reset forgets one thread's history: mention me in that thread with the word reset."
        if parsed.name not in SUBCOMMANDS:
            return f"Unknown subcommand {parsed.name!r}.\n{SLACK_HELP}"
        user_id = str(command.get("user_id") or "")
        thread = ThreadKey(PLATFORM, team_id, str(command.get("channel_id") or ""), SLASH_THREAD)
        author = Author(user_id, str(command.get("user_name") or ""), await self._is_admin(parsed, user_id, client))
        answer = await self._conversation.run_command(parsed, thread, author, COMMAND_STYLE)
        if parsed.name == "help":
            return f"{SLACK_HELP}\n{as_code(answer)}"
        return as_code(answer)

    async def _is_admin(self, command: Command, user_id: str, client: AsyncWebClient) -> bool:
        if command.name not in ("set", "unset"):
            return False
        if self._conversation.config.is_admin(PLATFORM, user_id):
            return True
        if self._config.workspace_admins_are_admins:
            return await self._people.is_workspace_admin(client, user_id)
        return False
