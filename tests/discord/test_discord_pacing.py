"""A fast answer in Discord: no typing call when the text follows at once; a channel's replies share a budget."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from adapters.discord.pacing import rate_limit_trace
from adapters.discord.sink import Destination, DiscordSink
from bot.api import PaceBook
from bot.config import Config
from bot.conversation import Conversation
from tests.support.config import make_config
from tests.support.discord_harness import bot, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.net import free_port

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
    here = [DiscordSink(Destination(Place(1)), edit_interval=1.5, paces=book) for _ in range(2)]  # type: ignore[arg-type]
    there = DiscordSink(Destination(Place(2)), edit_interval=1.5, paces=book)  # type: ignore[arg-type]
    taken = [here[0].pace().try_take("edit"), here[1].pace().try_take("edit"), here[0].pace().try_take("edit")]
    assert taken == [True, True, True]
    assert not here[1].pace().try_take("edit"), "the channel's three writes at once are spent"
    assert there.pace().try_take("edit"), "another channel has its own"


async def test_a_429_on_a_channels_messages_pauses_that_channels_budget() -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.json_response({"message": "You are being rate limited.", "retry_after": 30}, status=429,
                                 headers={"Retry-After": "30"})  # fmt: skip

    app = web.Application()
    app.router.add_route("*", "/api/v10/channels/{channel}/messages/{message}", limited)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    book = PaceBook()
    here = DiscordSink(Destination(Place(42)), edit_interval=1.5, paces=book)  # type: ignore[arg-type]
    there = DiscordSink(Destination(Place(43)), edit_interval=1.5, paces=book)  # type: ignore[arg-type]
    assert here.pace().try_take("edit") and there.pace().try_take("edit")
    try:
        url = f"http://127.0.0.1:{port}/api/v10/channels/42/messages/7"
        async with (
            aiohttp.ClientSession(trace_configs=[rate_limit_trace(book)]) as session,
            session.patch(url) as response,
        ):
            assert response.status == 429
    finally:
        await runner.cleanup()
    assert not here.pace().try_take("edit"), "the channel waits out its Retry-After"
    assert there.pace().try_take("edit"), "another channel goes on"
