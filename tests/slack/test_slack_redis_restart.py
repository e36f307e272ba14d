"""`parley run slack` over HTTP while its Redis (AOF on) restarts: /healthz tells the truth at once, and the
mentions that came in meanwhile are answered once Redis is back, with no error after an answer."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import aiohttp

from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, sigterm, start, user_env
from tests.support.restartable_redis import RestartableRedis
from tests.support.slack_harness import BOT_TOKEN, CHANNEL, SECRET, envelope, mention, signed_headers, slack, until

__all__ = ["slack"]


async def post_event(
    session: aiohttp.ClientSession, base: str, event: dict[str, object], *, event_id: str | None = None, retry: int = 0
) -> int:
    body = json.dumps(envelope(event, event_id=event_id or f"Ev{event['ts']}"))
    headers = {"Content-Type": "application/json", **signed_headers(body)}
    if retry:
        headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"}
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        return response.status


async def as_slack_delivers(session: aiohttp.ClientSession, base: str, event: dict[str, object]) -> int:
    """Deliver the event as Slack does: again (the same event id) after a 503 or no answer within 3 s."""
    for retry in range(4):
        try:
            status = await asyncio.wait_for(post_event(session, base, event, retry=retry), 3.0)
        except TimeoutError:
            continue
        if status != 503:
            return status
        await asyncio.sleep(1.0)
    return 503


async def health(session: aiohttp.ClientSession, base: str) -> tuple[int, float]:
    """/healthz's status, and how long it took to answer."""
    started = time.monotonic()
    async with session.get(base + "/healthz") as response:
        await response.read()
        return response.status, time.monotonic() - started


async def test_a_redis_restart_under_parley_run_slack(
    prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with RestartableRedis(tmp_path / "redis") as server:
        env = user_env(
            server.url, prefix, fake, tmp_path,
            SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
        )  # fmt: skip
        process = await start("run", "slack", "--host", "127.0.0.1", "--port", str(port), env=env)
        try:
            await healthz(base, process)
            async with aiohttp.ClientSession() as session:
                before = mention("before the restart")
                assert await post_event(session, base, before) == 200
                await until(
                    lambda: any(m.text == "echo: before the restart" for m in slack.thread(CHANNEL, before["ts"]))
                )

                await server.stop()
                status, took = await health(session, base)
                assert status == 503 and took < 2.0, f"/healthz: {status} after {took:.1f} s"
                during = [mention(f"during the restart {n}") for n in range(5)]
                posts = [asyncio.create_task(as_slack_delivers(session, base, event)) for event in during]
                await asyncio.sleep(2.0)
                status, took = await health(session, base)
                assert status == 503 and took < 2.0, f"/healthz: {status} after {took:.1f} s"
                await server.start()

                status, _ = await health(session, base)
                assert status == 200, "healthy again as soon as Redis answers"
                assert await asyncio.gather(*posts) == [200] * 5
                for n, event in enumerate(during):
                    await until(
                        lambda n=n, event=event: any(
                            m.text == f"echo: during the restart {n}" for m in slack.thread(CHANNEL, event["ts"])
                        ),
                        what=f"the answer to mention {n}",
                    )
            every = [m.text for event in [before, *during] for m in slack.thread(CHANNEL, event["ts"])]
            assert not any("went wrong" in text for text in every), every
        finally:
            _, err = await sigterm(process)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert_clean_exit(err)
