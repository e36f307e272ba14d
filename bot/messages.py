"""What an adapter hands to the core, and what the core sends to a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bot.threads import ThreadKey

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Author:
    id: str
    name: str = ""
    is_admin: bool = False
    """Set by the adapter from the platform's own roles (workspace admin, Manage Channels)."""


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
    context: str = ""
    """What the platform says about where the user is (the channel they look at), added to the system prompt."""
    received_at: datetime = field(default_factory=_now)
