"""Slack on the durable queue, in one process: an event is queued before Slack gets its 200 (or a 503
when the queue cannot take it), a worker answers it; a message that fails every time becomes a dead letter."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from adapters.slack.config import SlackConfig
from bot.api import GAVE_UP
from bot.config import Config, QueueConfig
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.redis_server import RedisServer
from bot.runtime import pooled_redis
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.slack_harness import (
    APP_TOKEN,
    CHANNEL,
    Running,
    envelope,
    mention,
    running,
    serve_slack,
    slack,
    until,
)

__all__ = ["running", "slack"]


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    slack = SlackConfig(edit_interval=0.05, first_text_grace=0, native_streaming=False)
    return make_config(fake.url, prefix, slack=slack, queue=QueueConfig(reclaim_after=0.5, max_attempts=2))


def texts(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [m.text for m in slack.thread(CHANNEL, thread_ts)]


async def depth(core: Conversation) -> int:
    return sum(shard.depth for shard in (await core.queue.status()).shards)


async def test_an_event_is_queued_before_the_ack_and_a_redelivery_is_not_queued_again(
    core: Conversation, slack: FakeSlack
) -> None:
    event = mention("queued first")
    async with serve_slack(core, slack, worker=False) as ingress:  # no worker: the queue keeps it
        assert (await ingress.event(event, event_id="Ev0FIRST"))[0] == 200
        assert await depth(core) == 1, "in the queue when Slack got its 200"
        assert (await ingress.event(event, event_id="Ev0FIRST", retry=1))[0] == 200, "a redelivery is acknowledged"
        assert (await ingress.event(mention("queued first", ts=event["ts"]), event_id="Ev0OTHER"))[0] == 200
        assert await depth(core) == 1, "and not queued again"
        assert not slack.calls_to("chat.postMessage"), "nothing answered at the ack"
    async with serve_slack(core, slack):  # a worker takes it
        await until(lambda: texts(slack, event["ts"]) == ["echo: queued first"], what="the answer")


@pytest_asyncio.fixture
async def outage(tmp_path: Path, config: Config) -> AsyncIterator[tuple[RedisServer, Conversation]]:
    """The core on a Redis of its own, which a test stops and starts again."""
    server = RedisServer(tmp_path / "redis", port=free_port(), persistent=False)
    url = await server.start()
    store = Store(pooled_redis(url, 50), config.redis_prefix)
    backends = open_backends(config, os.environ)
    try:
        yield server, Conversation(config=config, store=store, backends=backends)
    finally:
        for backend in backends.values():
            await backend.aclose()
        await store.redis.aclose()
        await server.stop()


async def test_an_event_the_queue_cannot_take_gets_a_503_and_its_redelivery_is_answered_once(
    outage: tuple[RedisServer, Conversation], slack: FakeSlack
) -> None:
    server, core = outage
    event = mention("while Redis is down")
    async with serve_slack(core, slack) as running:
        await server.stop()
        status, body = await running.event(event, event_id="Ev0DOWN")
        assert status == 503, body
        await server.start()
        assert (await running.event(event, event_id="Ev0DOWN", retry=1))[0] == 200, "Slack delivers it again"
        assert (await running.event(event, event_id="Ev0DOWN", retry=2))[0] == 200
        await until(lambda: texts(slack, event["ts"]) == ["echo: while Redis is down"], what="the answer")
        await asyncio.sleep(0.5)
        assert texts(slack, event["ts"]) == ["echo: while Redis is down"], "answered once"


async def test_a_message_that_fails_every_time_becomes_a_dead_letter_and_the_user_is_told(
    running: Running, slack: FakeSlack, core: Conversation
) -> None:
    slack.refuse_text("poison")  # its answer ("echo: poison pill") is refused by Slack, however often it is tried
    bad, good = mention("poison pill"), mention("all fine")
    assert (await running.event(bad))[0] == 200
    assert (await running.event(good))[0] == 200
    await until(lambda: texts(slack, good["ts"]) == ["echo: all fine"], what="the other message's answer")
    await until(lambda: GAVE_UP in texts(slack, bad["ts"]), what="the notice of the message that failed")
    (dead,) = await core.queue.dead()
    assert dead.attempts == 2
    assert str(dead.thread) == f"slack:T0TEST/{CHANNEL}#{bad['ts']}"
    assert not any("poison" in text for text in texts(slack, bad["ts"]))
    later = mention("and now?", thread_ts=bad["ts"])
    await running.event(later)
    await until(lambda: "echo: and now?" in texts(slack, bad["ts"]), what="the thread answered again")


async def test_in_socket_mode_an_envelope_is_acked_only_once_its_event_is_queued(
    outage: tuple[RedisServer, Conversation], slack: FakeSlack
) -> None:
    server, core = outage
    event = mention("over the socket while Redis is down")
    async with serve_slack(core, slack, SLACK_APP_TOKEN=APP_TOKEN):
        await slack.wait_connected()
        await server.stop()
        with pytest.raises(TimeoutError):  # no ack: Slack delivers the envelope again
            await slack.socket_event(envelope(event, event_id="Ev0SOCKET"), limit=5)
        await server.start()
        await slack.socket_event(envelope(event, event_id="Ev0SOCKET"), retry_attempt=1)
        await until(lambda: texts(slack, event["ts"]) == ["echo: over the socket while Redis is down"])
        await slack.socket_event(envelope(event, event_id="Ev0SOCKET"), retry_attempt=2)
        await asyncio.sleep(0.5)
        assert texts(slack, event["ts"]) == ["echo: over the socket while Redis is down"], "answered once"
