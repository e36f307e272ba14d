"""Grounded answers: the best passages of a channel's documents in the prompt, a sources footer, "I don't know"."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import Config
from bot.conversation import Conversation
from bot.knowledge.citations import INSTRUCTIONS
from bot.knowledge.commands import KnowledgeCommands
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.grounding import DONT_KNOW, Knowledge
from bot.llm.registry import open_backends
from bot.prompt import build_prompt
from bot.store import Store
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.helpdesk import BASE_URL, helpdesk_copy
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

QUESTIONS = [
    ("How do I connect to the VPN from home?", "it/vpn.md", "Connecting to the VPN", "vpn.example.com"),
    ("The printer has a paper jam, what do I do?", "it/printers.md", "Printers", "pull the green lever"),
    ("How long must my password be?", "it/passwords.md", "Passwords", "at least 14 characters"),
    ("How many days of annual leave do I get?", "hr/leave-policy.md", "Annual leave", "25 days of annual leave"),
    ("My laptop was stolen, who do I call?", "it/lost-devices.md", "Lost or stolen devices", "extension 5000"),
    ("How can a guest get on the Wi-Fi?", "it/wifi.html", "Wi-Fi in the offices", "prints a voucher code"),
    ("What is the deadline for expense claims?", "hr/expenses.txt", "Expenses", "within 30 days"),
    ("How many weeks of parental leave does the birth parent get?", "hr/parental-leave.pdf", "Parental leave",
     "16 weeks of fully paid"),
]  # fmt: skip
WINDOW = 450
UNRELATED = ["What is the capital of Australia?", "Write me a poem about the sea", "Can you help me with something?"]


def system_prompt(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list) and messages[0]["role"] == "system"
    return str(messages[0]["content"])


@pytest.fixture
def kb_config(fake: FakeOpenAI, prefix: str, tmp_path: Path) -> Config:
    source = KnowledgeConfig(path=helpdesk_copy(tmp_path), base_url=BASE_URL)
    return make_config(fake.url, prefix, knowledge={"it": source})


@pytest_asyncio.fixture
async def desk(kb_config: Config, store: Store) -> AsyncIterator[Conversation]:
    """The core with the helpdesk corpus indexed as the knowledge source ``it``, attached to the test channel."""
    await KnowledgeCommands(kb_config, store).index("it")
    backends = open_backends(kb_config, os.environ)
    core = Conversation(config=kb_config, store=store, backends=backends)
    answers = RecordingSink()
    await core.receive(msg("/set knowledge it"), answers)
    assert answers.last.startswith('knowledge is now ["it"]'), answers.last
    yield core
    for backend in backends.values():
        await backend.aclose()


@pytest.mark.parametrize(("question", "path", "title", "phrase"), QUESTIONS)
async def test_a_question_gets_its_documents_passage_and_citation(
    desk: Conversation, fake: FakeOpenAI, sink: RecordingSink, question: str, path: str, title: str, phrase: str
) -> None:
    fake.queue(Reply("Here is what the documents say."))
    await desk.receive(msg(question), sink)
    prompt = system_prompt(fake.requests[-1])
    assert INSTRUCTIONS in prompt
    first = prompt.split("[1] ", 1)[1].split("\n\n[2] ", 1)[0]
    assert first.startswith(title) and phrase in first, "the best passage comes first"
    footer = sink.last.split("\n\nSources: ", 1)[1]
    assert footer.split(" · ")[0] == f"[{title}]({BASE_URL}{path})"
    assert sink.last.startswith("Here is what the documents say.\n\nSources: ")


async def test_the_footer_cites_each_document_in_the_prompt_once(
    desk: Conversation, fake: FakeOpenAI, sink: RecordingSink, store: Store
) -> None:
    await desk.receive(msg("How do I connect to the VPN from home?"), sink)
    prompt = system_prompt(fake.requests[-1])
    assert prompt.count("[1] Connecting to the VPN") == 1 and "[2] Connecting to the VPN" in prompt
    assert sink.last.endswith(f"\n\nSources: [Connecting to the VPN]({BASE_URL}it/vpn.md)"), "one document, once"
    history = await store.thread_messages(THREAD)
    assert history[-1].content == "echo: How do I connect to the VPN from home?", "the footer is shown, not stored"
    assert history[-2].content == "How do I connect to the VPN from home?", "nor are the passages"


@pytest.mark.parametrize("question", UNRELATED)
async def test_grounded_only_says_it_does_not_know_without_calling_the_model(
    desk: Conversation, fake: FakeOpenAI, sink: RecordingSink, store: Store, question: str
) -> None:
    await desk.receive(msg("/set grounded_only true"), sink)
    await desk.receive(msg(question), sink)
    assert sink.last == DONT_KNOW
    assert "I don't know" in DONT_KNOW and "person" in DONT_KNOW
    assert fake.requests == [], "the model is not called with made-up context"
    assert [m.content for m in await store.thread_messages(THREAD)] == [question, DONT_KNOW], "the thread goes on"
    await desk.receive(msg("and how do I reset my password?"), sink)
    assert "reset.example.com" in system_prompt(fake.requests[-1]), "a question the documents answer is answered"
    assert sink.last.endswith(f"Sources: [Passwords]({BASE_URL}it/passwords.md)")


async def test_without_grounded_only_an_unrelated_question_is_answered_without_sources(
    desk: Conversation, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    await desk.receive(msg(UNRELATED[0]), sink)
    assert INSTRUCTIONS not in system_prompt(fake.requests[-1])
    assert sink.last == f"echo: {UNRELATED[0]}"


async def test_a_channel_without_knowledge_is_not_grounded(
    kb_config: Config, store: Store, fake: FakeOpenAI, sink: RecordingSink
) -> None:
    backends = open_backends(kb_config, os.environ)
    core = Conversation(config=kb_config, store=store, backends=backends)
    await core.receive(msg("How do I connect to the VPN from home?"), sink)
    assert "Sources" not in sink.last and INSTRUCTIONS not in system_prompt(fake.requests[-1])
    for backend in backends.values():
        await backend.aclose()


async def test_the_passages_fit_the_token_budget(kb_config: Config, store: Store) -> None:
    await KnowledgeCommands(kb_config, store).index("it")
    knowledge = Knowledge(kb_config, store)
    settings = await Conversation(config=kb_config, store=store, backends={}).settings_for(THREAD.channel_key)
    settings = settings.model_copy(update={"knowledge": ["it"], "max_tokens": 100})
    question = "How do I connect to the VPN from home?"
    roomy = await knowledge.ground(question, question, settings, window=8000)
    assert len(roomy.hits) == 4, "the source's passages at most"
    tight = await knowledge.ground(question, question, settings, window=WINDOW)
    assert 1 <= len(tight.hits) < len(roomy.hits) and tight.hits[0] == roomy.hits[0], "the best passages that fit"
    bare = build_prompt(settings.system_prompt, [], question, context_window=WINDOW, max_tokens=100, history_turns=20)
    grounded = build_prompt(tight.settings.system_prompt, [], question, context_window=WINDOW, max_tokens=100,
                            history_turns=20)  # fmt: skip
    assert grounded.tokens - bare.tokens <= (WINDOW - 100 - bare.tokens) // 2, "half the room is left for the thread"
    none = await knowledge.ground(question, question, settings.model_copy(update={"grounded_only": True}), 300)
    assert none.hits == () and none.unknown, "no room for a passage is nothing relevant in the prompt"
