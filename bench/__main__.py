"""``python -m bench``: run the benchmark, print the table, write the JSON (see ``--help``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform as host
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import phases
from bench.bots import DEFAULT_PARLEY, REPO
from bench.report import Results, table, targets
from bench.sizes import SMOKE, Sizes
from bench.stage import Stage
from bot.redis_server import RedisServer
from tests.support.net import free_port

LATEST = REPO / "bench" / "results" / "latest.json"
"""Where a run's JSON goes unless ``--out`` says otherwise (not kept in git)."""


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def parse(argv: list[str]) -> tuple[Sizes, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="parley beside floor bots over loopback fakes (docs/performance.md). "
        "Exits 1 when any reply went unanswered.",
    )
    parser.add_argument("--smoke", action="store_true", help="a few-second run that only proves the harness works")
    parser.add_argument("--out", type=Path, default=LATEST, help=f"where the JSON goes (default: {LATEST})")
    parser.add_argument(
        "--parley", default=DEFAULT_PARLEY, help="the parley executable to measure (another checkout's)"
    )
    parser.add_argument("--label", default="", help="a name for this run in the JSON (e.g. 'before')")
    parser.add_argument(
        "--parley-env", action="append", default=[], metavar="NAME=VALUE",
        help="an environment variable for parley (repeatable), e.g. PARLEY_LOG_FORMAT=json",
    )  # fmt: skip
    parser.add_argument("--platforms", help="comma-separated: slack,discord")
    parser.add_argument("--conversations", type=int, help="latency: conversations per model speed (2 replies each)")
    parser.add_argument("--stream-seconds", type=float, help="latency: the streamed model's duration")
    parser.add_argument("--throughput", type=_ints, help="throughput: conversations in flight, e.g. 1,10,100")
    parser.add_argument("--throughput-replies", type=_ints, help="throughput: replies measured at each level")
    parser.add_argument("--scale", type=int, help="scale: conversations streaming at once (0: skip)")
    parser.add_argument("--scale-seconds", type=float, help="scale: each stream's duration")
    parser.add_argument("--history", type=_ints, help="history: thread lengths in turns, e.g. 1,100,1000")
    parser.add_argument("--history-messages", type=int, help="history: messages measured per length")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    given = {
        "platforms": tuple(args.platforms.split(",")) if args.platforms else None,
        "conversations": args.conversations,
        "stream_seconds": args.stream_seconds,
        "throughput_levels": args.throughput,
        "throughput_replies": args.throughput_replies,
        "scale": args.scale,
        "scale_seconds": args.scale_seconds,
        "history_lengths": args.history,
        "history_messages": args.history_messages,
    }
    sizes = dataclasses.replace(sizes, **{key: value for key, value in given.items() if value is not None})
    if len(sizes.throughput_replies) != len(sizes.throughput_levels):
        parser.error("--throughput-replies needs one count per --throughput level")
    if any("=" not in given for given in args.parley_env):
        parser.error("--parley-env takes NAME=VALUE")
    extra = dict(given.split("=", 1) for given in args.parley_env)
    sizes = dataclasses.replace(sizes, parley_env={**sizes.parley_env, **extra})
    return sizes, args


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def run_stage(stage: Stage, sizes: Sizes, numbers: phases.Numbers, results: Results) -> None:
    platform, kind, limit = stage.platform, stage.kind, sizes.reply_limit

    def keep(phase: str, figures: phases.Figures) -> None:
        results.setdefault(platform, {}).setdefault(phase, {})[kind] = figures.as_json()
        say(f"{platform} {kind} {phase}: {figures.answered}/{figures.replies} answered, "
            f"complete p50 {figures.complete_p50_ms} ms")  # fmt: skip

    keep("latency instant", await phases.latency(stage, numbers, sizes.conversations, 0.0, 1, limit))
    keep(
        "latency stream",
        await phases.latency(stage, numbers, sizes.conversations, sizes.stream_seconds, sizes.stream_in_flight, limit),
    )
    for level, replies in zip(sizes.throughput_levels, sizes.throughput_replies, strict=True):
        keep(f"throughput {level} in flight", await phases.throughput(stage, numbers, level, replies, limit))
    if platform == "slack" and kind == "parley":
        for turns in sizes.history_lengths:
            keep(f"history {turns} turns", await phases.history(stage, numbers, turns, sizes.history_messages, limit))
    if platform == "slack" and sizes.scale:  # last: what 2,000 replies leave behind does not spill into the others
        keep(
            f"scale {sizes.scale}",
            await phases.scale(stage, numbers, sizes.scale, sizes.scale_seconds, sizes.scale_limit),
        )


async def run(sizes: Sizes, args: argparse.Namespace) -> dict[str, Any]:
    results: Results = {}
    numbers = phases.Numbers()
    parley_env = {
        "PARLEY_HISTORY__MAX_TURNS": str(max((*sizes.history_lengths, 100))),
        "PARLEY_RATE_LIMITS__USER_PER_MINUTE": "0",  # one simulated user sends every message: measure, not throttle
        "PARLEY_RATE_LIMITS__CHANNEL_PER_MINUTE": "0",
        **sizes.parley_env,
    }
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        redis = RedisServer(Path(tmp) / "redis", port=free_port(), persistent=False)
        redis_url = await redis.start()
        try:
            for platform in sizes.platforms:
                for kind in ("floor", "parley"):
                    say(f"{platform}: starting {kind}")
                    home = Path(tmp) / f"{platform}-{kind}"
                    async with Stage(kind, platform, redis_url=redis_url, home=home, parley=args.parley,
                                     parley_env=parley_env) as stage:  # fmt: skip
                        await run_stage(stage, sizes, numbers, results)
        finally:
            await redis.stop()
    checks = targets(results, sizes.scale)
    return {
        "label": args.label,
        "parley": args.parley,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": host.python_version(), "system": host.platform()},
        "sizes": dataclasses.asdict(sizes),
        "results": results,
        "targets": checks,
    }


def main(argv: list[str] | None = None) -> int:
    sizes, args = parse(sys.argv[1:] if argv is None else argv)
    document = asyncio.run(run(sizes, args))
    print(table(document["results"], document["targets"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten: {args.out} ({document['duration_s']} s)")
    answered = all(
        figures["answered"] == figures["replies"]
        for phases_of in document["results"].values()
        for bots in phases_of.values()
        for figures in bots.values()
    )
    return 0 if answered else 1


if __name__ == "__main__":
    sys.exit(main())
