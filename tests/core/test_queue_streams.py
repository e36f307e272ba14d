"""The registry of the queue's streams (``{prefix}:queue-streams``): ``status`` and ``gauges`` read it instead of
scanning Redis, so their cost does not depend on how many other keys Redis holds; the enqueue script, a worker
starting (``ensure_groups``) and a retried dead letter register a stream."""

from __future__ import annotations

import asyncio
import json
import time

from redis.asyncio import Redis

from bot.config import QueueConfig
from bot.queue import Queue
from bot.threads import ThreadKey

UNRELATED = 50_000


def queue_of(redis: Redis, prefix: str, shards: int = 2) -> Queue:
    return Queue(redis, prefix, QueueConfig(shards=shards), 3600)


def threads_on(queue: Queue, platform: str, shard: int, count: int) -> list[ThreadKey]:
    """``count`` threads of ``platform`` whose messages go to ``shard``."""
    found: list[ThreadKey] = []
    n = 0
    while len(found) < count:
        thread = ThreadKey(platform, "W1", "C1", f"{platform}-{n}")
        if queue.shard_of(thread) == shard:
            found.append(thread)
        n += 1
    return found


async def scans(redis: Redis) -> int:
    """How many key-walking commands (``SCAN``, ``KEYS``) Redis has run so far."""
    stats = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("scan", "keys"))


async def test_status_and_gauges_read_no_more_with_many_unrelated_keys(redis: Redis, prefix: str) -> None:
    queue = queue_of(redis, prefix)
    depths = {("discord", 0): 1, ("discord", 1): 2, ("slack", 0): 3, ("slack", 1): 4}
    for (platform, shard), depth in depths.items():
        for n, thread in enumerate(threads_on(queue, platform, shard, depth)):
            assert await queue.enqueue(thread, f"{platform}-{shard}-{n}", {"text": "waiting"})
    unrelated = f"{prefix}-unrelated"
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for start in range(0, UNRELATED, 5000):
                pipe.mset({f"{unrelated}:{n}": "x" for n in range(start, start + 5000)})
            await pipe.execute()
        assert await redis.dbsize() >= UNRELATED
        await asyncio.sleep(0.05)
        before = await scans(redis)
        status = await queue.status()
        by_platform, dead = await queue.gauges()
        assert await scans(redis) == before, "no SCAN: the registry of streams names them"
    finally:
        async with redis.pipeline(transaction=False) as pipe:
            for start in range(0, UNRELATED, 5000):
                pipe.unlink(*(f"{unrelated}:{n}" for n in range(start, start + 5000)))
            await pipe.execute()
    assert {(shard.platform, shard.shard): shard.depth for shard in status.shards} == depths
    assert [(shard.platform, shard.shard) for shard in status.shards] == sorted(depths), "in order"
    assert all(shard.oldest_age is not None and 0.04 <= shard.oldest_age < 30 for shard in status.shards)
    assert all(shard.pending == {} for shard in status.shards), "no worker ever ran"
    assert status.dead == dead == 0
    assert {platform: depth for platform, (depth, _) in by_platform.items()} == {"discord": 3, "slack": 7}
    assert all(0.04 <= age < 30 for _, age in by_platform.values())


async def test_a_stream_an_older_parley_wrote_appears_once_a_worker_for_its_platform_starts(
    redis: Redis, prefix: str
) -> None:
    queue = queue_of(redis, prefix)
    thread = threads_on(queue, "discord", 1, 1)[0]
    stream = queue.stream("discord", 1)
    fields = {"thread": json.dumps(["discord", "W1", "C1", thread.thread]), "event": "E1", "seq": "1", "payload": "{}"}
    await redis.xadd(stream, fields)  # as the enqueue script before the registry: no SADD
    await redis.xadd(stream, {**fields, "event": "E2", "seq": "2"})
    assert (await queue.status()).shards == [], "not registered yet"
    assert await queue.gauges() == ({}, 0)

    await asyncio.sleep(0.05)
    await queue.ensure_groups(["discord"])
    status = await queue.status()
    assert [(shard.platform, shard.shard, shard.depth) for shard in status.shards] == [
        ("discord", 0, 0),
        ("discord", 1, 2),
    ], "a worker registers every shard's stream of its platforms"
    by_platform, _ = await queue.gauges()
    assert by_platform["discord"][0] == 2 and by_platform["discord"][1] >= 0.04

    await queue.ensure_groups(["discord"])  # a second worker: the registry does not change
    assert sorted(await redis.smembers(queue.streams_key)) == [
        queue.stream("discord", 0).encode(),
        queue.stream("discord", 1).encode(),
    ]


async def test_a_retried_dead_letter_registers_its_stream(redis: Redis, prefix: str) -> None:
    queue = queue_of(redis, prefix, shards=1)
    thread = ThreadKey("slack", "T1", "C1", "171.2")
    dead_id = await redis.xadd(
        queue.dead_stream,
        {
            "thread": json.dumps(["slack", "T1", "C1", "171.2"]),
            "event": "E1",
            "seq": "1",
            "payload": json.dumps({"text": "again"}),
            "entry": "1-0",
            "attempts": "3",
            "reason": "gave up",
            "when": f"{time.time():.3f}",
        },
    )
    assert (await queue.status()).dead == 1 and (await queue.status()).shards == []
    assert await queue.retry(dead_id.decode()) is not None
    status = await queue.status()
    assert [(shard.platform, shard.shard, shard.depth) for shard in status.shards] == [("slack", 0, 1)]
    assert status.dead == 0
    assert queue.shard_of(thread) == 0


async def test_a_registered_stream_deleted_by_hand_is_left_out(redis: Redis, prefix: str) -> None:
    queue = queue_of(redis, prefix, shards=1)
    assert await queue.enqueue(ThreadKey("slack", "T1", "C1", "1"), "E1", {"text": "hello"})
    await queue.ensure_groups(["discord"])
    await redis.delete(queue.stream("slack", 0))
    status = await queue.status()
    assert [(shard.platform, shard.shard) for shard in status.shards] == [("discord", 0)]
    assert await queue.gauges() == ({"discord": (0, 0.0)}, 0)
