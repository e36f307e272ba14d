"""Write budgets shared by every process on one Redis (``PaceBook(shared=SharedBudgets(store))``).

Two books on one Redis stand for two processes. One fake clock is both their clock and the time they
agree on, so nothing here is timed: a sleep is a number the clock moves by.
"""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from bot.conversation import Conversation
from bot.pacing import Pace, PaceBook, TokenBucket
from bot.shared_pacing import SharedBucket, SharedBudgets
from bot.sink import SinkLimits
from bot.store import Store
from bot.streaming import ReplyStreamer
from tests.core.test_pacing import SharedSink
from tests.core.test_streaming import FakeClock
from tests.support.net import free_port


class Processes:
    """Processes' worth of write budgets on one Redis; one fake clock is their clock and the time they agree on."""

    def __init__(self, store: Store, clock: FakeClock) -> None:
        self.store = store
        self.clock = clock
        self.budgets: list[SharedBudgets] = []

    def book(self) -> PaceBook:
        budgets = SharedBudgets(self.store, wall=self.clock)
        self.budgets.append(budgets)
        return PaceBook(self.clock, shared=budgets)

    async def settle(self) -> None:
        """Until the exchanges with Redis that writes and pauses started in the background are done."""
        for budgets in self.budgets:
            await budgets.idle()


def channel(paces: PaceBook) -> TokenBucket:
    return paces.bucket("C1", per_second=1.0, burst=3)


async def test_writes_in_one_process_spend_the_budget_of_every_process(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = processes.book(), processes.book()
    writes = Pace([channel(first)])
    for _ in range(3):
        await writes.take("post", clock.sleep)
    assert clock.sleeps == [], "the burst of three at once"

    await Pace([channel(second)]).take("post", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(1.0), "the other process waits for one write's refill"


async def test_a_write_that_does_not_wait_is_decided_on_the_count_of_every_process(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = channel(processes.book()), channel(processes.book())
    here, there = Pace([first]), Pace([second])
    assert there.try_take("edit")
    await first.refresh()
    for _ in range(2):
        assert here.try_take("edit")
    await processes.settle()
    await second.refresh()
    assert not there.try_take("edit"), "three writes at once in the channel, from both processes"
    assert not here.try_take("edit")
    clock.advance(1.0)
    await first.refresh()
    assert here.try_take("edit"), "one write a second after that"


async def test_a_429_in_one_process_pauses_the_channel_in_every_process(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = processes.book(), processes.book()
    bucket = channel(second)
    await bucket.refresh()
    channel(first)
    first.pause("C1", 4.0)  # what the first process's client saw: 429 with Retry-After: 4
    await processes.settle()
    await bucket.refresh()
    assert bucket.wait() == pytest.approx(5.0), "4 s of Retry-After, then 1 s to refill one write"
    assert not Pace([bucket]).try_take("post")


async def test_writes_over_the_budget_are_a_debt_every_process_waits_out(store: Store) -> None:
    """Both processes took the burst before either heard of the other: the channel's rate holds over time."""
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = channel(processes.book()), channel(processes.book())
    await first.refresh()
    await second.refresh()
    for bucket in (first, second):
        for _ in range(3):
            assert Pace([bucket]).try_take("post")
    await processes.settle()
    await first.refresh()
    await second.refresh()
    assert first.wait() == pytest.approx(4.0) and second.wait() == pytest.approx(4.0), "3 over, and the next"


async def test_two_processes_streaming_into_one_channel_share_its_budget(store: Store) -> None:
    """A placeholder is posted by a write that waits for the budget: it waits for the other process's writes too."""
    clock = FakeClock()
    processes = Processes(store, clock)
    limits = SinkLimits(2000, 1.0, "…")
    sinks = [
        SharedSink(limits, clock, shared=Pace([paces.bucket("C1", per_second=1.0, burst=1)]))
        for paces in (processes.book(), processes.book())
    ]
    streamers = [ReplyStreamer(sink, clock=clock, sleep=clock.sleep) for sink in sinks]
    for streamer in streamers:
        await streamer.start()
        await processes.settle()
    assert [(write.text, write.at) for write in sinks[0].writes] == [("…", 0.0)]
    assert [(write.text, write.at) for write in sinks[1].writes] == [("…", 1.0)], "after the first one's write"
    for streamer, text in zip(streamers, ("Hello", "Hi"), strict=True):
        await streamer.feed(text)
        await streamer.finish()
    assert [write.at for write in sinks[0].writes + sinks[1].writes] == [0.0, 2.0, 1.0, 3.0], "one a second"


async def test_unlimited_budgets_are_not_shared(store: Store) -> None:
    paces = Processes(store, FakeClock()).book()
    assert not isinstance(paces.bucket("C0", per_second=float("inf"), burst=3), SharedBucket)
    assert isinstance(channel(paces), SharedBucket)


async def test_the_shared_budget_is_one_key_that_expires(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    await Pace([channel(processes.book())]).take("post", clock.sleep)
    await processes.settle()
    key = f"{store.prefix}:pace:C1"
    assert await store.redis.hget(key, "tokens") == b"2.000000"
    assert 0 < await store.redis.ttl(key) <= 3 + 60


async def test_without_redis_each_process_counts_its_own_writes(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    nowhere = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    processes = Processes(Store(nowhere, "test"), clock)
    paces = processes.book()
    writes = Pace([channel(paces)])
    try:
        with caplog.at_level(logging.WARNING, logger="bot.shared_pacing"):
            for _ in range(3):
                await writes.take("post", clock.sleep)
            assert clock.sleeps == []
            assert not writes.try_take("post")
            await writes.take("post", clock.sleep)
            await processes.settle()
    finally:
        await nowhere.aclose()
    assert sum(clock.sleeps) == pytest.approx(1.0)
    warnings = [record for record in caplog.records if "cannot be reached" in record.getMessage()]
    assert len(warnings) == 1, "said once"


async def test_the_core_hands_adapters_a_shared_book(core: Conversation, store: Store) -> None:
    clock = FakeClock()
    first, second = core.pace_book(clock), core.pace_book(clock)
    written = first.bucket("C9", per_second=1.0, burst=3)
    for _ in range(3):
        await Pace([written]).take("post", clock.sleep)
    await written.refresh()
    bucket = second.bucket("C9", per_second=1.0, burst=3)
    await bucket.refresh()
    assert not Pace([bucket]).try_take("post")
