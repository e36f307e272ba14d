"""A grounded answer in Discord: the sources footer is sent as the core wrote it (Discord renders Markdown links)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.channels import Channels
from bot.config import Config
from bot.conversation import Conversation
from bot.knowledge.commands import KnowledgeCommands
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.grounding import DONT_KNOW
from bot.store import Store
from bot.threads import ChannelKey
from tests.support.config import make_config
from tests.support.discord_harness import EDIT_INTERVAL, bot, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.helpdesk import BASE_URL, helpdesk_copy

__all__ = ["bot", "discord_fake"]


@pytest.fixture
def discord_config(fake: FakeOpenAI, prefix: str, tmp_path: Path) -> Config:
    source = KnowledgeConfig(path=helpdesk_copy(tmp_path), base_url=BASE_URL)
    return make_config(
        fake.url,
        prefix,
        discord={"edit_interval": EDIT_INTERVAL, "first_text_grace": 0},
        knowledge={"it": source},
        defaults={"knowledge": ["it"]},
    )


async def test_a_grounded_answer_ends_with_its_sources(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, discord_config: Config, store: Store
) -> None:
    await KnowledgeCommands(discord_config, store).index("it")
    fake.queue(Reply("Badge in at any printer to release your job."))
    text = f"{discord_fake.mention} how do I add a printer?"
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, text)
    expected = f"Badge in at any printer to release your job.\n\nSources: [Printers]({BASE_URL}it/printers.md)"
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [expected], what="the answer and its sources")


async def test_grounded_only_says_it_does_not_know(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, discord_config: Config, store: Store
) -> None:
    await KnowledgeCommands(discord_config, store).index("it")
    general, alice = discord_fake.general, discord_fake.alice
    await Channels(discord_config, store).set(
        ChannelKey("discord", discord_fake.guild, general), "grounded_only", "true"
    )
    mid = await discord_fake.user_message(general, alice, f"{discord_fake.mention} what is the capital of Australia?")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == [DONT_KNOW], what="I don't know")
    assert fake.requests == []
