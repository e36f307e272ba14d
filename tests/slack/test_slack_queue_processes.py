"""Slack on the durable queue across real processes: ``parley run slack`` killed mid-reply and started again,
an ingress beside three ``parley worker`` processes, a burst of 300 events, SIGTERM to a worker mid-reply.
FakeSlack and the fake LLM run in the test; the processes share the test's Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, sigterm, start, user_env
from tests.support.slack_harness import BOT_TOKEN, CHANNEL, SECRET, envelope, mention, signed_headers, slack, until

__all__ = ["slack"]

ANSWER = " ".join(f"word{i}" for i in range(40))


UNLIMITED = {"PARLEY_RATE_LIMITS__USER_PER_MINUTE": "0", "PARLEY_RATE_LIMITS__CHANNEL_PER_MINUTE": "0"}
"""The bursts here come from one test user in one channel: the rate limits (tested on their own) would refuse
most of them."""


def slack_env(
    redis_url: str, prefix: str, fake: FakeOpenAI, slack: FakeSlack, home: Path, **extra: str
) -> dict[str, str]:
    settings = {"PARLEY_SLACK__EDIT_INTERVAL": "0.05", "PARLEY_SLACK__FIRST_TEXT_GRACE": "0",
                "PARLEY_QUEUE__RECLAIM_AFTER": "1", **UNLIMITED, **extra}  # fmt: skip
    return user_env(
        redis_url, prefix, fake, home,
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url, **settings,
    )  # fmt: skip


async def run_slack(env: dict[str, str], *flags: str) -> tuple[asyncio.subprocess.Process, str]:
    """``parley run slack`` on a free port, serving; its base URL."""
    port = free_port()
    process = await start("run", "slack", "--host", "127.0.0.1", "--port", str(port), *flags, env=env)
    base = f"http://127.0.0.1:{port}"
    await healthz(base, process)
    return process, base


async def deliver(session: aiohttp.ClientSession, base: str, event: Mapping[str, Any]) -> int:
    """One signed Events API request, as Slack sends it; the HTTP status parley answered."""
    body = json.dumps(envelope(event))
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        return response.status


def replies(slack: FakeSlack, thread_ts: str, channel: str = CHANNEL) -> list[str]:
    return [m.text for m in slack.thread(channel, thread_ts)]


async def test_a_reply_cut_by_kill_9_is_finished_in_its_own_message_by_the_next_process(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    slack.streaming = "on"  # the reply is a native stream, which the dead process leaves streaming
    fake.queue(Reply(ANSWER, chunk_size=6, delay=0.15), Reply(ANSWER, chunk_size=6))
    env = slack_env(redis_url, prefix, fake, slack, tmp_path)
    event = mention("tell me everything")
    first, base = await run_slack(env)
    try:
        async with aiohttp.ClientSession() as session:
            assert await deliver(session, base, event) == 200
        await until(
            lambda: any(len(m.edits) >= 3 for m in slack.thread(CHANNEL, event["ts"])), what="a reply under way"
        )
    finally:
        first.kill()  # kill -9: no drain, no clean-up
        await first.communicate()
    (cut,) = slack.thread(CHANNEL, event["ts"])
    assert cut.streaming and cut.text != ANSWER, "left half-written"

    second, _ = await run_slack(env)
    try:
        await until(lambda: replies(slack, event["ts"]) == [ANSWER] and not cut.streaming, limit=60,
                    what="the same message finished")  # fmt: skip
    finally:
        _, err = await sigterm(second)
    assert second.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err)
    (reply,) = slack.thread(CHANNEL, event["ts"])
    assert reply.ts == cut.ts, "one bot message in the thread: the first one, finished"
    assert len(fake.requests) == 2


async def test_an_ingress_and_three_workers_answer_200_messages_once_each_in_order(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    # The default reclaim_after: a job waits for its thread's earlier ones at most reclaim_after * (max_attempts + 1)
    # seconds, and a thread's tenth message waits for nine answers on a busy machine.
    # Each answer within the grace: one post (20 threads share one channel's budget, and Slack's workspace
    # takes some 50 chat.update a minute).
    env = slack_env(redis_url, prefix, fake, slack, tmp_path, PARLEY_QUEUE__RECLAIM_AFTER="30",
                    PARLEY_SLACK__FIRST_TEXT_GRACE="10")  # fmt: skip
    ingress, base = await run_slack(env, "--ingress-only")
    workers = [await start("worker", env=env) for _ in range(3)]
    roots = [mention(f"thread {t} message 0") for t in range(20)]

    async def one_thread(session: aiohttp.ClientSession, t: int) -> None:
        root = roots[t]["ts"]
        assert await deliver(session, base, roots[t]) == 200
        for m in range(1, 10):  # one after another, as people write: the order to keep
            assert await deliver(session, base, mention(f"thread {t} message {m}", thread_ts=root)) == 200

    try:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(one_thread(session, t) for t in range(20)))
        wanted = {root["ts"]: [f"echo: thread {t} message {m}" for m in range(10)] for t, root in enumerate(roots)}
        await until(lambda: all(len(replies(slack, ts)) >= 10 for ts in wanted), limit=120, what="200 answers")
        await asyncio.sleep(1)  # time enough for a second answer to any of them, were there one
        for ts, texts in wanted.items():
            assert replies(slack, ts) == texts, "each answered once, in order"
        assert len(fake.requests) == 200
    finally:
        stopped = [await sigterm(process) for process in (*workers, ingress)]
    for process, (_, err) in zip((*workers, ingress), stopped, strict=True):
        assert process.returncode == 128 + signal.SIGTERM, err
        assert_clean_exit(err)


async def test_300_events_at_once_into_one_process_are_all_answered(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    # In 300 channels: Slack takes about one message a second in one channel, and parley keeps to that.
    # Each answer is complete within the grace, so it is one post (no chat.update, whose budget is per workspace).
    env = slack_env(redis_url, prefix, fake, slack, tmp_path, PARLEY_SLACK__FIRST_TEXT_GRACE="10")
    process, base = await run_slack(env)
    events = [mention(f"burst {n}", channel=f"C0BURST{n}") for n in range(300)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=300)) as session:
            statuses = await asyncio.gather(*(deliver(session, base, event) for event in events))
        assert statuses == [200] * 300
        await until(lambda: all(replies(slack, e["ts"], e["channel"]) for e in events), limit=120, what="300 answers")
        for n, event in enumerate(events):
            assert replies(slack, event["ts"], event["channel"]) == [f"echo: burst {n}"]
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err)


async def test_sigterm_lets_a_worker_finish_its_reply_and_another_takes_the_pending_work(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    fake.queue(Reply(ANSWER, chunk_size=6, delay=0.2))  # about 1.5 s
    env = slack_env(redis_url, prefix, fake, slack, tmp_path, PARLEY_QUEUE__CONCURRENCY="1")
    ingress, base = await run_slack(env, "--ingress-only")
    first = await start("worker", env=env)
    slow, waiting = mention("a slow one"), mention("one that waits")
    try:
        async with aiohttp.ClientSession() as session:
            assert await deliver(session, base, slow) == 200
            await until(lambda: bool(slack.thread(CHANNEL, slow["ts"])), what="the slow reply under way")
            assert await deliver(session, base, waiting) == 200
        _, err = await sigterm(first)
        assert first.returncode == 128 + signal.SIGTERM, err
        assert_clean_exit(err)
        assert replies(slack, slow["ts"]) == [ANSWER], "finished before the worker stopped"
        writes = [call for call in slack.calls if call.method.startswith("chat.")]
        assert len(writes) > 2 and len({call.peer for call in writes}) == 1, "over one kept-alive connection"
        assert not slack.thread(CHANNEL, waiting["ts"]), "nothing new taken once asked to stop"
        second = await start("worker", env=env)
        try:
            await until(lambda: replies(slack, waiting["ts"]) == ["echo: one that waits"], what="taken by another")
        finally:
            await sigterm(second)
    finally:
        await sigterm(ingress)
    assert replies(slack, slow["ts"]) == [ANSWER], "answered once"
