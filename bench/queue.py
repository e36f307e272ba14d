"""``python -m bench.queue``: messages per second through the durable queue on this machine.

A throwaway embedded Redis (append-only, as parley runs it), then: N messages enqueued across T threads
(each one script: dedup marker, the thread's number, the stream entry), and the same N taken, ordered,
handed to a handler that does nothing, and acknowledged by W workers in this process. The model, the
platform and the history are left out: this is the queue's own ceiling, the figure docs/operations.md cites.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bot.config import Config, QueueConfig
from bot.conversation import Conversation
from bot.jobs import Job, Turn
from bot.redis_server import RedisServer
from bot.runtime import pooled_redis
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.net import free_port


class NoOp:
    platform = "bench"

    def __init__(self, count: list[int], target: int, done: asyncio.Event) -> None:
        self._count, self._target, self._done = count, target, done

    async def handle(self, job: Job, turn: Turn) -> None:
        self._count[0] += 1
        if self._count[0] >= self._target:
            self._done.set()

    async def tell(self, job: Job, text: str) -> None:
        return None


async def measure(messages: int, threads: int, workers: int, shards: int, persistent: bool) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory), port=free_port(), persistent=persistent)
        url = await server.start()
        client = pooled_redis(url, 500)
        try:
            config = Config(redis_prefix="bench", queue=QueueConfig(shards=shards))
            core = Conversation(config=config, store=Store(client, "bench"), backends={})
            keys = [ThreadKey("bench", "W", "C", f"t{n}") for n in range(threads)]
            started = time.perf_counter()
            batch = 200
            for first in range(0, messages, batch):
                await asyncio.gather(*(
                    core.enqueue(keys[n % threads], f"e{n}", {"text": f"message {n}"})
                    for n in range(first, min(first + batch, messages))
                ))  # fmt: skip
            enqueued = time.perf_counter() - started
            count, all_handled = [0], asyncio.Event()
            handlers = [NoOp(count, messages, all_handled) for _ in range(workers)]
            stop = asyncio.Event()
            started = time.perf_counter()
            running = [
                asyncio.create_task(core.worker({"bench": handler}, f"bench-{n}").run(stop))
                for n, handler in enumerate(handlers)
            ]
            await all_handled.wait()
            while True:  # the last acknowledgements
                if sum(shard.depth for shard in (await core.queue.status()).shards) == 0:
                    break
                await asyncio.sleep(0.01)
            answered = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*running)
        finally:
            await client.aclose()
            await server.stop()
    print(f"{messages} messages, {threads} threads, {workers} workers, {shards} shards, "
          f"append-only {'on' if persistent else 'off'}")  # fmt: skip
    print(f"enqueue: {messages / enqueued:,.0f} messages/s ({enqueued:.2f}s)")
    print(f"take + order + ack: {messages / answered:,.0f} messages/s ({answered:.2f}s)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=500, help="threads the messages are spread over")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--no-aof", action="store_true", help="Redis without its append-only file")
    args = parser.parse_args()
    asyncio.run(measure(args.messages, args.threads, args.workers, args.shards, not args.no_aof))


if __name__ == "__main__":
    main()
