"""An in-memory reply sink: the adapter side of the contract, recording what a user would see."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.sink import SinkLimits


@dataclass
class Write:
    kind: str  # "post" or "edit"
    message_id: str
    text: str
    at: float


@dataclass
class RecordingSink:
    limits: SinkLimits = field(default_factory=lambda: SinkLimits(max_chars=3500, edit_interval=0.0))
    messages: dict[str, str] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)

    async def post(self, text: str) -> str:
        assert text.strip(), "the core posted an empty message"
        assert len(text) <= self.limits.max_chars, "the core posted an over-long message"
        message_id = str(len(self.messages) + 1)
        self.messages[message_id] = text
        self.writes.append(Write("post", message_id, text, time.monotonic()))
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        assert message_id in self.messages, "the core edited a message it never posted"
        assert text.strip(), "the core blanked a message"
        assert len(text) <= self.limits.max_chars, "the core made a message over-long"
        self.messages[message_id] = text
        self.writes.append(Write("edit", message_id, text, time.monotonic()))

    @property
    def texts(self) -> list[str]:
        """What the thread shows now, message by message."""
        return list(self.messages.values())

    @property
    def last(self) -> str:
        return self.texts[-1]
