"""The reply sink: the one thing every adapter implements so the core can answer.

Required: ``limits``, ``post`` and ``edit``. The core decides what to post and
when; the sink only talks to its platform.

Optional: ``waiting`` (see ``StatusSink``), for a sink that can show the user that
an answer is on its way (a typing indicator, an assistant's status line).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class SinkLimits:
    max_chars: int
    """The longest message the platform takes, as ``measure`` counts it."""
    edit_interval: float
    """Seconds to leave between two edits of one message (0: edit on every token)."""
    placeholder: str | None = None
    """Posted at once and then edited into the reply; None: post when the first text arrives."""
    measure: Callable[[str], int] = len
    """How long the platform counts a text; max_chars holds for that (e.g. the markup the sink really sends)."""


class ReplySink(Protocol):
    @property
    def limits(self) -> SinkLimits: ...

    async def post(self, text: str) -> str:
        """Send a new message in the conversation's thread; return its id."""
        ...

    async def edit(self, message_id: str, text: str) -> None:
        """Replace the text of a message this sink posted."""
        ...


@runtime_checkable
class StatusSink(Protocol):
    """A sink that can show a status while the model has not written anything yet."""

    def waiting(self) -> AbstractAsyncContextManager[None]:
        """Shown from entry until exit; the core exits when the first text is shown or the reply fails."""
        ...
