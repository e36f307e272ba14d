"""Which backends answer a channel, in order, and when the next one takes over: pure logic.

A channel's primary is its ``backend`` and ``model``; ``fallbacks`` lists the
others ("NAME" or "NAME:MODEL"). The next one answers when the current one fails
before any text was shown, with a failure that another backend may well not
have: it is down or overloaded (``unavailable``, ``rate_limited``), too slow to
start (``timeout``, including the first-token timeout), refuses parley's key
(``auth``: another backend has its own key), does not know the model
(``unknown_model``), or broke off before showing anything (``interrupted``).
A request the backend rejected (``rejected``), an empty answer (``empty``) and
a prompt over the context window (``context``, which is trimmed and retried on
the same backend instead) do not fall back: the next backend would most likely
fail the same way, or the fault is the request's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.llm.base import FailureKind

FALLS_BACK: frozenset[FailureKind] = frozenset(
    {"unavailable", "rate_limited", "timeout", "auth", "unknown_model", "interrupted"}
)
REASONS: dict[FailureKind, str] = {
    "unavailable": "primary unavailable",
    "rate_limited": "primary busy",
    "timeout": "primary too slow",
    "auth": "primary unavailable",
    "unknown_model": "primary unavailable",
    "interrupted": "primary interrupted",
}


@dataclass(frozen=True, slots=True)
class Target:
    backend: str
    model: str | None = None
    """None: the channel's model for the primary, the backend's own model for a fallback."""

    def __str__(self) -> str:
        return self.backend if self.model is None else f"{self.backend}:{self.model}"


def parse_target(text: str) -> Target:
    """``local`` -> Target("local"); ``local:llama3.2:1b`` -> Target("local", "llama3.2:1b")."""
    backend, _, model = text.partition(":")
    return Target(backend, model or None)


def targets(backend: str, model: str | None, fallbacks: Sequence[str]) -> list[Target]:
    """The primary, then each fallback once, in order."""
    chosen = [Target(backend, model)]
    for entry in fallbacks:
        target = parse_target(entry)
        if target not in chosen:
            chosen.append(target)
    return chosen


def falls_back(kind: FailureKind) -> bool:
    return kind in FALLS_BACK


def fallback_note(backend: str, model: str, reason: FailureKind) -> str:
    """The discreet last line of a reply that a fallback wrote."""
    return f"\n\n_answered by {backend}:{model} ({REASONS.get(reason, 'primary unavailable')})_"


def capped_note(seconds: float) -> str:
    """The last line of a reply cut off at the channel's time cap."""
    return f"\n\n_(cut off: the reply took longer than {seconds:g} s)_"
