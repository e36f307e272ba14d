"""The native Anthropic backend: through the core (real Redis, loopback fake of the Messages API), and alone."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.config import BackendConfig, Config
from bot.conversation import Conversation
from bot.llm.anthropic import AnthropicBackend, merge_turns
from bot.llm.base import Backend, BackendError, ChatRequest, Reasoning, StreamItem, Usage
from bot.llm.registry import open_backends
from bot.messages import Author, ChatMessage, IncomingMessage
from bot.notices import FAILURES
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import TEST_KEY, TEST_KEY_ENV
from tests.support.fake_anthropic import (
    Drop,
    ErrorEvent,
    FakeAnthropic,
    HTTPError,
    NoStop,
    Reply,
    Stall,
    input_tokens,
    rough_tokens,
)
from tests.support.recording_sink import RecordingSink

THREAD = ThreadKey("test", "W1", "C1", "claude")
MODEL = "claude-fake-1"


def msg(text: str) -> IncomingMessage:
    return IncomingMessage(THREAD, Author("U1", "User", is_admin=True), text, uuid.uuid4().hex, True, False)


@pytest_asyncio.fixture
async def claude() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def anthropic_config(url: str, prefix: str, *, defaults: dict[str, Any] | None = None, **backend: Any) -> Config:
    settings = {
        "type": "anthropic",
        "base_url": url,
        "api_key_env": TEST_KEY_ENV,
        "model": MODEL,
        "read_timeout": 1.0,
        "connect_timeout": 2.0,
        "max_retries": 2,
        **backend,
    }
    return Config(redis_prefix=prefix, backends={"claude": BackendConfig(**settings)}, defaults=defaults or {})


@pytest_asyncio.fixture
async def core(claude: FakeAnthropic, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    config = anthropic_config(claude.url, prefix, defaults={"system_prompt": "You are terse."})
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


@pytest_asyncio.fixture
async def backend(claude: FakeAnthropic) -> AsyncIterator[AnthropicBackend]:
    config = anthropic_config(claude.url, "unused").backends["claude"]
    client = AnthropicBackend("claude", config, TEST_KEY)
    yield client
    await client.aclose()


async def items_of(backend: AnthropicBackend, request: ChatRequest) -> list[StreamItem]:
    return [item async for item in backend.generate(request)]


def request(*messages: ChatMessage, stream: bool = True, **fields: Any) -> ChatRequest:
    return ChatRequest(MODEL, messages, max_tokens=fields.pop("max_tokens", 200), stream=stream, **fields)


# -- through the core -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_a_thread_with_claude(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink, stream: bool
) -> None:
    config = anthropic_config(claude.url, prefix, defaults={"system_prompt": "You are terse.", "stream": stream})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    claude.queue(Reply("Kestrel, Lantern, Quartz."), Reply("Quartz is hard and clear."))
    await core.receive(msg("Three release names?"), sink)
    await core.receive(msg("tell me about the third"), sink)

    assert sink.texts == ["Kestrel, Lantern, Quartz.", "Quartz is hard and clear."]
    sent = claude.requests[1]
    assert sent["system"] == "You are terse.", "the system prompt is the top-level field"
    assert sent["messages"] == [
        {"role": "user", "content": "Three release names?"},
        {"role": "assistant", "content": "Kestrel, Lantern, Quartz."},
        {"role": "user", "content": "tell me about the third"},
    ]
    assert sent["max_tokens"] == 1024 and sent["model"] == MODEL and sent["stream"] is stream
    headers = claude.headers[1]
    assert headers["x-api-key"] == TEST_KEY and headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    history = (await store.load_thread(THREAD, 60))[0]
    assert [m.content for m in history][-1] == "Quartz is hard and clear."


async def test_thinking_is_kept_out_of_the_reply_and_the_history(
    core: Conversation, claude: FakeAnthropic, store: Store, sink: RecordingSink
) -> None:
    claude.queue(Reply("The answer is 4.", thinking="Two plus two... carry nothing... four."))
    await core.receive(msg("2+2?"), sink)
    assert sink.texts == ["The answer is 4."]
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["2+2?", "The answer is 4."]


async def test_a_reply_cut_at_max_tokens_is_a_complete_reply(
    core: Conversation, claude: FakeAnthropic, store: Store, sink: RecordingSink
) -> None:
    claude.queue(Reply("This sentence stops in the mid", stop_reason="max_tokens"))
    await core.receive(msg("write a long essay"), sink)
    assert sink.texts == ["This sentence stops in the mid"]
    assert len((await store.load_thread(THREAD, 60))[0]) == 2, "stored like OpenAI's finish_reason length"


async def test_a_temperature_above_one_is_sent_as_one(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = anthropic_config(claude.url, prefix, defaults={"temperature": 1.6, "presence_penalty": 0.5})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    await core.receive(msg("be creative"), sink)
    assert sink.texts == ["echo: be creative"]
    assert claude.requests[0]["temperature"] == 1.0
    assert "presence_penalty" not in claude.requests[0], "Anthropic has no penalties"


@pytest.mark.parametrize(
    ("settings", "sent"),
    [
        ({"temperature": 0.3, "top_p": 0.9}, {"temperature": 0.3}),
        ({"top_p": 0.9}, {"top_p": 0.9}),
        ({"temperature": 0.3}, {"temperature": 0.3}),
    ],
)
async def test_temperature_and_top_p_are_never_sent_together(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink, settings: dict[str, float],
    sent: dict[str, float],
) -> None:  # fmt: skip
    config = anthropic_config(claude.url, prefix, defaults=settings)
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    await core.receive(msg("hello"), sink)
    assert sink.last == "echo: hello"
    assert {k: v for k, v in claude.requests[-1].items() if k in ("temperature", "top_p")} == sent


async def test_extended_thinking_is_asked_for_and_kept_out_of_the_reply(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = anthropic_config(claude.url, prefix, thinking_budget=2048, defaults={"temperature": 0.3, "top_p": 0.5})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    claude.queue(Reply("Ninety-one.", thinking="7 * 13 = 91."))
    await core.receive(msg("7*13?"), sink)
    assert sink.texts == ["Ninety-one."]
    sent = claude.requests[0]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 1024 + 2048, "the answer keeps its own max_tokens"
    assert "temperature" not in sent and "top_p" not in sent, "the API refuses them with thinking"


FAULTS = [
    pytest.param([HTTPError(529, "Overloaded")] * 3, "unavailable", 3, id="529-overloaded-after-retries"),
    pytest.param([HTTPError(500)] * 3, "unavailable", 3, id="500-after-retries"),
    pytest.param([HTTPError(429, retry_after="120")], "rate_limited", 1, id="429-retry-after-too-long"),
    pytest.param([HTTPError(401, "invalid x-api-key")], "auth", 1, id="401"),
    pytest.param([HTTPError(403)], "auth", 1, id="403"),
    pytest.param(  # trimmed and retried once (issue 5), then given up
        [HTTPError(400, "prompt is too long: 212000 tokens > 200000 maximum")] * 2, "context", 2, id="prompt-too-long"
    ),
    pytest.param([HTTPError(400, "stop_sequences: too many")], "rejected", 1, id="bad-parameter"),
    pytest.param([Stall()], "timeout", 1, id="stalled-stream"),
    pytest.param([ErrorEvent()], "interrupted", 1, id="error-event-after-text"),
    pytest.param([ErrorEvent(text_before="")] * 3, "unavailable", 3, id="overloaded-event-before-text"),
    pytest.param([ErrorEvent(text_before="", error_type="invalid_request_error")], "interrupted", 1, id="error-event"),
    pytest.param([NoStop()], "interrupted", 1, id="no-message-stop"),
    pytest.param([Drop()], "interrupted", 1, id="dropped-connection"),
    pytest.param([Reply("")], "empty", 1, id="empty-answer"),
]


@pytest.mark.parametrize(("faults", "kind", "calls"), FAULTS)
async def test_a_failure_tells_the_user_and_leaves_history_alone(
    core: Conversation,
    claude: FakeAnthropic,
    store: Store,
    sink: RecordingSink,
    faults: list[Any],
    kind: str,
    calls: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await core.receive(msg("before"), sink)
    claude.queue(*faults)
    await core.receive(msg("this one fails"), sink)
    assert sink.last == FAILURES[kind].format(model=MODEL)  # type: ignore[index]
    assert len(claude.requests) == 1 + calls
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["before", "echo: before"]
    assert any(kind in record.getMessage() for record in caplog.records)
    assert TEST_KEY not in caplog.text

    await core.receive(msg("after"), sink)
    assert sink.last == "echo: after"


async def test_an_overload_then_an_answer_is_retried(
    core: Conversation, claude: FakeAnthropic, sink: RecordingSink
) -> None:
    claude.queue(HTTPError(529, "Overloaded", retry_after="0"), Reply("made it"))
    await core.receive(msg("hello"), sink)
    assert sink.texts == ["made it"]
    assert len(claude.requests) == 2


async def test_an_overloaded_event_before_the_answer_is_retried(
    core: Conversation, claude: FakeAnthropic, store: Store, sink: RecordingSink
) -> None:
    claude.queue(ErrorEvent(text_before=""), Reply("second time lucky"))
    await core.receive(msg("hello"), sink)
    assert sink.texts == ["second time lucky"]
    assert len(claude.requests) == 2
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["hello", "second time lucky"]


async def test_overloads_before_the_answer_share_one_retry_budget(
    core: Conversation, claude: FakeAnthropic, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A 529 and an overloaded event are retried by one policy: max_retries = 2 is three requests in all."""
    claude.queue(ErrorEvent(text_before=""), HTTPError(529, "Overloaded", retry_after="0"), ErrorEvent(text_before=""))
    await core.receive(msg("hello"), sink)
    assert sink.last == FAILURES["unavailable"].format(model=MODEL)
    assert len(claude.requests) == 3
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("model call failed")]
    assert len(retries) == 2
    assert "overloaded_error" in retries[0] and "retry 1 in" in retries[0]
    assert "HTTP 529" in retries[1] and "retry 2 in" in retries[1]


