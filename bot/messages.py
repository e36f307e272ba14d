"""What an adapter hands to the core, and what the core sends to a model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.threads import ThreadKey

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Image:
    """An image for a model that sees images; never stored (the history keeps ``[image: name]``)."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    images: tuple[Image, ...] = ()
    """Images sent with this message (the new user message only)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message, as the adapter fetched it (or did not)."""

    name: str
    media_type: str
    """As the platform reports it (``application/pdf``); "" when it reports none."""
    size: int
    """In bytes, as the platform reports it."""
    data: bytes | None = None
    """The file's content; None when the adapter did not fetch it (``worth_fetching`` said no) or could not."""
    problem: str = ""
    """Why the adapter could not fetch it, for the user ("the app may not read files: ...")."""


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    name: str = ""
    is_admin: bool = False
    """Set by the adapter from the platform's own roles (workspace admin, Manage Channels)."""


_COMMAND = re.compile(r"(?<![\w/])/(reset|resume|set|unset|show|models|usage|help)\b")
IN_THREAD = ("reset", "resume")
"""Commands typed in the thread they act on: by mentioning the bot, where slash commands carry no thread."""


@dataclass(frozen=True, slots=True)
class CommandStyle:
    """How users type parley's commands where they talk to it.

    The core's own texts name commands as the terminal writes them (``/reset``,
    ``/show``); ``phrase`` rewrites them for the platform: ``/parley show`` in
    a chat platform whose slash commands carry no thread, where a thread is reset by mentioning the bot.
    """

    prefix: str = "/"
    """What comes before a command's name: ``/parley `` for a platform's slash command."""
    reset: str = "/reset"
    """How to reset a thread (``@parley reset``, where slash commands carry no thread)."""

    def phrase(self, text: str) -> str:
        if self == TERMINAL_STYLE:
            return text
        return _COMMAND.sub(lambda found: self._named(found[1]), text)

    def _named(self, command: str) -> str:
        if command in IN_THREAD:
            return self.reset.removesuffix("reset") + command
        return f"{self.prefix}{command}"


TERMINAL_STYLE = CommandStyle()


@dataclass(frozen=True, slots=True)
class PriorMessage:
    """A message of the thread that parley was not asked to answer: written before it joined the thread,
    or while it was not addressed. The adapter names the author as the platform shows them."""

    author: str
    """The author's display name."""
    text: str


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One user message, as every adapter describes it to the core."""

    thread: ThreadKey
    author: Author
    text: str
    event_id: str
    """The platform's id for this delivery; a redelivery carries the same id."""
    mentioned: bool = False
    is_dm: bool = False
    viewing: str = ""
    """The channel the user is looking at beside this conversation, as the platform links it
    (an assistant side panel: ``<#C0123>``); the core tells the model, for this turn only."""
    style: CommandStyle = TERMINAL_STYLE
    """How this platform's users type commands, for the core's own answers and notices."""
    received_at: datetime = field(default_factory=_now)
    files: tuple[Attachment, ...] = ()
    """Files and images attached to the message (the core decides what it reads of them)."""
    prior: tuple[PriorMessage, ...] = ()
    """The thread's earlier messages, oldest first, when parley is first addressed in a thread it does not
    remember yet (``Conversation.context_wanted`` says whether, and how many, to read)."""
