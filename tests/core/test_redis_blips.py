"""A write whose reply a Redis blip lost is sent again by the pool's retry: it must not apply twice.

The proxy (tests/support/lossy_proxy.py) lets the command reach Redis and drops its reply, as a
connection reset right after the write would; the store's client is the process's own pooled,
retrying one (``bot/runtime.py`` ``pooled_redis``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from redis.asyncio import Redis

from bot.config import QueueConfig
from bot.messages import ChatMessage
from bot.queue import Queue
from bot.runtime import pooled_redis
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from tests.support.lossy_proxy import LossyProxy

THREAD = ThreadKey("test", "W1", "C1", "blip")
CHANNEL = ChannelKey("test", "W1", "C1")
TTL = 3600


@pytest_asyncio.fixture
async def proxy(redis_url: str) -> AsyncIterator[LossyProxy]:
    async with LossyProxy(redis_url) as proxy:
        yield proxy


@pytest_asyncio.fixture
async def resending(proxy: LossyProxy, prefix: str, redis: Redis) -> AsyncIterator[Store]:
    """A store on the retrying pool, through the proxy; its scripts already known to Redis (so that the
    lost reply is the write's own, not a NOSCRIPT)."""
    client = pooled_redis(proxy.url, 10, retry_seconds=5)
    store = Store(client, prefix)
    await store.once([], [])
    async with store.thread_lock(ThreadKey("test", "W1", "C1", "warm-up")):
        pass
    yield store
    await client.aclose()


def turn(n: int) -> list[ChatMessage]:
    return [ChatMessage("user", f"question {n}"), ChatMessage("assistant", f"answer {n}")]


async def test_the_proxy_loses_the_reply_of_an_applied_write_so_a_plain_push_applies_twice(
    proxy: LossyProxy, resending: Store, prefix: str, redis: Redis
) -> None:
    """The hazard itself: a bare RPUSH resent after its lost reply is in the list twice."""
    proxy.lose_reply_to(b"RPUSH")
    await resending.redis.rpush(f"{prefix}:bare", "once")
    assert proxy.lost == 1
    assert await redis.lrange(f"{prefix}:bare", 0, -1) == [b"once", b"once"]


async def test_a_turn_whose_reply_was_lost_is_stored_once(proxy: LossyProxy, resending: Store, store: Store) -> None:
    await resending.append_turn(THREAD, turn(1), 200, TTL)
    proxy.lose_reply_to(b"RPUSH")
    await resending.append_turn(THREAD, turn(2), 200, TTL)
    assert proxy.lost == 1
    assert await store.thread_messages(THREAD) == [*turn(1), *turn(2)]
    assert [t for t, _ in await store.recent_threads(CHANNEL)] == [THREAD]


async def test_a_summary_fold_whose_reply_was_lost_drops_the_folded_turns_once(
    proxy: LossyProxy, resending: Store, store: Store
) -> None:
    for n in range(1, 4):
        await store.append_turn(THREAD, turn(n), 200, TTL)
    proxy.lose_reply_to(b"LTRIM")
    await resending.fold_summary(THREAD, 2, "they talked about 1", TTL)
    assert proxy.lost == 1
    assert await store.thread_messages(THREAD) == [*turn(2), *turn(3)]
    assert (await store.load_thread(THREAD, TTL))[1] == "they talked about 1"


async def test_usage_whose_reply_was_lost_is_counted_once(proxy: LossyProxy, resending: Store, store: Store) -> None:
    proxy.lose_reply_to(b"HINCRBY")
    await resending.add_usage("2026-12-04", CHANNEL, "U1", {"prompt": 10, "completion": 5}, TTL)
    assert proxy.lost == 1
    totals, users = await store.channel_usage("2026-12-04", CHANNEL)
    assert totals == {"prompt": 10, "completion": 5}
    assert users == {"U1:prompt": 10, "U1:completion": 5}


async def test_an_event_claim_whose_reply_was_lost_is_still_its_own(proxy: LossyProxy, resending: Store) -> None:
    proxy.lose_reply_to(b"slack:E123")
    assert await resending.claim_event("slack:E123", 60), "the message is answered, not taken for a redelivery"
    assert proxy.lost == 1
    assert not await resending.claim_event("slack:E123", 60), "a real redelivery is still one"


async def test_a_lock_whose_acquire_reply_was_lost_is_held_at_once(proxy: LossyProxy, resending: Store) -> None:
    """Not waited for until it expires (10 s; with ``wait`` 3 s that would be ThreadBusy)."""
    proxy.lose_reply_to(str(THREAD).encode())
    async with resending.thread_lock(THREAD, ttl=10, wait=3):
        assert proxy.lost == 1
    async with resending.thread_lock(THREAD, ttl=10, wait=3):
        pass  # and it was released


async def test_a_budget_hold_whose_reply_was_lost_finds_itself(proxy: LossyProxy, resending: Store) -> None:
    """Resent, the hold would count itself against the budget (60 held >= 50) and refuse its own reply."""
    proxy.lose_reply_to(b"reply-1:60")
    held = await resending.hold_budget("2026-12-04", CHANNEL, 50, "reply-1:60", now=0, until=10**10, ttl_seconds=TTL)
    assert proxy.lost == 1
    assert held == (True, 0, 0)


async def test_an_adapter_claim_whose_reply_was_lost_is_still_its_own(proxy: LossyProxy, resending: Store) -> None:
    space = resending.namespace("test")
    proxy.lose_reply_to(b"greeted:T1")
    assert await space.claim("greeted:T1", 60), "the greeting is sent, not skipped"
    assert proxy.lost == 1
    assert not await space.claim("greeted:T1", 60)


async def test_an_enqueue_whose_reply_was_lost_is_taken_once_and_not_for_a_redelivery(
    proxy: LossyProxy, resending: Store, store: Store
) -> None:
    queue = Queue(resending.redis, resending.prefix, QueueConfig(), 3600)
    await queue.enqueue(ThreadKey("test", "W1", "C1", "warm-up"), "E0", {"text": "warm-up"})  # the script known
    proxy.lose_reply_to(b"lost-reply-payload")
    entry = await queue.enqueue(THREAD, "E1", {"text": "lost-reply-payload"})
    assert proxy.lost == 1
    assert entry is not None, "the resent call finds its own entry: the message was taken, not a redelivery"
    assert await queue.enqueue(THREAD, "E1", {"text": "lost-reply-payload"}) is None, "a real redelivery"
    status = await Queue(store.redis, store.prefix, QueueConfig(), 3600).status()
    assert sum(shard.depth for shard in status.shards) == 2, "queued once (and the warm-up)"