async def test_a_prompt_that_leaves_no_room_for_max_tokens_is_trimmed_and_retried(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink
) -> None:
    """The API's other context 400 ("input length and `max_tokens` exceed context limit") is a context error too."""
    config = anthropic_config(claude.url, prefix, defaults={"max_tokens": 1000})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    for n in range(4):
        await core.receive(msg(f"question {n} " + "word " * 60), sink)
    claude.context_window = 1500  # the prompt alone fits; with max_tokens it does not
    await core.receive(msg("last " + "word " * 60), sink)

    refused, retried = claude.requests[-2:]
    assert input_tokens(refused) < 1500 < input_tokens(refused) + 1000
    assert len(retried["messages"]) == 5 and len(refused["messages"]) == 9, "half the earlier turns"
    assert sink.last == "echo: last " + "word " * 59 + "word"
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]][-2] == "last " + "word " * 59 + "word"


async def test_an_unknown_model_is_named(claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink) -> None:
    config = anthropic_config(claude.url, prefix, model="claude-nonexistent-9")
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    await core.receive(msg("hello"), sink)
    assert sink.texts == [FAILURES["unknown_model"].format(model="claude-nonexistent-9")]
    assert "claude-nonexistent-9" in sink.last


async def test_a_missing_key_is_an_auth_failure_without_a_call(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = anthropic_config(claude.url, prefix)
    backends: dict[str, Backend] = {"claude": AnthropicBackend("claude", config.backends["claude"], None)}
    core = Conversation(config=config, store=store, backends=backends)
    await core.receive(msg("hello"), sink)
    assert sink.texts == [FAILURES["auth"]]
    assert claude.requests == []
    await backends["claude"].aclose()


# -- the backend alone: items, usage, merging -----------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_usage_is_reported_once_at_the_end(
    backend: AnthropicBackend, claude: FakeAnthropic, stream: bool
) -> None:
    claude.queue(Reply("one two three four", thinking="counting"))
    items = await items_of(backend, request(ChatMessage("system", "Count."), ChatMessage("user", "go"), stream=stream))
    usage = [item for item in items if isinstance(item, Usage)]
    assert usage == [items[-1]], "one Usage, last"
    assert usage[0].prompt_tokens == input_tokens(claude.requests[0]) > 0
    expected = rough_tokens("one two three four") + (rough_tokens("counting") if stream else 0)
    assert usage[0].completion_tokens == expected and not usage[0].estimated


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_thinking_comes_as_reasoning_items(
    backend: AnthropicBackend, claude: FakeAnthropic, stream: bool
) -> None:
    claude.queue(Reply("Four.", thinking="Two and two make four, clearly.", chunk_size=4))
    items = await items_of(backend, request(ChatMessage("user", "2+2?"), stream=stream))
    thoughts = [item.text for item in items if isinstance(item, Reasoning)]
    text = [item for item in items if isinstance(item, str)]
    assert "".join(thoughts) == "Two and two make four, clearly."
    assert "".join(text) == "Four."
    assert items.index(next(i for i in items if isinstance(i, Reasoning))) < items.index(next(i for i in text if i))


