"""Discord's REST calls in /metrics: ``parley_platform_calls_total{platform="discord",method,status}``."""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter
from pathlib import Path

from redis.asyncio import Redis
from yarl import URL

from adapters.discord.call_metrics import DOWNLOAD, route_template
from bot.conversation import Conversation
from tests.discord.test_discord_queue import ingress, queue_env
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.fake_discord import TOKEN, FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.metric_samples import registry_calls
from tests.support.metric_samples import scraped_calls as scraped
from tests.support.net import free_port
from tests.support.parley_process import assert_clean_exit, healthz, sigterm, start

__all__ = ["bot", "discord_config", "discord_fake"]

ROUTES = {
    r"GET /api/v10/users/@me": "GET /users/@me",
    r"GET /api/v10/oauth2/applications/@me": "GET /oauth2/applications/@me",
    r"PUT /api/v10/applications/\d+/commands": "PUT /applications/{id}/commands",
    r"PUT /api/v10/applications/\d+/guilds/\d+/commands": "PUT /applications/{id}/guilds/{id}/commands",
    r"GET /api/v10/channels/\d+": "GET /channels/{id}",
    r"POST /api/v10/channels/\d+/messages": "POST /channels/{id}/messages",
    r"GET /api/v10/channels/\d+/messages": "GET /channels/{id}/messages",
    r"GET /api/v10/channels/\d+/messages/\d+": "GET /channels/{id}/messages/{id}",
    r"PATCH /api/v10/channels/\d+/messages/\d+": "PATCH /channels/{id}/messages/{id}",
    r"POST /api/v10/channels/\d+/messages/\d+/threads": "POST /channels/{id}/messages/{id}/threads",
    r"POST /api/v10/channels/\d+/typing": "POST /channels/{id}/typing",
    r"PUT /api/v10/channels/\d+/messages/\d+/reactions/[^/]+/@me":
        "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me",
    r"POST /api/v10/interactions/\d+/[^/]+/callback": "POST /interactions/{id}/{token}/callback",
    r"POST /api/v10/webhooks/\d+/[^/]+": "POST /webhooks/{id}/{token}",
    r"GET /cdn/attachments/\d+/[^/]+": DOWNLOAD,
}  # fmt: skip
"""The fake's paths, as the test writes them out, and the label each must be counted under."""


def expected(discord_fake: FakeDiscord) -> Counter[tuple[str, str]]:
    """What the fake answered, by (method label, status)."""
    found: Counter[tuple[str, str]] = Counter()
    for request in discord_fake.requests:
        line = f"{request.method} {request.path}"
        (label,) = [label for pattern, label in ROUTES.items() if re.fullmatch(pattern, line)] or [line]
        found[(label, str(request.status))] += 1
    return found


def counted(samples: dict[tuple[str, str, str], float]) -> Counter[tuple[str, str]]:
    return Counter({(method, status): int(value) for (platform, method, status), value in samples.items()})


def registry_samples(conversation: Conversation) -> dict[tuple[str, str, str], float]:
    return registry_calls(conversation.metrics)


