"""Hostile input on Discord (issue 10, item 8): thousands of generated gateway payloads into the real client.

Each test connects the real adapter to the fake Discord once, then Hypothesis generates payloads (in a
worker thread, so that the client keeps running on the test's event loop) and the fake dispatches each
over the gateway. Afterwards: the connection never dropped, nothing was logged at ERROR and parley's
own code logged no traceback, garbage got no reply, and a valid mention is still answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from adapters.discord import DiscordAdapter
from adapters.discord.intake import interaction_problem, message_problem
from bot.config import Config
from bot.notices import FAILURES, SOMETHING_BROKE
from bot.store import Store
from tests.support.config import make_config
from tests.support.discord_harness import EDIT_INTERVAL, RECLAIM_AFTER, discord_fake, running_adapter
from tests.support.discord_payloads import JSON, Payloads
from tests.support.fake_discord import FakeDiscord, Sent
from tests.support.fake_openai import FakeOpenAI, Reply

__all__ = ["discord_fake"]


@pytest.fixture
def discord_config(fake: FakeOpenAI, prefix: str) -> Config:
    """The harness's, without the rate limits: the payloads come from a handful of test users, hundreds a
    minute, and a limit's notice would hide whether each was answered (the limits are tested on their own)."""
    discord = {"edit_interval": EDIT_INTERVAL, "first_text_grace": 0}
    unlimited = {"user_per_minute": 0, "channel_per_minute": 0}
    return make_config(fake.url, prefix, discord=discord, queue={"reclaim_after": RECLAIM_AFTER}, rate_limits=unlimited)


ANSWER = "ok"
NOTICES = [SOMETHING_BROKE, *FAILURES.values()]
PARLEYS_OWN = ("adapters", "bot")
ERROR = logging.ERROR


def fuzz(strategy: SearchStrategy[Any], examples: int) -> Callable[[Callable[[Any], None]], Callable[[], None]]:
    """``@given`` with the settings of these runs: many examples, no deadline (the machine is shared), no
    example database left in the worktree."""
    checks = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )

    def decorate(test: Callable[[Any], None]) -> Callable[[], None]:
        generated: Callable[[], None] = checks(given(payload=strategy)(test))
        return generated

    return decorate


def remember(discord_fake: FakeDiscord, payload: Any) -> None:
    """Discord knows the messages it sends (a thread can be opened from one, a reply can refer to it): the fake
    keeps those of a message's shape, in a channel it has (its REST API serves no damaged message)."""
    if message_problem(payload) is None and payload["channel_id"] in discord_fake.channels:
        discord_fake.messages[payload["id"]] = Sent(payload, by_bot=False, versions=[payload["content"]])


async def send_all(
    discord_fake: FakeDiscord, event: str, strategy: SearchStrategy[Any], examples: int
) -> list[tuple[str, Any]]:
    """Dispatch ``examples`` generated payloads as ``event``, one after the other; returns what was sent."""
    return await send_events(discord_fake, st.tuples(st.just(event), strategy), examples)


async def send_events(
    discord_fake: FakeDiscord, strategy: SearchStrategy[tuple[str, Any]], examples: int
) -> list[tuple[str, Any]]:
    """Dispatch ``examples`` generated (event, payload) pairs, one after the other; returns what was sent."""
    loop = asyncio.get_running_loop()
    sent: list[tuple[str, Any]] = []

    def on_loop(job: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(job, loop).result(timeout=30)

    @fuzz(strategy, examples)
    def one(payload: tuple[str, Any]) -> None:
        event, data = payload
        if event == "MESSAGE_CREATE":
            remember(discord_fake, data)
        on_loop(discord_fake.dispatch(event, data))
        sent.append(payload)

    await asyncio.to_thread(one)
    return sent


async def still_answers(discord_fake: FakeDiscord, adapter: DiscordAdapter) -> str:
    """A valid mention after it all is answered, on the first connection; then every turn started so far has
    ended. Returns the mention's id."""
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} still?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [ANSWER], what="the answer to a valid mention")
    assert adapter.client is not None
    await adapter.client.settled()
    connection = (discord_fake.identifies, discord_fake.resumes, discord_fake.gateway_closes)
    assert connection == (1, 0, []), "the gateway connection never dropped: one IDENTIFY, no RESUME, never closed"
    return mid


