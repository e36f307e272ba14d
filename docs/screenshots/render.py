"""Render the README's pictures from what the test fakes recorded: nothing in them is drawn by hand.

Runs the real core and the real Slack and Discord adapters against the loopback
fakes (tests/support), as the tests do: a mention is answered while the fake
LLM streams a scripted answer, and ``/parley show`` is typed. What the fake
Slack and the fake Discord recorded (each text a message showed, edit by edit,
and the ephemeral answers) is written into a plain HTML page per picture, which
headless Chromium shoots. The page is a sketch of a chat window, not Slack's or
Discord's own interface; the texts in it are exactly what parley sent.

    apt-get install -y chromium
    PYTHONPATH=. uv run python docs/screenshots/render.py      # writes docs/screenshots/*.png
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis

from bot.conversation import Conversation
from bot.llm.registry import open_backends
from bot.redis_server import RedisServer
from bot.store import Store
from tests.support.config import TEST_KEY, TEST_KEY_ENV, make_config
from tests.support.discord_harness import running
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import FakeSlack
from tests.support.net import free_port
from tests.support.slack_harness import ADMIN, CHANNEL, mention, serve_slack, until

HERE = Path(__file__).parent
QUESTION = "three names for our next release, and how to tag it?"
ANSWER = (
    "Three names that fit a fast, small release:\n\n"
    "1. **Kestrel**: small, quick and sharp-eyed.\n"
    "2. **Lantern**: it lights the way for the next one.\n"
    "3. **Quartz**: precise, like the clocks it keeps.\n\n"
    "To tag it:\n\n"
    "```sh\ngit tag -a v2.4.0 -m 'Kestrel'\ngit push origin v2.4.0\n```"
)


# -- recording ----------------------------------------------------------------------
async def record() -> dict[str, object]:
    """Run both adapters against the fakes; what each fake recorded."""
    directory = Path(tempfile.mkdtemp(prefix="parley-shots-"))
    server = RedisServer(directory, port=free_port(), persistent=False)
    os.environ[TEST_KEY_ENV] = TEST_KEY
    try:
        redis = Redis.from_url(await server.start())
        try:
            return {**await record_slack(redis), **await record_discord(redis)}
        finally:
            await redis.aclose()
    finally:
        await server.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def settled(texts: Callable[[], list[str]]) -> list[str]:
    """The texts a message showed, once it has shown one and then no new one for a second."""
    seen = -1
    for _ in range(600):
        now = texts()
        if now and len(now) == seen:
            return now
        seen = len(now) if now else -1
        await asyncio.sleep(1.0 if now else 0.05)
    raise AssertionError("the reply never settled")


async def record_slack(redis: Redis) -> dict[str, object]:
    async with FakeOpenAI() as fake, FakeSlack() as slack:
        config = make_config(fake.url, f"shots-{uuid.uuid4().hex[:6]}", admins=[f"slack:{ADMIN}"],
                             slack={"edit_interval": 0.3})  # fmt: skip
        store = Store(redis, config.redis_prefix)
        backends = open_backends(config, os.environ)
        core = Conversation(config=config, store=store, backends=backends)
        fake.queue(Reply(ANSWER, chunk_size=6, delay=0.03))
        async with serve_slack(core, slack) as serving:
            event = mention(QUESTION)
            await serving.event(event)
            await until(lambda: bool(slack.thread(CHANNEL, event["ts"])), what="the reply")
            (reply,) = slack.thread(CHANNEL, event["ts"])
            edits = await settled(lambda: list(reply.edits))
            shown = await serving.answer_to("show", user=ADMIN)
        for backend in backends.values():
            await backend.aclose()
    return {"slack_edits": edits, "slack_show": shown}


async def record_discord(redis: Redis) -> dict[str, object]:
    async with FakeOpenAI() as fake, FakeDiscord() as discord:
        config = make_config(fake.url, f"shots-{uuid.uuid4().hex[:6]}", discord={"edit_interval": 0.3})
        store = Store(redis, config.redis_prefix)
        fake.queue(Reply(ANSWER, chunk_size=6, delay=0.03))
        async with running(config, store, discord):
            asked = await discord.user_message(discord.general, discord.alice, f"{discord.mention} {QUESTION}")
            await discord.wait_for(lambda: bool(discord.bot_messages(asked)), what="the reply")
            (reply,) = discord.bot_messages(asked)
            versions = await settled(lambda: list(reply.versions))
            thread = discord.thread_of(asked) or {}
    return {"discord_versions": versions, "discord_thread": str(thread.get("name", ""))}


# -- rendering ----------------------------------------------------------------------
def slack_html(text: str) -> str:
    """Slack mrkdwn as parley sent it (``&amp;``, ``&lt;``, ``&gt;`` escaped) to HTML."""
    parts = re.split(r"```\n?(.*?)```", text, flags=re.S)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(f"<pre>{part.rstrip()}</pre>")
            continue
        part = re.sub(r"`([^`]+)`", r"<code>\1</code>", part)
        part = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", part)
        part = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", part)
        out.append(part.strip("\n").replace("\n", "<br>"))
    return "".join(out)


def discord_html(text: str) -> str:
    parts = re.split(r"```\w*\n(.*?)```", text, flags=re.S)
    out = []
    for index, part in enumerate(parts):
        part = html.escape(part)
        if index % 2:
            out.append(f"<pre>{part.rstrip()}</pre>")
            continue
        part = re.sub(r"`([^`]+)`", r"<code>\1</code>", part)
        part = re.sub(r"\*\*([^*\n]+)\*\*", r"<b>\1</b>", part)
        out.append(part.strip("\n").replace("\n", "<br>"))
    return "".join(out)


STYLE = """
body { margin: 0; font: 15px/1.45 'DejaVu Sans', sans-serif; }
.row { display: flex; gap: 14px; padding: 14px; align-items: flex-start; }
.pane { border-radius: 8px; padding: 12px 16px; width: 430px; }
.label { font-size: 12px; margin-bottom: 8px; letter-spacing: .03em; }
.msg { display: flex; gap: 10px; margin: 8px 0; }
.avatar { width: 36px; height: 36px; border-radius: 6px; flex: none; color: #fff; font-weight: bold;
          display: flex; align-items: center; justify-content: center; }
