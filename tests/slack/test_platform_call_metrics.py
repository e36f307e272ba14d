"""Slack's Web API calls in /metrics: ``parley_platform_calls_total{platform="slack",method,status}``."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from adapters.platform_calls import count_calls
from adapters.slack.call_metrics import DOWNLOAD, OTHER, method_name
from adapters.slack.env import SlackEnv
from adapters.slack.pacing import SlackPaces
from adapters.slack.workspaces import Workspaces, configure_client
from bot.conversation import Conversation
from tests.slack.test_slack_queue_processes import deliver, run_slack, slack_env
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.metric_samples import registry_calls
from tests.support.metric_samples import scraped_calls as scraped
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, sigterm, start
from tests.support.slack_harness import (
    APP_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    USER,
    Running,
    envelope,
    mention,
    running,
    serve_slack,
    slack,
    until,
)

__all__ = ["running", "slack"]


def counted(core: Conversation) -> dict[tuple[str, str, str], float]:
    """Every sample of the platform calls' counter: (platform, method, status) -> count."""
    return registry_calls(core.metrics)


def by_method(core: Conversation) -> Counter[str]:
    totals: Counter[str] = Counter()
    for (platform, method, _), value in counted(core).items():
        if platform == "slack":
            totals[method] += int(value)
    return totals


def made(slack: FakeSlack) -> Counter[str]:
    """What the fake received: its Web API calls by method, and the file downloads."""
    return Counter(call.method for call in slack.calls) + Counter({DOWNLOAD: len(slack.downloads)})


def answered(slack: FakeSlack, ts: str) -> str:
    texts = [m.text for m in slack.thread(CHANNEL, ts)]
    return texts[-1] if texts else ""


