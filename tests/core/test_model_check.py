"""A model is checked against its backend's list before it is stored, and /show and /models name the model in use."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.config import BackendConfig
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.model_catalog import is_listed
from bot.store import Store
from tests.support.config import TEST_KEY_ENV, make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.messages import THREAD, msg
from tests.support.net import free_port
from tests.support.recording_sink import RecordingSink

HERE = THREAD.channel_key


@pytest_asyncio.fixture
async def wired(fake: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    """The fake (listing two models, none configured), a backend nothing answers at, and an Azure one."""
    fake.models = ["fake-model", "other-model"]
    nothing = f"http://127.0.0.1:{free_port()}/v1"
    config = make_config(fake.url, prefix, backend={"model": None})
    config = config.model_copy(
        update={
            "backends": {
                **config.backends,
                "down": BackendConfig(base_url=nothing, model="m", max_retries=0),
                "az": BackendConfig(
                    type="azure", base_url=fake.azure_url, deployment="fake-deployment", api_key_env=TEST_KEY_ENV
                ),
            }
        }
    )
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


async def answer(core: Conversation, text: str) -> str:
    sink = RecordingSink()
    await core.receive(msg(text), sink)
    return sink.last


async def test_a_model_the_backend_does_not_list_is_refused(wired: Conversation, store: Store) -> None:
    said = await answer(wired, "/set model gpt-9")
    assert said == (
        "Not changed: model: backend fake does not list 'gpt-9'. Allowed: a model it lists: fake-model, other-model."
    )
    assert await store.overrides(HERE) == {}


async def test_a_listed_model_is_stored_and_used(wired: Conversation, store: Store, fake: FakeOpenAI) -> None:
    assert await answer(wired, "/set model other-model") == f"model is now other-model in {HERE}."
    assert await store.overrides(HERE) == {"model": "other-model"}
    await answer(wired, "hello")
    assert fake.requests[-1]["model"] == "other-model"
    assert (await answer(wired, "/set model none")).startswith("model is now (not set)"), "none is never checked"


async def test_a_model_that_cannot_be_checked_is_stored_and_the_answer_says_why(
    wired: Conversation, store: Store
) -> None:
    await answer(wired, "/set backend down")
    said = await answer(wired, "/set model llama3.2")
    assert said == f"model is now llama3.2 in {HERE} (not checked: nothing answers at the backend's base_url)."
    await answer(wired, "/set backend az")
    said = await answer(wired, "/set model other-deployment")
    assert said.startswith(f"model is now other-deployment in {HERE} (not checked: backend az is Azure OpenAI")
    assert await store.overrides(HERE) == {"backend": "az", "model": "other-deployment"}


async def test_show_and_models_name_the_model_the_server_lists_first(wired: Conversation) -> None:
    shown = await answer(wired, "/show")
    (line,) = [line for line in shown.splitlines() if line.split()[0] == "model"]
    assert "fake-model" in line and "(backend fake: the first its server lists)" in line
    assert "the first the server lists)" not in line.split("fake-model")[0], "the model itself, not a description"
    models = await answer(wired, "/models")
    assert "fake         fake-model (the first the server lists) at" in models
    assert "down         m at" in models


@pytest.mark.parametrize(
    ("model", "listed", "known"),
    [
        ("gpt-4o", ["gpt-4o", "gpt-4o-mini"], True),
        ("gpt-4", ["gpt-4o", "gpt-4o-mini"], False),
        ("llama3.2", ["llama3.2:latest", "qwen3:8b"], True),  # Ollama serves NAME as NAME:latest
        ("qwen3", ["llama3.2:latest", "qwen3:8b"], False),
        ("claude-sonnet-4-5", ["claude-sonnet-4-5-20250929"], True),  # Anthropic's alias of a dated snapshot
        ("claude-sonnet-4", ["claude-sonnet-4-5-20250929"], False),
    ],
)
def test_what_counts_as_listed(model: str, listed: list[str], known: bool) -> None:
    assert is_listed(model, listed) is known