async def test_every_rest_call_is_counted_by_route_and_status_and_a_429_shows(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    answer = "A fairly long answer that streams in pieces. " * 8
    fake.queue(Reply(answer, chunk_size=10, delay=0.03))
    world.rate_limit_edits = [0.5]
    files = [("notes.txt", "text/plain", b"the secret plans")]
    mid = await world.user_message(world.general, world.alice, f"{world.mention} read this", files=files)
    await world.wait_for(lambda: world.bot_texts(mid) == [answer], what="the complete reply")
    interaction = await world.slash(world.general, world.alice, "show")
    await world.wait_for(lambda: bool(world.interaction_answers.get(interaction)), what="the /parley show answer")
    await world.wait_for(lambda: counted(registry_samples(bot)) == expected(world), what="every call counted")

    calls = counted(registry_samples(bot))
    assert calls[("PATCH /channels/{id}/messages/{id}", "429")] == 1, "the 429 on an edit shows"
    assert calls[("PATCH /channels/{id}/messages/{id}", "200")] == len(world.edits()) - 1 >= 1
    assert calls[("POST /channels/{id}/messages/{id}/threads", "201")] == 1
    assert calls[("POST /interactions/{id}/{token}/callback", "200")] == 1
    assert calls[(DOWNLOAD, "200")] == 1
    assert calls[("GET /users/@me", "200")] == 1
    assert all(platform == "discord" for platform, _, _ in registry_samples(bot))


async def test_no_label_carries_an_id_a_token_or_a_text(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    fake.queue(Reply("They are plans."))
    files = [("secret-plans.txt", "text/plain", b"the plans")]
    mid = await world.user_message(world.general, world.alice, f"{world.mention} tell me about it", files=files)
    await world.wait_for(lambda: world.bot_texts(mid) == ["They are plans."], what="the reply")
    interaction = await world.slash(mid, world.bob, "show")
    await world.wait_for(lambda: bool(world.interaction_answers.get(interaction)), what="the /parley show answer")
    await world.wait_for(lambda: counted(registry_samples(bot)) == expected(world), what="every call counted")
    labels = [value for key in registry_samples(bot) for value in key]
    assert any("{token}" in value for value in labels), "the interaction's callback was counted"
    for value in labels:
        assert not re.search(r"\d{5}", value), f"an id in {value!r}"
        for bad in (TOKEN, "interaction-token", "secret-plans", "plans", "tell me", world.alice["username"]):
            assert bad not in value, f"the label {value!r} carries {bad!r}"


async def test_a_worker_process_counts_its_rest_calls_on_its_metrics(
    redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    """``parley worker`` logs in over REST alone (its own HTTP session): its calls show on its /metrics."""
    env = queue_env(redis_url, prefix, fake, discord_fake, tmp_path)
    accepting = await ingress(env, discord_fake)
    port = free_port()
    answering = await start("worker", "--host", "127.0.0.1", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        await healthz(base, answering)
        discord_fake.rate_limit_edits = [0.3]
        fake.queue(Reply("A streamed answer, edited as it grows. " * 6, chunk_size=12, delay=0.03))
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} hi")
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 1, what="the answer")
        await discord_fake.wait_for(lambda: not discord_fake.rate_limit_edits, what="the 429")
        for _ in range(300):  # the worker counts a call once its answer is in: a moment after the fake saw it
            answered = counted(await scraped(base))
            if answered[("PATCH /channels/{id}/messages/{id}", "429")] == 1:
                break
            await asyncio.sleep(0.05)
    finally:
        _, worker_log = await sigterm(answering)
        _, ingress_log = await sigterm(accepting)
    assert answering.returncode == 128 + signal.SIGTERM, worker_log
    assert accepting.returncode == 128 + signal.SIGTERM, ingress_log
    assert_clean_exit(worker_log, TOKEN)
    assert answered[("PATCH /channels/{id}/messages/{id}", "429")] == 1
    assert answered[("GET /users/@me", "200")] == 1, "the worker's REST login"
    assert answered[("POST /channels/{id}/messages/{id}/threads", "201")] == 1
    assert answered[("POST /channels/{id}/messages", "200")] >= 1


def test_a_route_is_a_template_with_no_id_token_or_emoji() -> None:
    api = "https://discord.com/api/v10"

    def route(verb: str, url: str) -> str:
        return route_template(verb, URL(url), api)

    assert route("POST", f"{api}/channels/1234567890123/messages") == "POST /channels/{id}/messages"
    assert route("PATCH", f"{api}/channels/12345/messages/67890") == "PATCH /channels/{id}/messages/{id}"
    callback = f"{api}/interactions/1234567/aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZmdo/callback"
    assert route("POST", callback) == "POST /interactions/{id}/{token}/callback"
    assert (
        route("POST", f"{api}/interactions/1234567/short-token/callback") == "POST /interactions/{id}/{token}/callback"
    )
    assert route("PATCH", f"{api}/webhooks/42/tok-en_X/messages/@original") == (
        "PATCH /webhooks/{id}/{token}/messages/@original"
    )
    assert route("PUT", f"{api}/channels/1/messages/2/reactions/%F0%9F%91%8D/@me") == (
        "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me"
    )
    assert route("PUT", f"{api}/channels/1/messages/2/reactions/party:123/@me?x=1") == (
        "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me"
    )
    assert route("GET", f"{api}/channels/1/messages?limit=50&before=99999") == "GET /channels/{id}/messages"
    assert route("GET", f"{api}/guilds/1/Some_Thing.Odd") == "GET /guilds/{id}/{token}"
    assert route("GET", "https://cdn.discordapp.com/attachments/1/2/plans.pdf?ex=1") == DOWNLOAD
    assert route("GET", "https://discord.com/attachments/1/2/plans.pdf") == DOWNLOAD
