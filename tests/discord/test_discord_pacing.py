"""A fast answer in Discord: no typing call when the text follows at once; a channel's replies share a budget."""

from __future__ import annotations

import pytest

from adapters.discord.sink import DiscordSink, Target
from bot.api import PaceBook
from bot.config import Config
from bot.conversation import Conversation
from tests.support.config import make_config
from tests.support.discord_harness import bot, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply

__all__ = ["bot", "discord_fake"]


@pytest.fixture
def discord_config(fake: FakeOpenAI, prefix: str) -> Config:
    # A grace far longer than the fake takes to answer, whatever the machine's speed.
    return make_config(fake.url, prefix, discord={"edit_interval": 1.5, "first_text_grace": 30})


async def test_an_instant_answer_shows_no_typing(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI
) -> None:
    fake.queue(Reply("Straight away.", chunk_size=100))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.alice, f"{discord_fake.mention} quick")
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid) == ["Straight away."], what="the reply")
    assert discord_fake.typing == [], "no typing call: the text followed at once"
    assert discord_fake.edits() == [], "posted whole: nothing to edit"


class Place:
    def __init__(self, place_id: int) -> None:
        self.id = place_id


def test_replies_in_one_channel_share_its_budget_and_other_channels_do_not() -> None:
    book = PaceBook()
    here = [DiscordSink(Target(Place(1)), edit_interval=1.5, paces=book) for _ in range(2)]  # type: ignore[arg-type]
    there = DiscordSink(Target(Place(2)), edit_interval=1.5, paces=book)  # type: ignore[arg-type]
    taken = [here[0].pace().try_take("edit"), here[1].pace().try_take("edit"), here[0].pace().try_take("edit")]
    assert taken == [True, True, True]
    assert not here[1].pace().try_take("edit"), "the channel's three writes at once are spent"
    assert there.pace().try_take("edit"), "another channel has its own"
