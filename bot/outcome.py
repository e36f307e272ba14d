"""How a reply sink hears that a turn got no answer, for a sink that keeps count.

The terminal's sink counts them, so that ``parley chat`` with piped input can
exit with a status that tells a script whether every line was answered. A
turn fails when it ends with a notice instead of an answer: the backend
failed, the message was too long, the daily budget was spent, a rate limit was
hit, the thread was busy, or something broke. A refused command is not a failed turn: it was
answered.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class OutcomeSink(Protocol):
    def turn_failed(self) -> None:
        """This turn ends with a notice, not an answer."""
        ...


def turn_failed(sink: object) -> None:
    """Tell ``sink`` its turn failed, if it is one that keeps count."""
    if isinstance(sink, OutcomeSink):
        sink.turn_failed()