async def test_every_call_is_counted_by_method_and_status_and_a_429_shows(
    core: Conversation, running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    first = mention("what does the report say?", files=[slack.upload("report.txt", "text/plain", b"all fine")])
    slack.rate_limit("chat.postMessage", retry_after=1)  # the first reply's post: 429, then sent again
    fake.queue(Reply("It says all is fine."))
    await running.event(first)
    await until(lambda: answered(slack, first["ts"]) == "It says all is fine.", what="the first reply")
    second = mention("and the second question")
    await running.event(second)
    await until(lambda: answered(slack, second["ts"]) == "echo: and the second question", what="the second reply")
    await until(lambda: by_method(core) == made(slack), what="every call counted")

    samples = counted(core)
    posts = len(slack.calls_to("chat.postMessage"))
    assert posts >= 3, "two replies, and the first one's post again after its 429"
    assert samples[("slack", "chat.postMessage", "429")] == 1
    assert samples[("slack", "chat.postMessage", "200")] == posts - 1
    assert samples[("slack", "auth.test", "200")] == len(slack.calls_to("auth.test")) >= 1
    assert samples[("slack", DOWNLOAD, "200")] == len(slack.downloads) == 1
    assert sum(value for (_, _, status), value in samples.items() if status == "429") == 1


async def test_no_label_carries_an_id_a_token_or_a_text(
    core: Conversation, running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    file = slack.upload("secret-plans.txt", "text/plain", b"the plans")
    event = mention("tell me about the plans", files=[file])
    fake.queue(Reply("They are plans."))
    await running.event(event)
    await until(lambda: answered(slack, event["ts"]) == "They are plans.", what="the reply")
    await until(lambda: by_method(core) == made(slack), what="every call counted")
    replies = [m.ts for m in slack.thread(CHANNEL, event["ts"])]
    forbidden = [CHANNEL, USER, TEAM, BOT_TOKEN, event["ts"], *replies, file["id"], "secret-plans", "plans", "tell me"]
    labels = [value for key in counted(core) for value in key]
    assert labels, "calls were counted"
    for value in labels:
        for bad in forbidden:
            assert bad not in value, f"the label {value!r} carries {bad!r}"


async def test_in_socket_mode_connections_open_is_counted_and_the_socket_is_not(
    core: Conversation, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    event = mention("over the socket")
    fake.queue(Reply("Answered over the socket."))
    async with serve_slack(core, slack, SLACK_APP_TOKEN=APP_TOKEN):
        await slack.wait_connected()
        await slack.socket_event(envelope(event))
        await until(lambda: answered(slack, event["ts"]) == "Answered over the socket.", what="the reply")
        await until(lambda: by_method(core) == made(slack), what="every call counted")
    assert counted(core)[("slack", "apps.connections.open", "200")] == 1
    assert set(by_method(core)) == {"auth.test", "apps.connections.open", "chat.postMessage"}


async def test_a_call_nobody_answers_is_counted_with_status_0(core: Conversation) -> None:
    env = SlackEnv.read({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"},
                        receiving=False)  # fmt: skip
    paces = SlackPaces(1.0, 50)
    workspaces = Workspaces(env, paces, None, core.metrics)
    async with workspaces.kept_alive(max_connections=2, call_seconds=5):
        client = AsyncWebClient(token=BOT_TOKEN, session=workspaces.session)
        configure_client(client, env, paces)
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.auth_test()
    # Refused: no HTTP answer, status 0; slack_sdk's default handler tries a ClientOSError once more.
    assert counted(core) == {("slack", "auth.test", "0"): 2}


async def test_a_label_that_cannot_be_made_never_fails_the_call(core: Conversation, slack: FakeSlack) -> None:
    def broken(verb: str, url: URL) -> str:
        raise ValueError("no label")

    trace = count_calls(core.metrics, "slack", broken)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session, session.post(slack.api_url + "auth.test") as r:
        assert r.status == 200
    assert counted(core) == {}


async def test_an_ingress_and_a_worker_each_count_their_own_calls_on_metrics(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, slack: FakeSlack, tmp_path: Path
) -> None:
    env = slack_env(redis_url, prefix, fake, slack, tmp_path)
    ingress, base = await run_slack(env, "--ingress-only")
    port = free_port()
    worker = await start("worker", "--host", "127.0.0.1", "--port", str(port), env=env)
    worker_base = f"http://127.0.0.1:{port}"
    try:
        await healthz(worker_base, worker)
        slack.rate_limit("chat.postMessage", retry_after=1)
        fake.queue(Reply("Answered by the worker."))
        event = mention("who answers?")
        async with aiohttp.ClientSession() as session:
            assert await deliver(session, base, event) == 200
        await until(lambda: answered(slack, event["ts"]) == "Answered by the worker.", what="the reply")

        async def both_counted() -> bool:
            total = Counter[str]()
            for samples in (await scraped(base), await scraped(worker_base)):
                for (_, method, _), value in samples.items():
                    total[method] += int(value)
            return total == made(slack)

        await until(both_counted, what="every call counted by the process that made it")
        at_ingress, at_worker = await scraped(base), await scraped(worker_base)
    finally:
        stopped = [await sigterm(process) for process in (worker, ingress)]
    for process, (_, err) in zip((worker, ingress), stopped, strict=True):
        assert process.returncode == 128 + signal.SIGTERM, err
        assert_clean_exit(err)
    assert at_ingress == {("slack", "auth.test", "200"): len(slack.calls_to("auth.test"))}, "the ingress only signs in"
    posts = len(slack.calls_to("chat.postMessage"))
    assert at_worker[("slack", "chat.postMessage", "429")] == 1
    assert at_worker[("slack", "chat.postMessage", "200")] == posts - 1 >= 1


def test_a_method_is_the_api_methods_name_and_a_download_is_one_name() -> None:
    api = "https://slack.com/api/"
    assert method_name(URL("https://slack.com/api/chat.postMessage"), api) == "chat.postMessage"
    assert method_name(URL("https://slack.com/api/assistant.threads.setStatus?x=1"), api) == (
        "assistant.threads.setStatus"
    )
    assert method_name(URL("https://files.slack.com/files-pri/T1-F1/plans.pdf?download=1"), api) == DOWNLOAD
    assert method_name(URL("https://slack.com/files-pri/T1-F1/plans.pdf"), api) == DOWNLOAD
    assert method_name(URL("https://slack.com/api/C0123/1710000000.000001"), api) == OTHER
    assert method_name(URL("http://127.0.0.1:8080/api/chat.update"), "http://127.0.0.1:8080/api/") == "chat.update"