def test_consecutive_turns_of_one_role_are_merged() -> None:
    system, turns = merge_turns(
        [
            ChatMessage("system", "Be brief."),
            ChatMessage("assistant", "(a reply whose question was trimmed away)"),
            ChatMessage("user", "first"),
            ChatMessage("user", "second"),
            ChatMessage("assistant", "answer"),
            ChatMessage("assistant", "   "),
            ChatMessage("assistant", "more answer"),
            ChatMessage("system", "Summary: the user is called Ada."),
            ChatMessage("user", "third"),
        ]
    )
    assert system == "Be brief.\n\nSummary: the user is called Ada."
    assert turns == [
        {"role": "user", "content": "first\n\nsecond"},
        {"role": "assistant", "content": "answer\n\nmore answer"},
        {"role": "user", "content": "third"},
    ]


async def test_merged_turns_are_what_the_api_accepts(backend: AnthropicBackend, claude: FakeAnthropic) -> None:
    unmerged = request(
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "first"),
        ChatMessage("user", "second"),
        ChatMessage("assistant", "ok"),
        ChatMessage("assistant", "really"),
        ChatMessage("user", "third"),
    )
    items = await items_of(backend, unmerged)
    assert "".join(i for i in items if isinstance(i, str)) == "echo: third"
    assert [m["role"] for m in claude.requests[0]["messages"]] == ["user", "assistant", "user"]
    assert claude.requests[0]["system"] == "Be brief."


async def test_the_fake_refuses_what_the_api_refuses(backend: AnthropicBackend, claude: FakeAnthropic) -> None:
    """The merging matters: unmerged turns are a 400 from the fake, as from the real API."""
    async with httpx.AsyncClient() as client:
        body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "a"}] * 2}
        answer = await client.post(
            f"{claude.url}/messages", json=body, headers={"x-api-key": "k", "anthropic-version": "v"}
        )
    assert answer.status_code == 400 and "alternate" in answer.json()["error"]["message"]
    claude.context_window = 100
    with pytest.raises(BackendError) as error:
        await items_of(backend, request(ChatMessage("user", "word " * 200)))
    assert error.value.kind == "context" and "prompt is too long" in error.value.detail


async def test_the_default_model_is_the_first_listed(claude: FakeAnthropic) -> None:
    claude.models = ["claude-newest", MODEL]
    config = anthropic_config(claude.url, "unused").backends["claude"].model_copy(update={"model": None})
    backend = AnthropicBackend("claude", config, TEST_KEY)
    try:
        assert await backend.default_model() == "claude-newest"
    finally:
        await backend.aclose()
