"""The run's results: the targets of issue 11 checked, a plain-text table, and the JSON document."""

from __future__ import annotations

from typing import Any

from bench.stats import ratio

Results = dict[str, dict[str, dict[str, dict[str, Any]]]]
"""platform -> phase -> bot ("floor", "parley") -> figures (Figures.as_json)."""

ROWS = (
    ("answered", "answered"),
    ("failure notices", "notices"),
    ("first text p50 ms", "first_p50_ms"),
    ("first text p99 ms", "first_p99_ms"),
    ("complete p50 ms", "complete_p50_ms"),
    ("complete p99 ms", "complete_p99_ms"),
    ("CPU ms / reply", "cpu_ms_per_reply"),
    ("platform calls / reply", "calls_per_reply"),
    ("peak RSS MiB", "peak_rss_mib"),
    ("replies / s", "replies_per_s"),
)


def _get(results: Results, platform: str, phase: str, bot: str, key: str) -> Any:
    return results.get(platform, {}).get(phase, {}).get(bot, {}).get(key)


def targets(results: Results, scale_size: int) -> list[dict[str, Any]]:
    """Issue 11's targets, each with the figures it was judged on and whether it was met (None: not measured)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: float, unit: str) -> None:
        met = None if value is None else value <= limit
        checks.append({"target": name, "value": None if value is None else round(value, 2), "limit": limit,
                       "unit": unit, "met": met})  # fmt: skip

    for platform in results:

        def get(phase: str, bot: str, key: str, platform: str = platform) -> Any:
            return _get(results, platform, phase, bot, key)

        parley, floor = (
            get("latency instant", "parley", "complete_p50_ms"),
            get("latency instant", "floor", "complete_p50_ms"),
        )
        gap = None if parley is None or floor is None else parley - floor
        check(f"{platform}: complete text p50, instant model, minus the floor's", gap, 25, "ms")
        stream = ratio(
            get("latency stream", "parley", "complete_p50_ms"), get("latency stream", "floor", "complete_p50_ms")
        )
        check(f"{platform}: complete text p50, streamed model, over the floor's", stream, 1.15, "x")
        for phase in ("latency instant", "latency stream"):
            cpu = ratio(get(phase, "parley", "cpu_ms_per_reply"), get(phase, "floor", "cpu_ms_per_reply"))
            check(f"{platform}: CPU per reply ({phase}) over the floor's", cpu, 1.5, "x")
        check(
            f"{platform}: platform calls per short reply",
            get("latency instant", "parley", "calls_per_reply"),
            3,
            "calls",
        )
    scale = f"scale {scale_size}"
    if scale in results.get("slack", {}):
        answered = _get(results, "slack", scale, "parley", "answered")
        missing = None if answered is None else scale_size - answered
        check(f"slack: of {scale_size} streams at once, not answered", missing, 0, "replies")
        peak = _get(results, "slack", scale, "parley", "peak_rss_mib")
        check(f"slack: peak RSS with {scale_size} streams at once", peak, 300, "MiB")
        if missing:  # memory held by replies that failed early says nothing about 2,000 streams at once
            checks[-1]["met"] = None
    return checks


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(results: Results, checks: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for platform, phases in results.items():
        for phase, bots in phases.items():
            lines.append(f"\n{platform} / {phase}")
            lines.append(f"  {'':24} {'floor':>10} {'parley':>10} {'parley/floor':>13}")
            for label, key in ROWS:
                floor, parley = bots.get("floor", {}).get(key), bots.get("parley", {}).get(key)
                share = ratio(parley, floor) if key not in ("answered", "notices") else None
                lines.append(f"  {label:24} {_cell(floor):>10} {_cell(parley):>10} {_cell(share):>13}")
            for bot in ("floor", "parley"):
                methods = bots.get(bot, {}).get("calls_by_method") or {}
                if methods:
                    listed = ", ".join(f"{method} {count:.2f}" for method, count in methods.items())
                    lines.append(f"  {bot} calls per reply: {listed}")
    lines.append("\ntargets (issue 11)")
    for item in checks:
        verdict = {True: "met", False: "NOT met", None: "not judged"}[item["met"]]
        lines.append(f"  {verdict:12} {item['target']}: {_cell(item['value'])} {item['unit']} (limit {item['limit']})")
    return "\n".join(lines)
