"""Files shared with a Slack message: downloaded with the bot token, read into the prompt, or noted."""

from __future__ import annotations

from adapters.slack.files import NO_ACCESS
from bot.store import Store
from tests.support.documents import pdf, png
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import TEAM, FakeSlack
from tests.support.slack_harness import BOT_TOKEN, CHANNEL, DM, Running, mention, message, running, slack, until

__all__ = ["running", "slack"]

REPORT = pdf(["Page one: the outage began at 10:02", "Page two: the database restarted", "Page three: fixed"])


def answered(slack: FakeSlack, channel: str, thread: str | None) -> str:
    texts = [m.text for m in slack.thread(channel, thread)]
    return texts[-1] if texts else ""


async def test_a_pdf_and_a_csv_reach_the_prompt(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    files = [slack.upload("report.pdf", "application/pdf", REPORT), slack.upload("down.csv", "text/csv", b"api,14\n")]
    event = mention("what happened?", files=files)
    await running.event(event)
    await until(lambda: answered(slack, CHANNEL, event["ts"]).startswith("echo: "))
    prompt = fake.requests[0]["messages"][-1]["content"]
    for text in ("Page one: the outage began at 10:02", "Page three: fixed", '<file name="down.csv">\napi,14'):
        assert text in prompt
    assert slack.downloads == [f"Bearer {BOT_TOKEN}"] * 2


async def test_without_files_read_the_reply_says_so(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    slack.files_read_scope = False
    event = mention("read this", files=[slack.upload("notes.md", "text/markdown", b"# Notes")])
    await running.event(event)
    await until(lambda: "echo: read this" in answered(slack, CHANNEL, event["ts"]))
    assert answered(slack, CHANNEL, event["ts"]).startswith(f"I couldn't read notes.md: {NO_ACCESS}.")
    assert fake.requests[0]["messages"][-1]["content"] == "read this"


async def test_a_huge_file_and_an_exe_are_noted_and_not_downloaded(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    huge = slack.upload("dump.log", "text/plain", b"x", size=20_000_000)
    exe = slack.upload("setup.exe", "application/x-msdownload", b"MZ")
    event = mention("look", files=[huge, exe])
    await running.event(event)
    await until(lambda: "echo: look" in answered(slack, CHANNEL, event["ts"]))
    lines = answered(slack, CHANNEL, event["ts"]).splitlines()
    assert lines[:2] == [
        "I didn't read dump.log: it is 20 MB, above the 10 MB I read per file.",
        "I can't read setup.exe (application/x-msdownload): I read text files, PDFs and images.",
    ]
    assert slack.downloads == []


async def test_an_image_alone_in_a_dm_is_answered_with_the_note(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    event = message("", channel=DM, subtype="file_share", files=[slack.upload("shot.png", "image/png", png())])
    await running.event(event)
    await until(lambda: "echo: [image: shot.png]" in answered(slack, DM, None))
    assert answered(slack, DM, None).startswith("This model cannot see images, so I did not look at shot.png.")


async def test_a_file_in_a_thread_parley_is_not_in_is_not_downloaded(
    running: Running, slack: FakeSlack, store: Store
) -> None:
    elsewhere = message(
        "see attached", thread_ts="1700000000.000009", files=[slack.upload("a.txt", "text/plain", b"a")]
    )
    await running.event(elsewhere)
    claimed = f"{store.prefix}:event:slack:{TEAM}:{CHANNEL}:{elsewhere['ts']}"

    async def handed_to_the_core() -> bool:
        return bool(await store.redis.exists(claimed))

    await until(handed_to_the_core, what="the core took the event")
    assert slack.downloads == []