.name { font-weight: bold; } .tag { font-size: 10px; padding: 1px 4px; border-radius: 3px; margin-left: 4px; }
pre { font: 13px/1.4 'DejaVu Sans Mono', monospace; padding: 8px; border-radius: 4px; margin: 6px 0;
      white-space: pre-wrap; }
code { font: 13px 'DejaVu Sans Mono', monospace; padding: 1px 3px; border-radius: 3px; }
.note { font-size: 12px; padding: 6px 14px 12px; }
.wide { width: 960px; } .wide pre { white-space: pre; }
"""
SLACK = """
body { background: #f8f8f8; color: #1d1c1d; } .pane { background: #fff; border: 1px solid #ddd; }
.label { color: #616061; } .tag { background: #e8e8e8; color: #616061; }
pre, code { background: #f6f6f6; border: 1px solid #e1e1e1; color: #1d1c1d; } .note { color: #616061; }
.ephemeral { font-size: 12px; color: #616061; margin-bottom: 4px; }
"""
DISCORD = """
body { background: #1e1f22; color: #dbdee1; } .pane { background: #313338; }
.label { color: #949ba4; } .avatar { border-radius: 50%; } .tag { background: #5865f2; color: #fff; }
pre, code { background: #2b2d31; border: 1px solid #1e1f22; color: #dbdee1; } .note { color: #949ba4; }
.mention { background: #3c4270; color: #c9cdfb; padding: 0 2px; border-radius: 3px; }
.ephemeral { font-size: 12px; color: #949ba4; margin-bottom: 4px; }
"""


def message(name: str, colour: str, body: str, *, app: str = "") -> str:
    tag = f'<span class="tag">{app}</span>' if app else ""
    return (f'<div class="msg"><div class="avatar" style="background:{colour}">{name[0].upper()}</div>'
            f'<div><div class="name">{name}{tag}</div><div>{body}</div></div></div>')  # fmt: skip


def page(theme: str, panes: list[tuple[str, str]], note: str, *, wide: bool = False) -> str:
    kind = "pane wide" if wide else "pane"
    columns = "".join(f'<div class="{kind}"><div class="label">{label}</div>{body}</div>' for label, body in panes)
    return (f"<!doctype html><meta charset=utf-8><style>{STYLE}{theme}</style>"
            f'<div class="row">{columns}</div><div class="note">{note}</div>')  # fmt: skip


def frames(texts: list[str]) -> list[tuple[str, str]]:
    """The first text shown, one from the middle of the stream, and the last."""
    picked = [0, len(texts) // 2, len(texts) - 1]
    names = ["posted at once", f"an edit while streaming ({picked[1]} of {len(texts) - 1})", "the last edit"]
    return [(name, texts[index]) for name, index in zip(names, picked, strict=True)]


SLACK_NOTE = (
    "Rendered from the fake Slack's record of one reply: chat.postMessage, then {edits} chat.update calls "
    "as the fake LLM streamed a scripted answer. A sketch, not Slack's interface."
)
DISCORD_NOTE = (
    "Rendered from the fake Discord's record of one reply, in the thread parley opened (&ldquo;{thread}&rdquo;): "
    "{versions} versions of the message as it was edited. A sketch, not Discord's interface."
)
SHOW_NOTE = (
    "Rendered from the ephemeral answer the fake Slack received at the slash command's response_url. "
    "A sketch, not Slack's interface."
)


def pages(recorded: dict[str, object]) -> dict[str, str]:
    slack_edits = [str(text) for text in recorded["slack_edits"]]  # type: ignore[attr-defined]
    discord_versions = [str(text) for text in recorded["discord_versions"]]  # type: ignore[attr-defined]
    ask_slack = message("ada", "#2eb67d", "<b>@parley</b> " + html.escape(QUESTION))
    ask_discord = message("alice", "#f0b232", '<span class="mention">@parley</span> ' + html.escape(QUESTION))
    slack_panes = [
        (label, ask_slack + message("parley", "#4a154b", slack_html(text), app="APP"))
        for label, text in frames(slack_edits)
    ]
    discord_panes = [
        (label, ask_discord + message("parley", "#5865f2", discord_html(text), app="APP"))
        for label, text in frames(discord_versions)
    ]
    show = '<div class="ephemeral">Only visible to you</div>' + message(
        "parley", "#4a154b", slack_html(str(recorded["slack_show"])), app="APP"
    )
    thread = html.escape(str(recorded["discord_thread"]))
    return {
        "slack-reply": page(SLACK, slack_panes, SLACK_NOTE.format(edits=len(slack_edits) - 1)),
        "discord-reply": page(
            DISCORD, discord_panes, DISCORD_NOTE.format(thread=thread, versions=len(discord_versions))
        ),
        "slack-show": page(SLACK, [("/parley show", show)], SHOW_NOTE, wide=True),
    }


def shoot(name: str, document: str, width: int, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / f"{name}.html"
        source.write_text(document, encoding="utf-8")
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={scratch}/profile", "--hide-scrollbars", f"--window-size={width},{height}",
             f"--screenshot={HERE / f'{name}.png'}", source.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip


def main() -> None:
    recorded = asyncio.run(record())
    sizes = {"slack-reply": (1390, 440), "discord-reply": (1390, 440), "slack-show": (1010, 590)}
    for name, document in pages(recorded).items():
        shoot(name, document, *sizes[name])
        print(f"wrote {HERE / name}.png")


if __name__ == "__main__":
    main()
