"""The usage chart: one bar per day, scaled to the larger of the busiest day and the budget, and a budget line."""

from __future__ import annotations

from adapters.web.charts import HEIGHT, MARGIN, usage_chart
from bot.api import DayUsage


def test_bars_scale_to_the_budget_and_the_line_marks_it() -> None:
    days = [DayUsage("2026-01-01", 100, 50, 2), DayUsage("2026-01-02", 0, 0, 0), DayUsage("2026-01-03", 300, 0, 3)]
    chart = usage_chart(days, budget=600)
    assert chart.top == 600
    assert [round(bar.height, 2) for bar in chart.bars] == [30.0, 0.0, 60.0]  # of a 120-pixel plot
    assert chart.budget_y == MARGIN and chart.bars[2].y == HEIGHT - MARGIN - 60
    assert chart.bars[0].label == "2026-01-01: 150 tokens, 2 replies" and chart.bars[0].day == "01-01"
    assert "450 in all; daily budget 600 tokens" in chart.summary


def test_without_a_budget_there_is_no_line() -> None:
    chart = usage_chart([DayUsage("2026-01-01", 10, 10, 1)], budget=None)
    assert chart.budget_y is None and chart.top == 20 and "no daily budget" in chart.summary
