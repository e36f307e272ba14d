"""Azure OpenAI: the deployment URL, api-version and api-key, through the core and the loopback fake."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.config import BackendConfig, Config
from bot.conversation import Conversation
from bot.llm.base import ChatRequest, Reasoning, Usage
from bot.llm.registry import open_backends
from bot.messages import Author, ChatMessage, IncomingMessage
from bot.notices import FAILURES
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import TEST_KEY, TEST_KEY_ENV
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply, Stall
from tests.support.recording_sink import RecordingSink

THREAD = ThreadKey("test", "W1", "C1", "azure")


def msg(text: str) -> IncomingMessage:
    return IncomingMessage(THREAD, Author("U1", "User", is_admin=True), text, uuid.uuid4().hex, True, False)


def azure_config(fake: FakeOpenAI, prefix: str, *, defaults: dict[str, Any] | None = None, **backend: Any) -> Config:
    settings = {
        "type": "azure",
        "base_url": fake.azure_url,
        "deployment": "fake-deployment",
        "api_key_env": TEST_KEY_ENV,
        "read_timeout": 1.0,
        "max_retries": 1,
        **backend,
    }
    return Config(redis_prefix=prefix, backends={"azure": BackendConfig(**settings)}, defaults=defaults or {})


@pytest_asyncio.fixture
async def make_core(fake: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Any]:
    opened: list[Conversation] = []

    def make(defaults: dict[str, Any] | None = None, **backend: Any) -> Conversation:
        config = azure_config(fake, prefix, defaults=defaults, **backend)
        opened.append(Conversation(config=config, store=store, backends=open_backends(config, os.environ)))
        return opened[-1]

    yield make
    for core in opened:
        for backend in core.backends.values():
            await backend.aclose()


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "whole"])
async def test_a_thread_with_azure(make_core: Any, fake: FakeOpenAI, store: Store, stream: bool) -> None:
    core = make_core(defaults={"stream": stream})
    sink = RecordingSink()
    fake.queue(Reply("first answer"), Reply("second answer"))
    await core.receive(msg("first"), sink)
    await core.receive(msg("second"), sink)
    assert sink.texts == ["first answer", "second answer"]
    assert fake.requests[0]["stream"] is stream
    assert fake.paths == ["/openai/deployments/fake-deployment/chat/completions?api-version=2024-10-21"] * 2
    assert fake.headers[1]["api-key"] == TEST_KEY and "authorization" not in fake.headers[1]
    assert [m["content"] for m in fake.requests[1]["messages"][1:]] == ["first", "first answer", "second"]
    assert [m.content for m in (await store.load_thread(THREAD, 60))[0]][-1] == "second answer"


async def test_azure_streams_usage_and_reasoning_like_openai(fake: FakeOpenAI, prefix: str) -> None:
    config = azure_config(fake, prefix).backends["azure"]
    backends = open_backends(Config(redis_prefix=prefix, backends={"azure": config}), os.environ)
    fake.queue(Reply("Paris.", reasoning="The capital of France is Paris."))
    request = ChatRequest("fake-deployment", [ChatMessage("user", "?")], 50)
    items = [i async for i in backends["azure"].generate(request)]
    await backends["azure"].aclose()
    assert "".join(i for i in items if isinstance(i, str)) == "Paris."
    assert "".join(i.text for i in items if isinstance(i, Reasoning)) == "The capital of France is Paris."
    assert isinstance(items[-1], Usage) and items[-1].prompt_tokens > 0
    assert fake.requests[0]["stream_options"] == {"include_usage": True}


FAULTS = [
    pytest.param({"deployment": "nope"}, [], "unknown_model", "nope", id="unknown-deployment"),
    pytest.param({"api_version": "1999-01-01"}, [], "rejected", "fake-deployment", id="unsupported-api-version"),
    pytest.param({}, [HTTPError(401)], "auth", "fake-deployment", id="401"),
    pytest.param({}, [HTTPError(429, retry_after="120")], "rate_limited", "fake-deployment", id="429"),
    pytest.param({}, [HTTPError(500)] * 2, "unavailable", "fake-deployment", id="500-after-retries"),
    pytest.param({}, [Stall()], "timeout", "fake-deployment", id="stalled-stream"),
]


@pytest.mark.parametrize(("backend", "faults", "kind", "model"), FAULTS)
async def test_azure_failures_tell_the_user(
    make_core: Any, fake: FakeOpenAI, store: Store, backend: dict[str, Any], faults: list[Any], kind: str, model: str
) -> None:
    core = make_core(**backend)
    sink = RecordingSink()
    fake.queue(*faults)
    await core.receive(msg("hello"), sink)
    assert sink.last == FAILURES[kind].format(model=model)  # type: ignore[index]
    assert (await store.load_thread(THREAD, 60))[0] == []
