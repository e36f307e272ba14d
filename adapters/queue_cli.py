"""``parley queue status|dead|retry`` and ``parley worker``: the durable queue from the command line."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import RedisError

from adapters import run
from bot.api import NO_BACKEND_HELP, Config, ConfigError, open_queue

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]
    Add = Callable[[Commands, str, str, Callable[[argparse.Namespace], int]], argparse.ArgumentParser]
    Load = Callable[[argparse.Namespace], Config]


def add_commands(commands: Commands, add: Add, load: Load, until_signal: Callable[..., int]) -> None:
    """``parley worker`` and ``parley queue ...`` (``load``: the config and logging; ``until_signal``: runs a
    server until SIGTERM, exit 128 + the signal)."""

    def cmd_worker(args: argparse.Namespace) -> int:
        config = load(args)
        if not config.backends:
            raise ConfigError(NO_BACKEND_HELP)
        names = run.chosen(None, os.environ)
        return until_signal(run.serve_worker(config, os.environ, names, args.host, args.port))

    def cmd_status(args: argparse.Namespace) -> int:
        print(_queued(_status(load(args))))
        return 0

    def cmd_dead(args: argparse.Namespace) -> int:
        listed = _queued(_dead(load(args)))
        print(listed, end="") if listed else print("no dead letters", file=sys.stderr)
        return 0

    def cmd_retry(args: argparse.Namespace) -> int:
        entry = _queued(_retry(load(args), args.id))
        if entry is None:
            print(f"parley: {args.id} is not a dead letter (parley queue dead lists them)", file=sys.stderr)
            return 1
        print(f"queued {args.id} again as {entry}")
        return 0

    worker = add(commands, "worker", "answer queued messages of every platform whose token is set", cmd_worker)
    worker.add_argument("--host", default="0.0.0.0", help="address of its HTTP server (default: 0.0.0.0)")
    worker.add_argument("--port", type=int, default=None,
                        help="serve /healthz, /readyz and /metrics on this port (default: no HTTP)")  # fmt: skip

    queue = commands.add_parser("queue", help="the queue of accepted messages (stored in Redis)")
    queue_commands = queue.add_subparsers(dest="action", required=True, metavar="ACTION")
    add(queue_commands, "status", "depth, oldest age, pending per worker and dead letters, per shard", cmd_status)
    add(queue_commands, "dead", "the messages given up on: id, thread, attempts, reason, age", cmd_dead)
    retry = add(queue_commands, "retry", "queue a dead letter again", cmd_retry)
    retry.add_argument("id", metavar="ID", help="a dead letter's id, as parley queue dead lists it")


T = TypeVar("T")


def _queued(main: Coroutine[Any, Any, T]) -> T:
    """Run a queue command; Redis going away under it (a parley it joined stopped) is said in one line."""
    try:
        return asyncio.run(main)
    except (RedisError, OSError) as error:
        raise ConfigError(f"lost the connection to Redis: {error}") from None


async def _status(config: Config) -> str:
    async with open_queue(config) as queue:
        status = await queue.status()
    lines = []
    for shard in status.shards:
        age = "-" if shard.oldest_age is None else _age(shard.oldest_age)
        pending = ", ".join(f"{name}: {count}" for name, count in sorted(shard.pending.items())) or "none"
        lines.append(f"{shard.platform} shard {shard.shard}: depth {shard.depth}, oldest {age}, pending {pending}")
    lines.append(f"dead letters: {status.dead}")
    return "\n".join(lines)


async def _dead(config: Config) -> str:
    async with open_queue(config) as queue:
        letters = await queue.dead()
    now = time.time()
    return "".join(
        f"{letter.id}  {letter.thread}  attempts {letter.attempts}  {letter.reason}  {_age(now - letter.when)} ago\n"
        for letter in letters
    )


async def _retry(config: Config, dead_id: str) -> str | None:
    async with open_queue(config) as queue:
        return await queue.retry(dead_id)


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"
