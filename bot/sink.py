"""The reply sink: the one thing every adapter implements so the core can answer.

Required: ``limits``, ``post`` and ``edit``. The core decides what to post and
when; the sink only talks to its platform.

Optional: ``waiting`` (see ``StatusSink``), for a sink that can show the user that
an answer is on its way (a typing indicator, an assistant's status line); ``pace``
(see ``PacedSink``), for a sink whose writes share a rate budget with other replies;
``finished`` (see ``FinishingSink``), for a sink that must close a message it streams;
``post_complete`` (see ``CompleteSink``), for a sink that posts a message no edit will follow more cheaply;
``offer_feedback`` and ``hand_off`` (see ``DeskSink``), for a sink that serves a helpdesk channel.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.pacing import Pace


@dataclass(frozen=True, slots=True)
class SinkLimits:
    max_chars: int
    """The longest message the platform takes, as ``measure`` counts it."""
    edit_interval: float
    """Seconds to leave between two edits of one message while it is written (0: edit on every token).
    Also the rate of the reply's write budget (``edit_burst`` writes, refilled one per interval) when
    the sink does not share one (``PacedSink``): a last edit waits only when that budget is spent."""
    placeholder: str | None = None
    """Posted, then edited into the reply, when no text came within ``grace``; None: the first text is posted."""
    measure: Callable[[str], int] = len
    """How long the platform counts a text; max_chars holds for that (e.g. the markup the sink really sends)."""
    edit_burst: int = 3
    """Writes the reply's own budget allows at once (1: every write waits out ``edit_interval``)."""
    grace: float = 0.0
    """Seconds to wait for the first text before the status and the placeholder are shown (0: at once).
    A fast answer is then posted as it is, with no placeholder to edit and no status to clear."""


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


@runtime_checkable
class PacedSink(Protocol):
    """A sink whose writes take from budgets shared with other replies (its channel's, its workspace's)."""

    def pace(self) -> Pace:
        """The budgets the next write takes from (looked up on every write: a thread may open meanwhile)."""
        ...


@runtime_checkable
class FinishingSink(Protocol):
    """A sink told when a message shows its final text (a platform's native stream must be stopped)."""

    async def finished(self, message_id: str) -> None:
        """No more edits of this message: its last text has been sent."""
        ...


@runtime_checkable
class CompleteSink(Protocol):
    """A sink that posts a message no edit will follow more cheaply than one still being written
    (one call, where a native stream would take three: start, append and stop).

    The core holds such a sink's first text for ``limits.grace``: a reply that ends within it is
    posted once, complete; one still being written when the grace ends is shown from then on.
    """

    async def post_complete(self, text: str) -> str:
        """Send a new message, complete as it is, in the conversation's thread; return its id."""
        ...


@runtime_checkable
class DeskSink(Protocol):
    """A sink for a helpdesk channel (``bot/desk.py``): feedback buttons, and hand-off notices that may ping."""

    async def offer_feedback(self, message_id: str) -> str:
        """Put 👍 / 👎 and "Talk to a person" on an answer's last message (its text stays as it is); return the id
        of the message that carries them (another, when that message had to be posted anew)."""
        ...

    async def hand_off(self, text: str, group: str | None) -> str:
        """Post a hand-off notice in which ``group`` (the channel's on-call mention, as the platform writes it) may
        notify its members, and nobody else; mark the thread as handed off where people see it. Return its id."""
        ...
