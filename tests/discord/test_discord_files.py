"""Files attached to a Discord message: fetched from their attachment URLs, read into the prompt, or noted."""

from __future__ import annotations

from bot.conversation import Conversation
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.documents import pdf, png
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI

__all__ = ["bot", "discord_config", "discord_fake"]

REPORT = pdf(["Page one: the outage began at 10:02", "Page two: the database restarted", "Page three: fixed"])


def downloads(world: FakeDiscord) -> int:
    return sum(1 for r in world.requests if r.method == "GET" and "/attachments/" in r.path)


async def test_a_pdf_and_a_csv_reach_the_prompt_and_an_exe_is_noted(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    files = [("report.pdf", "application/pdf", REPORT), ("down.csv", "text/csv", b"api,14\n"),
             ("setup.exe", "application/x-msdownload", b"MZ")]  # fmt: skip
    mid = await world.user_message(world.general, world.alice, f"{world.mention} what happened?", files=files)
    await world.wait_for(lambda: bool(world.bot_texts(mid)) and "echo:" in world.bot_texts(mid)[-1])
    prompt = fake.requests[0]["messages"][-1]["content"]
    for text in ("Page one: the outage began at 10:02", "Page three: fixed", '<file name="down.csv">\napi,14'):
        assert text in prompt
    assert world.bot_texts(mid)[0].startswith(
        "I can't read setup.exe (application/x-msdownload): I read text files, PDFs and images."
    )
    assert downloads(world) == 2, "the .exe was not downloaded"


async def test_a_mention_with_only_an_image_is_answered_with_the_note(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    world = discord_fake
    mid = await world.user_message(world.general, world.bob, world.mention, files=[("shot.png", "image/png", png())])
    await world.wait_for(lambda: bool(world.bot_texts(mid)) and "echo:" in world.bot_texts(mid)[-1])
    assert world.bot_texts(mid)[0].startswith("This model cannot see images, so I did not look at shot.png.")
    assert fake.requests[0]["messages"][-1]["content"] == "[image: shot.png]"
