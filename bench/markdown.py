"""``python -m bench.markdown [--summary] RUN.json [RUN.json ...]``: the runs' figures as Markdown, side by side.

docs/performance.md is written from this, so that its figures are the JSON's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.report import ROWS, targets
from bench.stats import ratio


def _cell(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _methods(figures: dict[str, Any]) -> str:
    return ", ".join(f"{method} {count:.2f}" for method, count in (figures.get("calls_by_method") or {}).items())


def tables(runs: list[dict[str, Any]]) -> str:
    out: list[str] = []
    first = runs[0]["results"]
    for platform, phases in first.items():
        for phase in phases:
            out.append(f"\n#### {platform}: {phase}\n")
            header = "| |" + "".join(f" floor ({r['label']}) | parley ({r['label']}) | ratio |" for r in runs)
            out.append(header)
            out.append("|---|" + "---:|---:|---:|" * len(runs))
            for label, key in ROWS:
                row = f"| {label} |"
                for run in runs:
                    bots = run["results"].get(platform, {}).get(phase, {})
                    floor, parley = bots.get("floor", {}).get(key), bots.get("parley", {}).get(key)
                    share = None if key in ("answered", "notices") else ratio(parley, floor)
                    row += f" {_cell(floor)} | {_cell(parley)} | {_cell(share, 2)} |"
                out.append(row)
            for run in runs:
                for bot in ("floor", "parley"):
                    figures = run["results"].get(platform, {}).get(phase, {}).get(bot)
                    if figures and figures.get("calls_by_method"):
                        out.append(f"\n{bot} ({run['label']}), calls per reply: {_methods(figures)}")
    out.append(target_table(runs))
    return "\n".join(out)


def target_table(runs: list[dict[str, Any]]) -> str:
    """Issue 11's targets, one column per run."""
    out: list[str] = []
    out.append("\n#### Targets\n")
    out.append("| target | limit |" + "".join(f" {r['label']} |" for r in runs))
    out.append("|---|---:|" + "---|" * len(runs))
    for index, item in enumerate(runs[0]["targets"]):
        row = f"| {item['target']} | {item['limit']} {item['unit']} |"
        for run in runs:
            other = run["targets"][index] if index < len(run["targets"]) else {}
            verdict = {True: "met", False: "**not met**", None: "not judged"}[other.get("met")]
            row += f" {_cell(other.get('value'), 2)} ({verdict}) |"
        out.append(row)
    return "\n".join(out)


SUMMARY = (
    ("latency instant", "complete_p50_ms", "instant model: complete text p50, ms"),
    ("latency instant", "complete_p99_ms", "instant model: complete text p99, ms"),
    ("latency instant", "first_p50_ms", "instant model: first text p50, ms"),
    ("latency stream", "first_p50_ms", "0.5 s stream, 4 at once: first text p50, ms"),
    ("latency stream", "complete_p50_ms", "0.5 s stream: complete text p50, ms"),
    ("latency stream", "complete_p99_ms", "0.5 s stream: complete text p99, ms"),
    ("latency instant", "cpu_ms_per_reply", "CPU per reply, instant model, ms"),
    ("latency stream", "cpu_ms_per_reply", "CPU per reply, 0.5 s stream, ms"),
    ("latency instant", "calls_per_reply", "platform calls per reply"),
    ("latency instant", "peak_rss_mib", "peak RSS, MiB"),
)


def _phase_rows(first: dict[str, Any], platform: str) -> list[tuple[str, str, str]]:
    rows = [(phase, key, label) for phase, key, label in SUMMARY]
    for phase in first[platform]:
        if phase.startswith("throughput"):
            rows.append((phase, "replies_per_s", f"{phase}: replies/s"))
        elif phase.startswith("history"):
            rows.append((phase, "complete_p50_ms", f"{phase}: complete text p50, ms"))
            rows.append((phase, "cpu_ms_per_reply", f"{phase}: CPU per message, ms"))
        elif phase.startswith("scale"):
            for key, label in (("answered", "answered"), ("notices", "failure notices"),
                               ("peak_rss_mib", "peak RSS, MiB"), ("cpu_ms_per_reply", "CPU per reply, ms"),
                               ("calls_per_reply", "calls per answered reply"),
                               ("complete_p50_ms", "complete text p50, ms")):  # fmt: skip
                rows.append((phase, key, f"{phase}: {label}"))
    return rows


def summary(runs: list[dict[str, Any]]) -> str:
    """The figures docs/performance.md quotes, one table per platform, the runs side by side."""
    out: list[str] = []
    first = runs[0]["results"]
    for platform in first:
        out.append(f"\n#### {platform}\n")
        out.append("| |" + "".join(f" floor ({r['label']}) | parley ({r['label']}) | ratio |" for r in runs))
        out.append("|---|" + "---:|---:|---:|" * len(runs))
        for phase, key, label in _phase_rows(first, platform):
            row = f"| {label} |"
            for run in runs:
                bots = run["results"].get(platform, {}).get(phase, {})
                floor, parley = bots.get("floor", {}).get(key), bots.get("parley", {}).get(key)
                share = None if key in ("answered", "notices") else ratio(parley, floor)
                row += f" {_cell(floor)} | {_cell(parley)} | {_cell(share, 2)} |"
            out.append(row)
    out.append(target_table(runs))
    return "\n".join(out)


def main(argv: list[str]) -> int:
    brief = argv[:1] == ["--summary"]
    runs = [json.loads(Path(path).read_text()) for path in argv[brief:]]
    for run in runs:  # judged again from the figures, by this version's rules
        run["targets"] = targets(run["results"], run["sizes"]["scale"])
    print(summary(runs) if brief else tables(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
