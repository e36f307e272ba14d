"""Files and images attached to a message: what reaches the prompt, the notes, what the history keeps."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.attachments import worth_fetching
from bot.config import BackendConfig, Config, FilesConfig
from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.messages import Attachment, IncomingMessage
from bot.store import Store
from tests.support.config import TEST_KEY_ENV, make_config
from tests.support.documents import pdf, png
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.fake_openai import FakeOpenAI
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

REPORT = pdf(["Page one: the outage began at 10:02", "Page two: the database restarted", "Page three: fixed"])
CSV = b"service,minutes down\napi,14\nweb,3\n"


def attached(text: str, *files: Attachment) -> IncomingMessage:
    return dataclasses.replace(msg(text), files=files)


def file(name: str, media_type: str, data: bytes | None, size: int | None = None) -> Attachment:
    return Attachment(name, media_type, len(data or b"") if size is None else size, data)


async def test_a_pdf_and_a_csv_reach_the_prompt_named_and_the_history_keeps_them(
    core: Conversation, sink: RecordingSink, fake: FakeOpenAI, store: Store
) -> None:
    message = attached(
        "what happened?", file("report.pdf", "application/pdf", REPORT), file("down.csv", "text/csv", CSV)
    )
    await core.receive(message, sink)
    prompt = fake.requests[0]["messages"][-1]["content"]
    assert prompt.startswith("what happened?\n\n")
    for page in ("Page one: the outage began at 10:02", "Page two: the database restarted", "Page three: fixed"):
        assert page in prompt
    assert '<file name="report.pdf">' in prompt and '<file name="down.csv">\nservice,minutes down\napi,14' in prompt
    assert sink.last == f"echo: {prompt}", "no note: every file was read"
    history, _ = await store.load_thread(THREAD, 60)
    assert history[0].content == prompt, "a follow-up question can still refer to the files"


async def test_a_file_too_large_and_an_exe_get_a_note_each(
    core: Conversation, sink: RecordingSink, fake: FakeOpenAI
) -> None:
    big = file("dump.log", "text/plain", None, size=20_000_000)
    exe = file("setup.exe", "application/x-msdownload", b"MZ\x90\x00")
    await core.receive(attached("look at these", big, exe), sink)
    assert fake.requests[0]["messages"][-1]["content"] == "look at these"
    assert sink.last.splitlines()[:3] == [
        "I didn't read dump.log: it is 20 MB, above the 10 MB I read per file.",
        "I can't read setup.exe (application/x-msdownload): I read text files, PDFs and images.",
        "",
    ]
    assert sink.last.endswith("echo: look at these")


def test_what_an_adapter_fetches() -> None:
    limits = FilesConfig()
    assert worth_fetching("report.pdf", "application/pdf", 2_000_000, limits)
    assert worth_fetching("main.py", "", 3_000, limits), "a source file by its name"
    assert not worth_fetching("dump.log", "text/plain", 20_000_000, limits)
    assert not worth_fetching("setup.exe", "application/x-msdownload", 4, limits)
    assert not worth_fetching("huge.png", "image/png", 6_000_000, limits)


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, files=FilesConfig(max_file_chars=200))


async def test_a_long_file_is_cut_with_a_note(core: Conversation, sink: RecordingSink, fake: FakeOpenAI) -> None:
    long = ("word " * 200).encode()
    await core.receive(attached("summarise", file("notes.md", "text/markdown", long)), sink)
    prompt = fake.requests[0]["messages"][-1]["content"]
    assert "[... cut here: 799 more characters of notes.md not shown]" in prompt
    assert sink.last.startswith("notes.md is long: I read its first 200 of 999 characters.\n\n")


async def test_an_image_to_a_text_only_model_gets_the_note_and_a_placeholder(
    core: Conversation, sink: RecordingSink, fake: FakeOpenAI, store: Store
) -> None:
    await core.receive(attached("what is this?", file("diagram.png", "image/png", png())), sink)
    assert fake.requests[0]["messages"][-1]["content"] == "what is this?\n\n[image: diagram.png]"
    assert sink.last.startswith("This model cannot see images, so I did not look at diagram.png.\n\n")
    history, _ = await store.load_thread(THREAD, 60)
    assert history[0].content == "what is this?\n\n[image: diagram.png]"


@pytest_asyncio.fixture
async def seeing(fake: FakeOpenAI, prefix: str, store: Store) -> AsyncIterator[Conversation]:
    config = make_config(fake.url, prefix, backend={"model": "gpt-4o-mini"})
    backends = open_backends(config, os.environ)
    yield Conversation(config=config, store=store, backends=backends)
    for backend in backends.values():
        await backend.aclose()


async def test_an_image_reaches_a_vision_model_as_an_image_part_and_is_not_stored(
    seeing: Conversation, sink: RecordingSink, fake: FakeOpenAI, store: Store
) -> None:
    image = png()
    await seeing.receive(attached("what is this?", file("diagram.png", "image/png", image)), sink)
    content = fake.requests[0]["messages"][-1]["content"]
    assert content == [
        {"type": "text", "text": "what is this?\n\n[image: diagram.png]"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()}},
    ]
    assert sink.last == "echo: what is this?\n\n[image: diagram.png]"
    raw = await store.redis.lrange(f"{store.prefix}:history:{{{THREAD}}}", 0, -1)
    assert b"[image: diagram.png]" in raw[0] and base64.b64encode(image)[:20] not in b"".join(raw)
    await seeing.receive(msg("and now?"), sink)
    assert isinstance(fake.requests[1]["messages"][1]["content"], str), "later turns carry the placeholder only"


async def test_more_images_than_allowed_are_left_out_with_a_note(
    seeing: Conversation, sink: RecordingSink, fake: FakeOpenAI
) -> None:
    images = [file(f"shot{n}.png", "image/png", png()) for n in range(6)]
    await seeing.receive(attached("compare", *images), sink)
    parts = fake.requests[0]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text"] + ["image_url"] * 4
    assert sink.last.startswith("I looked at only the first 4 images: shot4.png, shot5.png left out.\n\n")


@pytest_asyncio.fixture
async def claude() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


async def test_an_image_reaches_anthropic_as_a_base64_block(
    claude: FakeAnthropic, prefix: str, store: Store, sink: RecordingSink
) -> None:
    backend = BackendConfig(type="anthropic", base_url=claude.url, api_key_env=TEST_KEY_ENV, model="claude-fake-1",
                            vision=True, read_timeout=2.0, connect_timeout=2.0)  # fmt: skip
    config = Config(redis_prefix=prefix, backends={"claude": backend})
    backends = open_backends(config, os.environ)
    try:
        core = Conversation(config=config, store=store, backends=backends)
        image = png()
        await core.receive(attached("what is this?", file("diagram.png", "image/png", image)), sink)
    finally:
        for opened in backends.values():
            await opened.aclose()
    (turn,) = claude.requests[0]["messages"]
    data = base64.b64encode(image).decode()
    assert turn["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}},
        {"type": "text", "text": "what is this?\n\n[image: diagram.png]"},
    ]
    assert sink.last == "echo: what is this?\n\n[image: diagram.png]"
