"""A channel's tokens per day as a small SVG bar chart, with its daily budget as a line (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.api import DayUsage

WIDTH, HEIGHT, MARGIN = 560, 180, 30


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    day: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    budget_y: float | None
    top: int
    """The token count at the top of the plot."""
    summary: str
    """The chart in words, for screen readers."""


def usage_chart(days: Sequence[DayUsage], budget: int | None) -> Chart:
    top = max([day.tokens for day in days] + [budget or 0, 1])
    plot = HEIGHT - 2 * MARGIN
    step = (WIDTH - 2 * MARGIN) / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        height = plot * day.tokens / top
        label = f"{day.day}: {day.tokens} tokens, {day.replies} replies"
        bars.append(Bar(MARGIN + index * step + 2, HEIGHT - MARGIN - height, step - 4, height, label, day.day[5:]))
    budget_y = HEIGHT - MARGIN - plot * budget / top if budget else None
    total = sum(day.tokens for day in days)
    limit = f"; daily budget {budget} tokens" if budget else "; no daily budget"
    summary = f"Tokens per day over the last {len(days)} days (UTC): {total} in all{limit}."
    return Chart(WIDTH, HEIGHT, bars, budget_y, top, summary)