def traceback_of(record: logging.LogRecord) -> str:
    """A record's traceback (parley's log filters move it into ``exc_text``), or ""."""
    if record.exc_info:
        return logging.Formatter().formatException(record.exc_info)
    return record.exc_text or ""


def assert_quiet(records: list[logging.LogRecord]) -> None:
    """Nothing at ERROR, and no traceback from parley's own code."""
    errors = [
        f"{r.name}: {r.getMessage()[:300]} {traceback_of(r)[-800:]}" for r in records if r.levelno >= logging.ERROR
    ]
    assert errors == [], "\n".join(errors)
    tracebacks = [traceback_of(r)[-800:] for r in records if r.name.startswith(PARLEYS_OWN) and traceback_of(r)]
    assert tracebacks == [], "\n".join(tracebacks)


@pytest.fixture
def quiet_answers(fake: FakeOpenAI) -> FakeOpenAI:
    """Every answer is a short "ok": a reply is cheap, and any other text is a notice or an apology."""
    fake.queue(*[Reply(ANSWER)] * 10_000)
    return fake


async def test_garbage_message_create_is_never_answered_and_breaks_nothing(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    quiet_answers: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Messages not for the bot, whole or damaged, and JSON that is no message at all."""
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake) as adapter:
        payloads = Payloads(discord_fake)
        sent = await send_all(discord_fake, "MESSAGE_CREATE", payloads.chatter(), 1000)
        mid = await still_answers(discord_fake, adapter)

    assert len(sent) == 1000
    assert_quiet(caplog.records)
    prompts = [request["messages"][-1]["content"] for request in quiet_answers.requests]
    answered = [data for _, data in sent if isinstance(data, dict) and str(data.get("content")).strip() in prompts]
    assert prompts == ["still?"], f"only the valid mention reached the model, not: {answered}"
    posts = [r.path for r in discord_fake.requests if r.method in ("POST", "PATCH") and "/messages" in r.path]
    assert posts and all(f"/{mid}/" in path for path in posts), "nothing but its answer (and its thread) was posted"
    assert_quiet(caplog.records)


async def test_odd_and_damaged_messages_for_the_bot_get_an_answer_or_nothing(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    quiet_answers: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Mentions and DMs with odd text, huge text, odd mentions, files that cannot be fetched, replies to
    unknown messages, other message types; whole or damaged. Never an apology or a failure notice."""
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake) as adapter:
        payloads = Payloads(discord_fake)
        sent = await send_all(discord_fake, "MESSAGE_CREATE", payloads.for_the_bot(), 700)
        await still_answers(discord_fake, adapter)

    assert len(sent) == 700
    assert_quiet(caplog.records)
    assert len(quiet_answers.requests) > 50, "the well-formed ones from people, with text, are answered"
    shown = [m.content for m in discord_fake.messages.values() if m.by_bot]
    assert not [text for text in shown if any(notice in text for notice in NOTICES)]
    assert all(0 < len(text) <= 2000 for text in shown)
    assert_quiet(caplog.records)


async def test_garbage_interactions_break_nothing(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    quiet_answers: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """/parley commands of every interaction type, odd subcommands and options, damaged, or any JSON."""
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake) as adapter:
        payloads = Payloads(discord_fake)
        sent = await send_all(discord_fake, "INTERACTION_CREATE", payloads.interactions(), 700)
        await still_answers(discord_fake, adapter)
        shown = await discord_fake.slash(discord_fake.general, discord_fake.bob, "show")
        found = discord_fake.interaction_answers
        await discord_fake.wait_for(lambda: bool(found[shown]), what="the answer to a valid /parley show")

    assert len(sent) == 700
    answers = [answer for answers in found.values() for answer in answers if "data" in answer]
    assert all(answer["data"].get("allowed_mentions", {"parse": []}) == {"parse": []} for answer in answers)
    assert not [a for a in answers if a["data"].get("content") == SOMETHING_BROKE]
    assert_quiet(caplog.records)


