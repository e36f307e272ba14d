"""The conversation core end to end: real Redis, the fake LLM over loopback HTTP, a recording sink."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from bot.config import Config
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import ChatMessage, CommandStyle
from bot.notices import FAILURES
from bot.sink import SinkLimits
from bot.split import open_fence
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import Drop, Empty, FakeOpenAI, HTTPError, Malformed, NoDone, Reply, Stall
from tests.support.messages import THREAD, msg, roles
from tests.support.recording_sink import RecordingSink


async def test_follow_up_carries_the_earlier_answer(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    fake.queue(Reply("1. Redis\n2. Postgres\n3. SQLite"), Reply("SQLite is an embedded database."))
    await core.receive(msg("Give me three databases"), sink)
    await core.receive(msg("tell me more about the third option"), sink)

    assert sink.texts == ["1. Redis\n2. Postgres\n3. SQLite", "SQLite is an embedded database."]
    sent = roles(fake.requests[1])
    assert sent[0][0] == "system"
    assert sent[1:] == [
        ("user", "Give me three databases"),
        ("assistant", "1. Redis\n2. Postgres\n3. SQLite"),
        ("user", "tell me more about the third option"),
    ]
    assert fake.requests[1]["stream"] is True
    assert fake.headers[1]["Authorization"].startswith("Bearer sk-test-")


async def test_history_has_a_ttl_refreshed_on_use_and_a_cap(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, history={"ttl_days": 2, "max_turns": 3})
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    for n in range(5):
        await core.receive(msg(f"message {n}"), sink)
    ttl = await store.redis.ttl(f"{prefix}:history:{{{THREAD}}}")
    assert 2 * 86400 - 60 < ttl <= 2 * 86400
    await store.redis.expire(f"{prefix}:history:{{{THREAD}}}", 100)
    await store.load_thread(THREAD, 2 * 86400)
    assert await store.redis.ttl(f"{prefix}:history:{{{THREAD}}}") > 100
    history = (await store.load_thread(THREAD, 2 * 86400))[0]
    assert [m.content for m in history] == [
        "message 2", "echo: message 2", "message 3", "echo: message 3", "message 4", "echo: message 4",
    ]  # fmt: skip


async def test_history_round_trips_do_not_grow_with_the_thread(store: Store) -> None:
    short, long = ThreadKey("test", "W", "C", "short"), ThreadKey("test", "W", "C", "long")
    await store.append_turn(short, [ChatMessage("user", "a"), ChatMessage("assistant", "b")], 1000, 60)
    for n in range(200):
        await store.append_turn(long, [ChatMessage("user", f"q{n}"), ChatMessage("assistant", f"a{n}")], 1000, 60)

    async def commands_for(thread: ThreadKey) -> int:
        before = (await store.redis.info("stats"))["total_commands_processed"]
        await store.load_thread(thread, 60)
        after = (await store.redis.info("stats"))["total_commands_processed"]
        return int(after - before) - 1  # less the INFO call itself

    assert await commands_for(short) == await commands_for(long) <= 3
    assert len((await store.load_thread(long, 60))[0]) == 400


async def test_old_turns_are_dropped_to_fit_the_budget(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, backend={"context_window": 600}, defaults={"max_tokens": 200})
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    for n in range(6):
        fake.queue(Reply(f"answer {n} " + "x" * 300))
        await core.receive(msg(f"question {n}"), sink)
    await core.receive(msg("last question"), sink)

    sent = roles(fake.requests[-1])
    assert sent[0][0] == "system" and sent[-1] == ("user", "last question")
    users = [content for role, content in sent if role == "user"]
    assert "question 5" in users and "question 0" not in users
    assert len(users) < 7
    assert sum(len(content) for _, content in sent) / 4 < 600 - 200


async def test_a_message_over_the_budget_is_answered_and_not_sent(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, backend={"context_window": 3000})
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    await core.receive(msg("word " * 5000), sink)
    assert "too long" in sink.last and "shorten" in sink.last
    assert fake.requests == []
    assert (await store.load_thread(THREAD, 60))[0] == []


async def test_two_turns_at_once_are_answered_in_order(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    fake.queue(Reply("first answer", delay=0.05), Reply(lambda body: f"saw {len(body['messages'])} messages"))
    await asyncio.gather(core.receive(msg("first"), sink), core.receive(msg("second"), sink))
    assert sink.texts == ["first answer", "saw 4 messages"]
    assert roles(fake.requests[1])[1:] == [("user", "first"), ("assistant", "first answer"), ("user", "second")]
    history = (await store.load_thread(THREAD, 60))[0]
    assert [m.content for m in history] == ["first", "first answer", "second", "saw 4 messages"]


async def test_turns_in_other_threads_do_not_wait(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    other = ThreadKey("test", "W1", "C1", "t2")
    fake.queue(Reply("slow answer, slowly", chunk_size=5, delay=0.5))
    slow = asyncio.create_task(core.receive(msg("slow one"), sink))
    await asyncio.sleep(0.05)
    other_sink = RecordingSink()
    await core.receive(msg("fast one", thread=other), other_sink)
    assert other_sink.texts == ["echo: fast one"]
    assert not slow.done(), "the other thread's answer came first"
    await slow
    assert sink.texts == ["slow answer, slowly"]


async def test_a_redelivered_event_is_handled_once(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    event = msg("hello", event="Ev123")
    await asyncio.gather(core.receive(event, sink), core.receive(event, sink))
    await core.receive(event, sink)
    assert len(fake.requests) == 1
    assert sink.texts == ["echo: hello"]


FAULTS = [
    pytest.param([HTTPError(500)] * 3, "unavailable", 3, id="500-after-retries"),
    pytest.param([HTTPError(429, retry_after="120")], "rate_limited", 1, id="429-retry-after-too-long"),
    pytest.param([HTTPError(401)], "auth", 1, id="401"),
    pytest.param([HTTPError(404, "The model `nope` does not exist")], "unknown_model", 1, id="unknown-model"),
    pytest.param([HTTPError(400, "Unrecognized request argument: foo")], "rejected", 1, id="bad-parameter"),
    pytest.param(  # trimmed and retried once (issue 5), then given up
        [HTTPError(400, "This model's maximum context length is 8192 tokens.")] * 2, "context", 2, id="context-too-long"
    ),
    pytest.param([Stall()], "timeout", 1, id="stalled-stream"),
    pytest.param([Malformed()], "interrupted", 1, id="malformed-chunk"),
    pytest.param([Drop()], "interrupted", 1, id="dropped-connection"),
    pytest.param([NoDone()], "interrupted", 1, id="no-done"),
    pytest.param([Empty()], "empty", 1, id="empty-answer"),
]


@pytest.mark.parametrize(("faults", "kind", "calls"), FAULTS)
async def test_a_failed_reply_tells_the_user_and_leaves_history_alone(
    fake: FakeOpenAI,
    prefix: str,
    store: Store,
    sink: RecordingSink,
    faults: list[object],
    kind: str,
    calls: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = make_config(fake.url, prefix, backend={"read_timeout": 1.0})
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    await core.receive(msg("before"), sink)
    fake.queue(*faults)  # type: ignore[arg-type]

    await core.receive(msg("this one fails"), sink)
    assert sink.last == FAILURES[kind].format(model="fake-model")  # type: ignore[index]
    assert len(fake.requests) == 1 + calls
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["before", "echo: before"]
    assert "Traceback" not in sink.last
    assert any(kind in record.getMessage() for record in caplog.records)

    await core.receive(msg("after"), sink)
    assert sink.last == "echo: after"
    assert roles(fake.requests[-1])[1:] == [
        ("user", "before"), ("assistant", "echo: before"), ("user", "after"),
    ]  # fmt: skip


async def test_retry_after_is_honoured(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    fake.queue(HTTPError(429, retry_after="1"), Reply("made it"))
    started = time.monotonic()
    await core.receive(msg("hi"), sink)
    assert sink.texts == ["made it"]
    assert len(fake.requests) == 2
    assert time.monotonic() - started >= 0.95


async def test_a_5xx_is_retried(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    fake.queue(HTTPError(503), HTTPError(502), Reply("third time lucky"))
    await core.receive(msg("hi"), sink)
    assert sink.texts == ["third time lucky"]
    assert len(fake.requests) == 3


async def test_streaming_edits_are_paced_and_end_complete(core: Conversation, fake: FakeOpenAI) -> None:
    # A budget of one write: every write, the last edit too, waits out edit_interval (tests/core/test_pacing.py
    # has the default budget, whose last edit goes out at once).
    sink = RecordingSink(limits=SinkLimits(max_chars=3500, edit_interval=0.2, placeholder="…", edit_burst=1))
    text = "The quick brown fox jumps over the lazy dog. " * 6
    fake.queue(Reply(text, chunk_size=8, delay=0.03))
    await core.receive(msg("stream please"), sink)

    assert sink.writes[0].kind == "post" and sink.writes[0].text == "…"
    edits = [w for w in sink.writes if w.kind == "edit"]
    assert len(edits) >= 3, "the reply should be shown while it is written"
    gaps = [b.at - a.at for a, b in zip(sink.writes, sink.writes[1:], strict=False)]
    assert min(gaps) >= 0.2 - 0.01
    assert sink.texts == [text.strip()] or sink.texts == [text]
    assert all(text.startswith(e.text) for e in edits)


async def test_a_long_reply_is_split_at_boundaries(core: Conversation, fake: FakeOpenAI, store: Store) -> None:
    sink = RecordingSink(limits=SinkLimits(max_chars=300, edit_interval=0.0))
    code = "\n".join(f"    print({n})" for n in range(40))
    text = "Here is the plan.\n\n" + "Some words here. " * 20 + f"\n\n```python\ndef main():\n{code}\n```\n\nDone."
    fake.queue(Reply(text, chunk_size=7))
    await core.receive(msg("long please"), sink)

    assert len(sink.texts) >= 3
    assert all(0 < len(t) <= 300 for t in sink.texts)
    assert all(open_fence(t) is None for t in sink.texts), "every message closes its code fences"
    assert sum(t.count("```python") for t in sink.texts) >= 2, "a cut fence is reopened with its language"
    assert sink.texts[-1].endswith("Done.")
    history = (await store.load_thread(THREAD, 60))[0]
    assert history[-1].content == text


async def test_non_streaming_channel(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    await core.receive(msg("/set stream false"), sink)
    await core.receive(msg("whole answer please"), sink)
    assert fake.requests[0]["stream"] is False
    assert sink.last == "echo: whole answer please"


async def test_settings_from_chat_reach_the_request(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    await core.receive(msg("/set temperature 0.3"), sink)
    assert "temperature is now 0.3" in sink.last
    await core.receive(msg("/set system_prompt You are a pirate."), sink)
    await core.receive(msg('/set stop ["END"]'), sink)
    await core.receive(msg("/set max_tokens 77"), sink)
    await core.receive(msg("ahoy"), sink)
    request = fake.requests[-1]
    assert request["temperature"] == 0.3
    assert request["stop"] == ["END"]
    assert request["max_tokens"] == 77
    assert roles(request)[0] == ("system", "You are a pirate.")

    other_thread = ThreadKey("test", "W1", "C1", "another")
    await core.receive(msg("and here", thread=other_thread), sink)
    assert fake.requests[-1]["temperature"] == 0.3, "a thread inherits its channel's settings"
    other_channel = ThreadKey("test", "W1", "C2", "t1")
    await core.receive(msg("elsewhere", thread=other_channel), sink)
    assert "temperature" not in fake.requests[-1]

    await core.receive(msg("/unset temperature"), sink)
    assert "removed" in sink.last
    await core.receive(msg("again"), sink)
    assert "temperature" not in fake.requests[-1]


async def test_settings_an_adapter_resolved_are_used_as_given(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await core.receive(msg("/set temperature 0.9"), sink)
    resolved = await core.settings_for(THREAD.channel_key)
    await core.receive(msg("warmer"), sink, resolved.model_copy(update={"temperature": 0.3}))
    assert fake.requests[-1]["temperature"] == 0.3, "the given settings, not the channel's resolved again"
    await core.receive(msg("off"), sink, resolved.model_copy(update={"enabled": False}))
    assert len(fake.requests) == 1
    await core.receive(msg("as stored"), sink)
    assert fake.requests[-1]["temperature"] == 0.9
    assert sink.texts[1:] == ["echo: warmer", "echo: as stored"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/set temperature 7", "less than or equal to 2"),
        ("/set colour blue", "Allowed settings: backend, model"),
        ("/set backend nope", "Allowed: fake"),
        ("/set trigger always", "'mention' or 'thread'"),
        ("/set max_tokens lots", "valid integer"),
    ],
)
async def test_invalid_values_are_refused_and_nothing_is_stored(
    core: Conversation, store: Store, sink: RecordingSink, command: str, expected: str
) -> None:
    await core.receive(msg(command), sink)
    assert sink.last.startswith("Not changed:")
    assert expected in sink.last
    assert await store.overrides(THREAD.channel_key) == {}


async def test_only_admins_change_settings(
    core: Conversation, config: Config, store: Store, sink: RecordingSink
) -> None:
    await core.receive(msg("/set temperature 0.5", admin=False, user="U9"), sink)
    assert "only admins" in sink.last
    assert await store.overrides(THREAD.channel_key) == {}
    await core.receive(msg("/unset temperature", admin=False, user="U9"), sink)
    assert "only admins" in sink.last

    listed = Conversation(config=config.model_copy(update={"admins": ["test:U9"]}), store=store, backends=core.backends)
    await listed.receive(msg("/set temperature 0.5", admin=False, user="U9"), sink)
    assert await store.overrides(THREAD.channel_key) == {"temperature": 0.5}


async def test_show_names_the_source_of_each_value(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(
        fake.url,
        prefix,
        defaults={"temperature": 0.5, "max_tokens": 500},
        channels=[
            {"match": "test:*", "temperature": 0.7, "top_p": 0.9},
            {"match": "test:W1/C1", "temperature": 0.8},
            {"match": "slack:*", "temperature": 0.1},
        ],
    )
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    await core.receive(msg("hi"), sink)
    assert fake.requests[-1]["temperature"] == 0.8
    await core.receive(msg("/set temperature 0.9"), sink)
    await core.receive(msg("hi again"), sink)
    assert fake.requests[-1]["temperature"] == 0.9
    assert fake.requests[-1]["top_p"] == 0.9
    assert fake.requests[-1]["max_tokens"] == 500

    await core.receive(msg("/show"), sink)
    lines = {line.split()[0]: line for line in sink.last.splitlines()[1:]}
    assert "0.9" in lines["temperature"] and "override" in lines["temperature"]
    assert "channel rule 1 (test:*)" in lines["top_p"]
    assert "[defaults]" in lines["max_tokens"]
    assert "built-in" in lines["history_turns"]
    assert "fake-model" in lines["model"]


async def test_reset_forgets_the_thread(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    await core.receive(msg("remember me"), sink)
    await core.receive(msg("/reset"), sink)
    assert "forgotten" in sink.last
    assert (await store.load_thread(THREAD, 60))[0] == []
    await core.receive(msg("who am I?"), sink)
    assert roles(fake.requests[-1])[1:] == [("user", "who am I?")]


async def test_when_the_bot_answers(core: Conversation, fake: FakeOpenAI, sink: RecordingSink) -> None:
    thread = ThreadKey("test", "W1", "C7", "t9")
    await core.receive(msg("chatter", thread=thread, mentioned=False), sink)
    assert sink.texts == [] and fake.requests == []
    await core.receive(msg("@bot hi", thread=thread, mentioned=True), sink)
    await core.receive(msg("follow-up without a mention", thread=thread, mentioned=False), sink)
    assert sink.texts == ["echo: @bot hi", "echo: follow-up without a mention"]

    await core.receive(msg("/set trigger mention", thread=thread), sink)
    await core.receive(msg("ignored now", thread=thread, mentioned=False), sink)
    assert len(fake.requests) == 2
    await core.receive(msg("a DM is always answered", thread=thread, mentioned=False, is_dm=True), sink)
    assert len(fake.requests) == 3

    await core.receive(msg("/set enabled false", thread=thread), sink)
    await core.receive(msg("hello?", thread=thread, mentioned=True), sink)
    assert len(fake.requests) == 3


async def test_max_tokens_must_leave_room_for_the_prompt(core: Conversation, store: Store, sink: RecordingSink) -> None:
    await core.receive(msg("/set max_tokens 9000"), sink)
    assert sink.last.startswith("Not changed: max_tokens") and "8192-token context window" in sink.last
    assert await store.overrides(THREAD.channel_key) == {}


async def test_a_lock_left_by_a_crashed_process_expires(store: Store) -> None:
    crashed = store.redis.lock(f"{store.prefix}:lock:{{{THREAD}}}", timeout=0.5)
    assert await crashed.acquire()  # and never released
    started = time.monotonic()
    async with store.thread_lock(THREAD, ttl=0.5):
        waited = time.monotonic() - started
    assert waited > 0.3, "it waited for the dead holder's lock to expire"


async def test_a_held_thread_lock_is_renewed(store: Store) -> None:
    async with store.thread_lock(THREAD, ttl=2.0):  # renewed every ~0.7 s
        await asyncio.sleep(4.0)  # twice the TTL: only renewal keeps it
        assert await store.redis.exists(f"{store.prefix}:lock:{{{THREAD}}}")
    assert not await store.redis.exists(f"{store.prefix}:lock:{{{THREAD}}}")


async def test_a_lost_lock_does_not_spoil_a_good_reply(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    fake.queue(Reply("a good answer, slowly", chunk_size=4, delay=0.3))
    turn = asyncio.create_task(core.receive(msg("hello"), sink))
    for _ in range(100):
        if await store.redis.exists(f"{store.prefix}:lock:{{{THREAD}}}"):
            break
        await asyncio.sleep(0.02)
    await store.redis.delete(f"{store.prefix}:lock:{{{THREAD}}}")  # as if it expired, or Redis failed over
    await turn
    assert sink.texts == ["a good answer, slowly"]
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["hello", "a good answer, slowly"]
    assert any("lock" in record.getMessage() for record in caplog.records)


async def test_a_message_that_only_starts_with_a_slash_goes_to_the_model(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await core.receive(msg("/etc/hosts has a typo, how do I fix it?"), sink)
    assert sink.texts == ["echo: /etc/hosts has a typo, how do I fix it?"]
    await core.receive(msg("/sett temperature 1"), sink)
    assert sink.last.startswith("Unknown command /sett.")
    assert len(fake.requests) == 1


async def test_an_emoji_split_between_chunks_arrives_whole(
    core: Conversation, fake: FakeOpenAI, store: Store, sink: RecordingSink
) -> None:
    fake.queue(Reply("smile \ud83d\ude00 done", chunk_size=1))  # the pair's halves go in two chunks
    await core.receive(msg("smile?"), sink)
    assert sink.texts == ["smile \U0001f600 done"]
    assert ((await store.load_thread(THREAD, 60))[0])[-1].content == "smile \U0001f600 done"


async def test_switching_to_a_smaller_backend_keeps_room_for_the_prompt(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix, backend={"context_window": 100_000})
    small = config.backends["fake"].model_copy(update={"context_window": 4096})
    config = config.model_copy(update={"backends": {**config.backends, "small": small}})
    core = Conversation(config=config, store=store, backends=open_backends(config, {"PARLEY_TEST_API_KEY": "k"}))
    await core.receive(msg("/set max_tokens 50000"), sink)
    assert "max_tokens is now 50000" in sink.last
    await core.receive(msg("/set backend small"), sink)
    assert sink.last.startswith("Not changed: max_tokens: 50000") and "4096-token" in sink.last
    assert await store.overrides(THREAD.channel_key) == {"max_tokens": 50000}


class StatusRecordingSink(RecordingSink):
    """A sink with the optional status capability (Discord's typing, Slack's "is thinking...")."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    @contextlib.asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        self.events.append("status on")
        try:
            yield
        finally:
            self.events.append("status off")

    async def post(self, text: str) -> str:
        self.events.append(f"post {text}")
        return await super().post(text)


