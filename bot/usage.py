"""Token usage: what each reply cost, daily totals per channel and user, and the daily budget.

Counts come from the backend's own ``Usage`` report; only when it sent none
(or the reply was cut off) are they estimated offline (``bot/prompt.py``) and
marked so. Days are UTC days; the clock is injected, so tests can move it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.llm.base import Usage
from bot.prompt import estimate_tokens
from bot.store import Store
from bot.threads import ChannelKey

Clock = Callable[[], datetime]
USAGE_TTL_DAYS = 40
"""How long daily totals are kept (``parley usage --date`` looks back this far)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def day_of(moment: datetime) -> str:
    """The UTC day of a moment, ``YYYY-MM-DD`` (a naive datetime counts as UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date().isoformat()


def parse_day(text: str) -> str:
    """``YYYY-MM-DD``, checked; ValueError with the expected form otherwise."""
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a date: write YYYY-MM-DD, e.g. 2026-01-31") from None


def estimate(prompt_tokens: int, completion: str) -> Usage:
    """Counts for a call the backend reported none for: the prompt's estimate, the text written."""
    return Usage(prompt_tokens, estimate_tokens(completion), estimated=True)


def add(first: Usage, second: Usage | None) -> Usage:
    """Two calls' usage together (estimated if either was)."""
    if second is None:
        return first
    return Usage(
        first.prompt_tokens + second.prompt_tokens,
        first.completion_tokens + second.completion_tokens,
        first.estimated or second.estimated,
    )


@dataclass(frozen=True, slots=True)
class ReplyCost:
    """One turn's tokens, as they are added to the day's totals."""

    usage: Usage
    fallback: bool = False
    capped: bool = False
    answered: bool = True
    """False: the tokens of a summary call whose reply then failed (they were spent all the same)."""

    def counts(self) -> dict[str, int]:
        return {
            "prompt": self.usage.prompt_tokens,
            "completion": self.usage.completion_tokens,
            "replies": int(self.answered),
            "estimated": int(self.usage.estimated),
            "fallbacks": int(self.fallback),
            "capped": int(self.capped),
        }


def budget_spent_text(budget: int, used: int) -> str:
    return (
        f"This channel has used its daily budget of {budget} tokens ({used} used today). "
        "The bot answers again after midnight UTC; an admin can raise daily_token_budget."
    )


def budget_held_text(budget: int, used: int) -> str:
    return (
        f"This channel's daily budget of {budget} tokens is nearly spent ({used} used today), and replies "
        "still being written may use the rest. Please try again in a minute."
    )


@dataclass(frozen=True, slots=True)
class Hold:
    """A reply's share of the day's budget, held while it is written."""

    day: str
    member: str


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    allowed: bool
    hold: Hold | None = None
    refusal: str = ""
    """What the user is told when not allowed."""


def _tokens(prompt: int, completion: int) -> str:
    return f"{prompt + completion} tokens (prompt {prompt}, completion {completion})"


def channel_report(channel: ChannelKey, day: str, totals: Mapping[str, int], users: Mapping[str, int],
                   budget: int | None) -> str:  # fmt: skip
    """What ``/usage`` and ``parley usage CHANNEL`` print."""
    if not totals:
        lines = [f"No tokens used in {channel} on {day} (UTC)."]
    else:
        get = totals.get
        lines = [
            f"Usage in {channel} on {day} (UTC):",
            f"  {_tokens(get('prompt', 0), get('completion', 0))}",
            f"  {get('replies', 0)} replies: {get('estimated', 0)} with estimated counts, "
            f"{get('fallbacks', 0)} by a fallback, {get('capped', 0)} cut off at the time cap",
        ]
    if budget is not None:
        used = totals.get("prompt", 0) + totals.get("completion", 0)
        lines.append(f"  daily budget: {budget} tokens, {max(0, budget - used)} left")
    per_user = _per_user(users)
    if per_user:
        lines.append("By user:")
        lines += [f"  {user:<20} {_tokens(*counts)}" for user, counts in per_user]
    return "\n".join(lines)


def _per_user(users: Mapping[str, int]) -> list[tuple[str, tuple[int, int]]]:
    """(user, (prompt, completion)), the biggest users first."""
    counts: dict[str, list[int]] = {}
    for field, amount in users.items():
        user, _, kind = field.rpartition(":")
        counts.setdefault(user, [0, 0])[0 if kind == "prompt" else 1] += amount
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    return [(user, (prompt, completion)) for user, (prompt, completion) in ranked]


class UsageBook:
    """Daily token totals in the store, per channel and per user."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def today(self) -> str:
        return day_of(self._clock())

    async def record(self, channel: ChannelKey, user: str, cost: ReplyCost) -> None:
        """One round trip."""
        await self._store.add_usage(self.today(), channel, user, cost.counts(), USAGE_TTL_DAYS * 86400)

    async def hold(self, channel: ChannelKey, budget: int | None, tokens: int, seconds: float) -> BudgetCheck:
        """Whether the channel may call the model now; if so, ``tokens`` of its budget are held for
        ``seconds`` (or until ``release``), so that concurrent replies cannot all pass a nearly spent budget."""
        if budget is None:
            return BudgetCheck(True)
        moment = self._clock()
        day, now, hold = day_of(moment), moment.timestamp(), f"{uuid.uuid4().hex}:{max(0, tokens)}"
        held, used, _ = await self._store.hold_budget(
            day, channel, budget, hold, now=now, until=now + seconds, ttl_seconds=2 * 86400
        )
        if held:
            return BudgetCheck(True, Hold(day, hold))
        refusal = budget_spent_text(budget, used) if used >= budget else budget_held_text(budget, used)
        return BudgetCheck(False, refusal=refusal)

    async def release(self, channel: ChannelKey, hold: Hold) -> None:
        await self._store.release_budget(hold.day, channel, hold.member)

    async def report(self, channel: ChannelKey, day: str | None, budget: int | None) -> str:
        totals, users = await self._store.channel_usage(day or self.today(), channel)
        return channel_report(channel, day or self.today(), totals, users, budget)

    async def day_report(self, day: str | None) -> str:
        """Every channel's totals that day, then every user's across channels (``parley usage``)."""
        day = day or self.today()
        channels = await self._store.usage_channels(day)
        if not channels:
            return f"No tokens used on {day} (UTC)."
        lines = [f"Usage on {day} (UTC), by channel:"]
        everyone: dict[str, int] = {}
        for channel in channels:
            totals, users = await self._store.channel_usage(day, channel)
            lines.append(f"  {channel!s:<30} {_tokens(totals.get('prompt', 0), totals.get('completion', 0))}, "
                         f"{totals.get('replies', 0)} replies")  # fmt: skip
            for field, amount in users.items():
                key = f"{channel.platform}:{field}"
                everyone[key] = everyone.get(key, 0) + amount
        lines.append("By user (all channels):")
        lines += [f"  {user:<30} {_tokens(*counts)}" for user, counts in _per_user(everyone)]
        return "\n".join(lines)
