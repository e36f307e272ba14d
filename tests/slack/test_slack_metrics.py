"""``/metrics`` of a real ``parley run slack`` after a scripted run on the fakes: the counters moved by exactly
what happened (a redelivery counts as deduplicated; the ``message`` twin of a mention, which Slack sends by
design, counts as nothing), the histograms hold the answers under the backend that gave them, tokens were
counted, and no label carries a user, a channel, a thread or a message's text."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import aiohttp
from prometheus_client.samples import Sample
from redis.asyncio import Redis

from bot.metrics import CONTENT_TYPE
from tests.support.fake_openai import FakeOpenAI, HTTPError
from tests.support.fake_slack import BOT_USER, TEAM, FakeSlack
from tests.support.metric_samples import parley_samples, scraped
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, sigterm, start, user_env
from tests.support.slack_harness import (
    BOT_TOKEN,
    CHANNEL,
    SECRET,
    USER,
    envelope,
    mention,
    signed_headers,
    slack,
    until,
)

__all__ = ["slack"]

LABELS = {"platform", "outcome", "backend", "kind", "le", "method", "status", "vote"}
"""Every label a parley metric may have: none of them an id."""


async def deliver(session: aiohttp.ClientSession, base: str, event: dict[str, object], *, retry: int = 0) -> int:
    """Deliver an event as Slack does; ``retry``: Slack's redelivery number (its ``X-Slack-Retry-Num``)."""
    body = json.dumps(envelope(event))
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        return response.status


async def scrape(session: aiohttp.ClientSession, base: str) -> list[Sample]:
    async with session.get(base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE
        return parley_samples(await response.text())


def replies(slack: FakeSlack, thread_ts: str) -> list[str]:
    return [m.text for m in slack.thread(CHANNEL, thread_ts)]


async def test_metrics_after_two_answers_a_failure_and_a_redelivery(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    env = user_env(
        redis_url, prefix, fake, tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
        PARLEY_SLACK__FIRST_TEXT_GRACE="0",
    )  # fmt: skip
    port = free_port()
    process = await start("run", "slack", "--host", "127.0.0.1", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    first, failing, second = mention("tell me a first thing"), mention("this one breaks"), mention("and a second")
    try:
        await healthz(base, process)
        async with aiohttp.ClientSession() as session:
            assert await deliver(session, base, first) == 200
            await until(lambda: replies(slack, first["ts"]) == ["echo: tell me a first thing"], what="the answer")
            assert await deliver(session, base, first, retry=1) == 200, "Slack delivers it again"

            fake.queue(HTTPError(401))
            assert await deliver(session, base, failing) == 200
            await until(lambda: len(replies(slack, failing["ts"])) == 1, what="the failure notice")
            assert await deliver(session, base, second) == 200
            await until(lambda: replies(slack, second["ts"]) == ["echo: and a second"], what="the second answer")
            twin = {**second, "type": "message", "channel_type": "channel"}  # Slack sends a mention twice
            assert await deliver(session, base, twin) == 200

            async def counted() -> bool:
                samples = await scrape(session, base)
                done = ("answered", "failed")
                return sum(scraped(samples, "parley_messages_total", platform="slack", outcome=o) for o in done) >= 3

            await until(counted, what="the worker to count the last job")
            samples = await scrape(session, base)
            assert replies(slack, second["ts"]) == ["echo: and a second"], "the twin was not answered again"
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err)

    def messages(outcome: str) -> float:
        return scraped(samples, "parley_messages_total", platform="slack", outcome=outcome)

    assert {o: messages(o) for o in ("answered", "failed", "deduplicated", "ignored", "rate_limited", "budget")} == {
        "answered": 2, "failed": 1, "deduplicated": 1, "ignored": 0, "rate_limited": 0, "budget": 0,
    }  # fmt: skip
    labels = {"platform": "slack", "backend": "openai"}
    assert scraped(samples, "parley_reply_seconds_count", **labels) == 2
    assert scraped(samples, "parley_first_token_seconds_count", **labels) == 2
    assert (
        0
        < scraped(samples, "parley_first_token_seconds_sum", **labels)
        <= scraped(samples, "parley_reply_seconds_sum", **labels)
    )
    assert {s.labels["backend"] for s in samples if s.name == "parley_reply_seconds_count"} == {"openai"}
    assert scraped(samples, "parley_tokens_total", backend="openai", kind="prompt") > 0
    assert scraped(samples, "parley_tokens_total", backend="openai", kind="completion") > 0
    assert scraped(samples, "parley_backend_errors_total", backend="openai", kind="auth") == 1
    assert scraped(samples, "parley_queue_depth", platform="slack") == 0
    assert scraped(samples, "parley_queue_dead_letters") == 0

    forbidden = [USER, CHANNEL, TEAM, BOT_USER, first["ts"], failing["ts"], second["ts"], "first", "breaks", "second"]
    for sample in samples:
        assert set(sample.labels) <= LABELS, sample
        for label in sample.labels.values():
            assert not any(word in label for word in forbidden), sample