OTHER_EVENTS = [
    "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK", "MESSAGE_REACTION_ADD", "THREAD_CREATE", "THREAD_UPDATE",
    "THREAD_DELETE", "THREAD_LIST_SYNC", "THREAD_MEMBERS_UPDATE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "TYPING_START",
    "GUILD_MEMBER_UPDATE", "GUILD_ROLE_UPDATE", "PRESENCE_UPDATE", "USER_UPDATE", "NO_SUCH_EVENT",
]  # fmt: skip


async def test_garbage_in_other_events_breaks_nothing(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    quiet_answers: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The events parley leaves to discord.py (edits, deletions, threads, channels, members...), as any JSON or
    as a damaged message: discord.py may refuse them, the bot keeps serving."""
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake) as adapter:
        payloads = Payloads(discord_fake)
        data = st.one_of(JSON, st.dictionaries(st.text(max_size=12), JSON), payloads.for_the_bot())
        sent = await send_events(discord_fake, st.tuples(st.sampled_from(OTHER_EVENTS), data), 400)
        await still_answers(discord_fake, adapter)

    assert len(sent) == 400
    assert_quiet(caplog.records)


# -- what the fuzzing found, one case each --------------------------------------------------------------------


async def test_a_command_answer_longer_than_discord_takes_is_sent_in_parts(
    discord_config: Config, store: Store, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    """The core posts a command's answer as it is; one that echoes a long value is over 2,000 characters."""
    async with running_adapter(discord_config, store, discord_fake):
        value = "be brief. " * 250
        question = f"{discord_fake.mention} /set system_prompt {value}"
        mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, question)
        await discord_fake.wait_for(lambda: len(discord_fake.bot_texts(mid)) == 2, what="the answer, in two parts")

    texts = discord_fake.bot_texts(mid)
    assert all(0 < len(text) <= 2000 for text in texts)
    assert texts[0].startswith("system_prompt is now") and "".join(texts).count("brief.") == 250
    assert not [r for r in discord_fake.requests if r.status >= 400], "Discord refused nothing"


def mention_payload(discord_fake: FakeDiscord, text: str = "hello") -> dict[str, Any]:
    """A MESSAGE_CREATE of alice mentioning the bot in #general, as Discord sends it."""
    payload = discord_fake._message(discord_fake.channels[discord_fake.general], discord_fake.alice, "")
    payload["content"] = f"{discord_fake.mention} {text}"
    payload["mentions"] = [discord_fake.bot]
    return payload


def warnings_of(records: list[logging.LogRecord], name: str) -> list[str]:
    return [r.getMessage() for r in records if r.name == name and r.levelno == logging.WARNING]


def test_the_fakes_payloads_are_what_parley_reads() -> None:
    world = FakeDiscord()  # not started: only its world is used
    message = mention_payload(world)
    assert message_problem(message) is None
    assert interaction_problem(world.slash_payload(world.general, world.alice, "show")) is None
    dm = world.open_dm(world.bob)
    assert interaction_problem(world.slash_payload(dm, world.bob, "set", key="temperature", value="1")) is None
    for key, problem in [("mentions", "mentions is missing"), ("author", "author is missing")]:
        assert message_problem({k: v for k, v in message.items() if k != key}) == problem
    assert message_problem({**message, "id": "12a"}) == "id: not an id"
    assert message_problem({**message, "member": None}) == "member: not an object"
    assert message_problem([message]) == "a list, not an object"
    assert message_problem({**message, "attachments": [{"id": "1"}]}) == "attachments: [0] filename is missing"
    nested = {**message, "referenced_message": {**message, "content": 5}}
    assert message_problem(nested) == "referenced_message: content: not text"
    button = {**world.slash_payload(world.general, world.alice, "show"), "type": 3}
    assert interaction_problem(button) == "data: custom_id is missing"
    click = {"custom_id": "parley:vote:up", "component_type": 2}
    assert interaction_problem(world.interaction_payload(world.general, world.alice, 3, click, message)) is None
    other = {"custom_id": "someone-elses-button", "component_type": 2}
    problem = interaction_problem(world.interaction_payload(world.general, world.alice, 3, other, message))
    assert problem == "data: custom_id: not one of parley's buttons or forms"
    assert interaction_problem({**button, "type": 4}) == "an interaction of type 4, which parley does not offer"


