"""Slack's write budgets are the core's, shared by every parley process on one Redis."""

from __future__ import annotations

import pytest

from adapters.slack.pacing import SlackPaces
from bot.store import Store
from tests.core.test_shared_pacing import Processes
from tests.core.test_streaming import FakeClock
from tests.slack.test_slack_pacing import config, rate_limited
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, Running, mention, running, slack, until

__all__ = ["config", "running", "slack"]


def process(processes: Processes) -> SlackPaces:
    """One parley process's Slack budgets, on the shared Redis (one fake clock for all, so nothing is timed)."""
    return SlackPaces(1.0, 50, processes.clock, book=processes.book())


async def test_a_429_in_one_process_slows_the_channel_in_every_process(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = process(processes), process(processes)
    await first.for_stream("C1").take("post", clock.sleep)
    first.rate_limited(*rate_limited("chat.postMessage", "C1", "xoxb-a", "30"))
    await processes.settle()
    await second.for_stream("C1").take("post", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(31.0), "30 s of Retry-After, then one write's refill"
    await second.for_stream("C2").take("post", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(31.0), "another channel goes on"


async def test_chat_update_budgets_are_shared_by_every_process(store: Store) -> None:
    clock = FakeClock()
    processes = Processes(store, clock)
    first, second = process(processes), process(processes)
    for number in range(50):
        await first.for_reply("xoxb-a", f"C{number}").take("edit", clock.sleep)
    assert clock.sleeps == [], "the workspace's 50 chat.update calls at once"
    await second.for_reply("xoxb-a", "C99").take("edit", clock.sleep)
    assert sum(clock.sleeps) == pytest.approx(60 / 50), "the other process waits for one refill"


async def test_the_adapter_writes_through_the_cores_shared_budgets(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, store: Store
) -> None:
    fake.queue(Reply("Counted.", chunk_size=100))
    event = mention("count me")
    await running.event(event)
    await until(lambda: any(m.text == "Counted." for m in slack.thread(CHANNEL, event["ts"])), what="the answer")
    await until(lambda: store.redis.exists(f"{store.prefix}:pace:slack:{CHANNEL}"), what="the channel's budget")