async def test_a_status_is_shown_until_the_first_text(core: Conversation, fake: FakeOpenAI) -> None:
    sink = StatusRecordingSink()
    fake.queue(Reply("Hello there"))
    await core.receive(msg("hi"), sink)
    assert sink.events[:2] == ["status on", "status off"]
    assert sink.events[2].startswith("post Hello")
    assert sink.texts == ["Hello there"]


async def test_a_status_ends_when_the_reply_fails(core: Conversation, fake: FakeOpenAI) -> None:
    sink = StatusRecordingSink()
    fake.queue(HTTPError(401, "bad key"))
    await core.receive(msg("hi"), sink)
    assert sink.events == ["status on", "status off", f"post {FAILURES['auth']}"]


async def test_models_lists_the_backends_and_marks_this_channels(core: Conversation, sink: RecordingSink) -> None:
    await core.receive(msg("/models"), sink)
    assert "fake-model" in sink.last
    assert "fake " in sink.last and "<- this channel" in sink.last


SLACK_LIKE = CommandStyle(prefix="/parley ", reset="@parley reset")


def test_a_command_style_names_commands_as_the_platform_types_them() -> None:
    text = "Send /reset to start afresh, or an admin can lower max_tokens (/set max_tokens 1024). /show lists them."
    assert SLACK_LIKE.phrase(text) == (
        "Send @parley reset to start afresh, or an admin can lower max_tokens (/parley set max_tokens 1024). "
        "/parley show lists them."
    )
    assert CommandStyle().phrase(text) == text
    assert SLACK_LIKE.phrase("see /etc/hosts and a/show b") == "see /etc/hosts and a/show b", "only commands change"


async def test_notices_and_command_answers_name_the_platforms_commands(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    fake.queue(*[HTTPError(400, "This model's maximum context length is 8192 tokens.")] * 2)
    message = msg("a question")
    await core.receive(dataclasses.replace(message, style=SLACK_LIKE), sink)
    assert "Send @parley reset to start afresh" in sink.last and "/reset" not in sink.last

    refused = dataclasses.replace(msg("/set temperature 0.2", admin=False), style=SLACK_LIKE)
    await core.receive(refused, sink)
    assert sink.last == "Sorry, only admins can change this channel's settings. /parley show lists them."


async def test_the_channel_the_user_is_viewing_reaches_this_turns_prompt_only(
    core: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await core.receive(dataclasses.replace(msg("what is new here?"), viewing="<#C0ROADMAP>"), sink)
    await core.receive(msg("and elsewhere?"), sink)
    first, second = (request["messages"][0]["content"] for request in fake.requests)
    assert first.endswith("The user is looking at the channel <#C0ROADMAP> beside this conversation.")
    assert "C0ROADMAP" not in second