async def test_messages_parley_cannot_read_or_place_are_ignored_with_a_warning(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    quiet_answers: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake) as adapter:
        damaged = {k: v for k, v in mention_payload(discord_fake).items() if k != "mentions"}
        await discord_fake.dispatch("MESSAGE_CREATE", damaged)  # discord.py would leave Message.mentions unset
        await discord_fake.dispatch("MESSAGE_CREATE", {**mention_payload(discord_fake), "guild_id": "1"})
        no_server = mention_payload(discord_fake)
        del no_server["guild_id"], no_server["member"]  # discord.py would take #general for a DM
        await discord_fake.dispatch("MESSAGE_CREATE", no_server)
        await discord_fake.dispatch("MESSAGE_CREATE", {**mention_payload(discord_fake), "channel_id": "12345"})
        await discord_fake.dispatch("THREAD_CREATE", {"id": "1"})  # discord.py's own parser raises
        await still_answers(discord_fake, adapter)

    assert len(quiet_answers.requests) == 1
    assert warnings_of(caplog.records, "adapters.discord.intake") == [
        "ignored a MESSAGE_CREATE event from Discord that parley cannot read: mentions is missing",
        "ignored a MESSAGE_CREATE event from Discord that parley cannot read: a server parley is not in",
        "ignored a MESSAGE_CREATE event from Discord that parley cannot read: no server, but the channel is a server's",
        "ignored a THREAD_CREATE event from Discord that discord.py cannot read (KeyError: 'guild_id')",
    ]
    (unseen,) = warnings_of(caplog.records, "adapters.discord.client")
    assert "cannot see its channel 12345" in unseen, "a channel Discord does not know: no apology either"
    assert_quiet(caplog.records)


async def test_a_file_whose_host_cannot_be_reached_is_noted_and_the_message_answered(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    fake: FakeOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake):
        payload = mention_payload(discord_fake, "read this")
        url = "http://127.0.0.1:9/notes.txt"  # nothing listens on port 9
        payload["attachments"] = [
            {"id": "1", "filename": "notes.txt", "size": 10, "url": url, "proxy_url": url, "content_type": "text/plain"}
        ]
        remember(discord_fake, payload)
        await discord_fake.dispatch("MESSAGE_CREATE", payload)
        answered = lambda: "echo: read this" in "".join(discord_fake.bot_texts(payload["id"]))  # noqa: E731
        await discord_fake.wait_for(answered, what="the answer")

    (text,) = discord_fake.bot_texts(payload["id"])
    assert text.startswith("I couldn't read notes.txt: Discord would not hand the file over.")
    warned = warnings_of(caplog.records, "adapters.discord.files")
    assert any("downloading a file (text/plain, 10 bytes) failed" in w for w in warned), warned
    assert not any("notes.txt" in w for w in warned), "a file's name is the user's text: not in a warning"
    assert_quiet(caplog.records)


async def test_a_command_parley_does_not_have_is_a_warning(
    discord_config: Config,
    store: Store,
    discord_fake: FakeDiscord,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stale command list on Discord's side (or a forged interaction): no traceback at ERROR."""
    caplog.set_level(logging.INFO)
    async with running_adapter(discord_config, store, discord_fake):
        await discord_fake.slash(discord_fake.general, discord_fake.alice, "nonsense")
        shown = await discord_fake.slash(discord_fake.general, discord_fake.alice, "show")
        await discord_fake.wait_for(lambda: bool(discord_fake.interaction_answers[shown]), what="/parley show")

    (warning,) = warnings_of(caplog.records, "adapters.discord.intake")
    assert warning.startswith("ignored a command parley does not have in this form")
    assert_quiet(caplog.records)
