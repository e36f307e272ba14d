"""``parley feedback export``: the helpdesk's votes, with what was asked and answered, as CSV or JSON lines."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.api import ChannelKey, Config, open_desk

COLUMNS = ("voted_at", "channel", "thread", "message", "user", "user_name", "vote", "reason", "question", "answer",
           "sources", "settings")  # fmt: skip


async def export(config: Config, channel: ChannelKey | None, since: str | None, form: str) -> str:
    """``since``: a UTC day, ``YYYY-MM-DD`` (checked by the caller)."""
    start = datetime.fromisoformat(since).replace(tzinfo=UTC).timestamp() if since else 0.0
    async with open_desk(config) as desk:
        rows = await desk.export(channel, start)
    return as_jsonl(rows) if form == "jsonl" else as_csv(rows)


def _when(seconds: Any) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")


def as_jsonl(rows: Sequence[Mapping[str, Any]]) -> str:
    return "".join(json.dumps({**row, "voted_at": _when(row["voted_at"])}, ensure_ascii=False) + "\n" for row in rows)


def as_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        cells = {**row, "voted_at": _when(row["voted_at"]), "sources": "; ".join(row.get("sources") or []),
                 "settings": json.dumps(row.get("settings") or {}, sort_keys=True)}  # fmt: skip
        writer.writerow([inert(cells.get(column, "")) for column in COLUMNS])
    return out.getvalue()


def inert(value: Any) -> Any:
    """A cell a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@`` first) is kept as text."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def add_arguments(parser: argparse.ArgumentParser, day: Callable[[str], str]) -> None:
    """``day``: the command line's check of a ``YYYY-MM-DD`` argument."""
    parser.add_argument("--channel", metavar="CHANNEL", help="only this channel, e.g. slack:T1/C42")
    parser.add_argument("--since", metavar="YYYY-MM-DD", type=day, help="only votes from this UTC day on")
    parser.add_argument("--format", dest="form", choices=("csv", "jsonl"), default="csv", help="default: csv")
