"""OpenAI-compatible extras: reasoning fields kept apart from the answer, and servers that refuse stream_options."""

from __future__ import annotations

import os
import uuid

import pytest

from bot.config import BackendConfig
from bot.conversation import Conversation
from bot.llm.base import ChatRequest, Reasoning, Usage
from bot.llm.openai import OpenAIBackend, limit_field
from bot.llm.registry import open_backends
from bot.messages import Author, ChatMessage, IncomingMessage
from bot.notices import FAILURES
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.recording_sink import RecordingSink

THREAD = ThreadKey("test", "W1", "C1", "reasoning")


def msg(text: str) -> IncomingMessage:
    return IncomingMessage(THREAD, Author("U1", "User"), text, uuid.uuid4().hex, True, False)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_reasoning_fields_are_reasoning_items(fake: FakeOpenAI, field: str, stream: bool) -> None:
    backend = OpenAIBackend("fake", BackendConfig(base_url=fake.url, model="fake-model"), None)
    fake.queue(Reply("It is 42.", reasoning="Six times seven is 42.", reasoning_field=field, chunk_size=3))
    request = ChatRequest("fake-model", [ChatMessage("user", "6*7?")], max_tokens=50, stream=stream)
    items = [item async for item in backend.generate(request)]
    await backend.aclose()
    assert "".join(item.text for item in items if isinstance(item, Reasoning)) == "Six times seven is 42."
    assert "".join(item for item in items if isinstance(item, str)) == "It is 42."


async def test_reasoning_is_not_posted_nor_stored(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink
) -> None:
    config = make_config(fake.url, prefix)
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    fake.queue(Reply("It is 42.", reasoning="Let me think: six times seven..."))
    await core.receive(msg("6*7?"), sink)
    assert sink.texts == ["It is 42."]
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]] == ["6*7?", "It is 42."]
    for backend in core.backends.values():
        await backend.aclose()


async def test_stream_usage_off_leaves_out_stream_options(fake: FakeOpenAI) -> None:
    config = BackendConfig(base_url=fake.url, model="fake-model", stream_usage=False)
    backend = OpenAIBackend("fake", config, None)
    request = ChatRequest("fake-model", [ChatMessage("user", "hi")], max_tokens=50)
    items = [item async for item in backend.generate(request)]
    await backend.aclose()
    assert "stream_options" not in fake.requests[0]
    assert "".join(item for item in items if isinstance(item, str)) == "echo: hi"
    assert not any(isinstance(item, Usage) for item in items), "the server reported none; the core may estimate"


@pytest.mark.parametrize("model", ["o4-mini", "gpt-5", "gpt-5.1-mini"])
async def test_openais_reasoning_models_get_max_completion_tokens(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, model: str
) -> None:
    """o-series and GPT-5 models answer 400 to max_tokens: they must get max_completion_tokens."""
    config = make_config(fake.url, prefix, backend={"model": model}, defaults={"max_tokens": 300})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    await core.receive(msg("6*7?"), sink)
    assert sink.texts == ["echo: 6*7?"]
    assert fake.requests[-1]["max_completion_tokens"] == 300 and "max_tokens" not in fake.requests[-1]
    for backend in core.backends.values():
        await backend.aclose()


def test_other_models_keep_max_tokens() -> None:
    for model in ("gpt-4o-mini", "openai/gpt-5", "llama3.2", "qwen2.5-7b-instruct", "orca-mini", "gpt-oss-20b"):
        assert limit_field(model) == "max_tokens", model


@pytest.mark.parametrize("show", [False, True], ids=["hidden", "shown"])
async def test_a_reply_that_is_only_thinking_is_an_empty_answer(
    fake: FakeOpenAI, prefix: str, store: Store, sink: RecordingSink, show: bool
) -> None:
    config = make_config(fake.url, prefix, defaults={"show_reasoning": show})
    core = Conversation(config=config, store=store, backends=open_backends(config, os.environ))
    fake.queue(Reply("<think>Six times seven... let me count again.</think>\n\n", chunk_size=3))
    await core.receive(msg("6*7?"), sink)
    assert sink.last == FAILURES["empty"]
    assert ("let me count again" in " ".join(sink.texts)) is show, "thinking is shown only when asked for"
    assert (await store.load_thread(THREAD, 60))[0] == [], "nothing of it is stored"
    for backend in core.backends.values():
        await backend.aclose()
