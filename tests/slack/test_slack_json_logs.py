"""JSON logs of real processes: ``parley run slack`` (log_format from the environment) and an ingress beside a
``parley worker`` (``--log-format json``): every stderr line is a JSON object, one trace id links the ingress's
accept line with the worker's answering, backend and reply lines, and the message's text is never logged at INFO."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

from tests.slack.test_slack_queue_processes import replies, run_slack, slack_env
from tests.support.config import TEST_KEY
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.json_logs import (
    ANSWER,
    QUESTION,
    accepted,
    assert_follows_the_message,
    assert_no_text_at_info,
    json_lines,
    of_trace,
)
from tests.support.parley_process import assert_clean_exit, sigterm, start
from tests.support.slack_harness import BOT_TOKEN, CHANNEL, SECRET, envelope, mention, signed_headers, slack, until

__all__ = ["slack"]


async def test_one_process_with_log_format_from_the_environment_writes_only_json_lines(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    fake.queue(Reply(ANSWER, chunk_size=8))
    env = slack_env(redis_url, prefix, fake, slack, tmp_path, PARLEY_LOG_FORMAT="json", PARLEY_LOG_LEVEL="DEBUG")
    event = mention(QUESTION)
    process, base = await run_slack(env)
    try:
        async with aiohttp.ClientSession() as session:
            body_id = await _deliver_with_id(session, base, event)
        await until(lambda: replies(slack, event["ts"]) == [ANSWER], what="the answer")
    finally:
        _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err, TEST_KEY, BOT_TOKEN, SECRET)
    lines = json_lines(err)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(line["level"] == "DEBUG" for line in lines), "debug lines are there, and JSON too"
    assert_no_text_at_info(lines)
    trace_id = accepted(lines, "slack", body_id)["trace_id"]
    assert_follows_the_message(of_trace(lines, trace_id))


async def test_one_trace_links_the_ingress_and_the_worker_processes(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    fake.queue(Reply(ANSWER, chunk_size=8))
    env = slack_env(redis_url, prefix, fake, slack, tmp_path)
    event = mention(QUESTION)
    ingress, base = await run_slack(env, "--ingress-only", "--log-format", "json", "-v")
    worker = await start("--log-format", "json", "worker", "-v", env=env)
    try:
        async with aiohttp.ClientSession() as session:
            event_id = await _deliver_with_id(session, base, event)
        await until(lambda: replies(slack, event["ts"]) == [ANSWER], what="the answer")
    finally:
        (_, worker_err), (_, ingress_err) = await asyncio.gather(sigterm(worker), sigterm(ingress))
    for process, err in ((ingress, ingress_err), (worker, worker_err)):
        assert process.returncode == 128 + signal.SIGTERM, err
        assert_clean_exit(err, TEST_KEY, BOT_TOKEN, SECRET)
    ingress_lines, worker_lines = json_lines(ingress_err), json_lines(worker_err)
    assert_no_text_at_info(ingress_lines + worker_lines)
    line = accepted(ingress_lines, "slack", event_id)
    assert line["level"] == "INFO" and CHANNEL in line["message"]
    trace_id = line["trace_id"]
    assert not of_trace(ingress_lines, trace_id)[1:], "the ingress only accepts it"
    assert_follows_the_message(of_trace(worker_lines, trace_id))


async def _deliver_with_id(session: aiohttp.ClientSession, base: str, event: dict[str, Any]) -> str:
    """Deliver ``event`` as Slack does, signed, in an envelope; the envelope's event id."""
    event_id = f"Ev{uuid.uuid4().hex[:10].upper()}"
    body = json.dumps(envelope(event, event_id=event_id))
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        assert response.status == 200
    return event_id
