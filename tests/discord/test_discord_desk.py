"""The helpdesk on Discord: buttons on answers, votes counted once, the modal after a 👎, the hand-off that pings
the on-call role and nobody else, 🆘 on the thread's first message, silence until ✅. The real client, the fake."""

from __future__ import annotations

from bot.channels import Channels
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from tests.support.discord_harness import bot, discord_config, discord_fake
from tests.support.fake_discord import FakeDiscord
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.slack_harness import until

__all__ = ["bot", "discord_config", "discord_fake"]


async def helpdesk(bot: Conversation, store: Store, discord_fake: FakeDiscord) -> str:
    """#general becomes a helpdesk whose on-call people are the "mods" role; the role's mention."""
    oncall = f"<@&{discord_fake.mods_role}>"
    await Channels(bot.config, store).set(ChannelKey("discord", discord_fake.guild, discord_fake.general), "oncall",
                                          oncall)  # fmt: skip
    return oncall


def buttons(discord_fake: FakeDiscord, message_id: str) -> list[str]:
    rows = discord_fake.messages[message_id].components
    return [c["custom_id"] for row in rows for c in row.get("components", [])]


async def test_votes_on_an_answer_count_once_and_a_thumbs_down_asks_why(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    await helpdesk(bot, store, discord_fake)
    fake.queue(Reply("Restart the VPN client."))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.bob, f"{discord_fake.mention} VPN down")
    await discord_fake.wait_for(lambda: any(buttons(discord_fake, m.id) for m in discord_fake.bot_messages(mid)))
    (answer,) = discord_fake.bot_messages(mid)
    assert answer.content == "Restart the VPN client."
    assert buttons(discord_fake, answer.id) == ["parley:vote:up", "parley:vote:down", "parley:handoff"]

    first = await discord_fake.click(answer.id, discord_fake.alice, "parley:vote:up")
    again = await discord_fake.click(answer.id, discord_fake.alice, "parley:vote:up")
    await discord_fake.wait_for(lambda: bool(discord_fake.interaction_answers[again]))
    texts = [discord_fake.interaction_answers[i][0]["data"]["content"] for i in (first, again)]
    assert texts == ["Thanks for the feedback!", "You already gave feedback on this answer."]
    assert all(discord_fake.interaction_answers[i][0]["data"]["flags"] == 64 for i in (first, again))  # ephemeral

    down = await discord_fake.click(answer.id, discord_fake.bob, "parley:vote:down")
    await discord_fake.wait_for(lambda: bool(discord_fake.interaction_answers[down]))
    assert discord_fake.interaction_answers[down][0]["type"] == 9  # a modal
    await discord_fake.submit(down, discord_fake.bob, "the VPN client is not installed")

    async def explained() -> bool:
        rows = await bot.desk.export(None, since=0)
        return [(r["user"], r["vote"], r["reason"]) for r in rows] == [
            (discord_fake.alice["id"], "up", ""),
            (discord_fake.bob["id"], "down", "the VPN client is not installed"),
        ]

    await until(explained, what="the reason kept with the vote")


async def test_the_hand_off_pings_only_the_role_and_the_bot_waits_for_a_check_mark(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    oncall = await helpdesk(bot, store, discord_fake)
    fake.queue(Reply("Try the password portal."), Reply("Glad it works."))
    mid = await discord_fake.user_message(discord_fake.general, discord_fake.bob, f"{discord_fake.mention} locked out")
    await discord_fake.wait_for(lambda: any(buttons(discord_fake, m.id) for m in discord_fake.bot_messages(mid)))
    (answer,) = discord_fake.bot_messages(mid)

    clicked = await discord_fake.click(answer.id, discord_fake.bob, "parley:handoff")
    await discord_fake.wait_for(lambda: bool(discord_fake.interaction_answers[clicked]))
    notice = discord_fake.interaction_answers[clicked][0]["data"]
    assert notice["content"].startswith(f"{oncall}: Bob asked for a person")
    assert notice["allowed_mentions"]["roles"] == [int(discord_fake.mods_role)]
    assert notice["allowed_mentions"]["parse"] == [] and "@everyone" not in notice["content"]
    await discord_fake.wait_for(lambda: discord_fake.messages[mid].reactions == ["🆘"], what="🆘 on the question")

    await discord_fake.user_message(mid, discord_fake.bob, "hello? still there?", ping=False)
    thread = ThreadKey("discord", discord_fake.guild, discord_fake.general, mid)

    async def kept_quietly() -> bool:  # kept for later, not answered
        return any("hello? still there?" in m.content for m in await store.thread_messages(thread))

    await until(kept_quietly, what="the message kept while the thread is with a person")
    assert len(fake.requests) == 1
    await discord_fake.react(discord_fake.general, mid, discord_fake.alice, "✅")
    await discord_fake.wait_for(lambda: "answering in this thread again" in discord_fake.bot_texts(mid)[-1])
    await discord_fake.user_message(mid, discord_fake.bob, "all good now, thanks", ping=False)
    await discord_fake.wait_for(lambda: discord_fake.bot_texts(mid)[-1] == "Glad it works.", what="answers again")
    assert len(fake.requests) == 2


async def test_a_phrase_hands_off_without_the_model(
    bot: Conversation, discord_fake: FakeDiscord, fake: FakeOpenAI, store: Store
) -> None:
    oncall = await helpdesk(bot, store, discord_fake)
    mid = await discord_fake.user_message(
        discord_fake.general, discord_fake.bob, f"{discord_fake.mention} I need to talk to a human"
    )
    await discord_fake.wait_for(lambda: bool(discord_fake.bot_messages(mid)), what="the hand-off notice")
    (notice,) = discord_fake.bot_messages(mid)
    assert notice.content.startswith(oncall) and notice.pinged == {f"role:{discord_fake.mods_role}"}
    await discord_fake.wait_for(lambda: discord_fake.messages[mid].reactions == ["🆘"], what="🆘 on the question")
    assert fake.requests == []
