"""The helpdesk on Discord: 👍 / 👎 and "Talk to a person" buttons on answers, their clicks, the question after a 👎
(a modal), the hand-off notice that pings the on-call role (and nobody else), and ✅ to hand a thread back.

The buttons are components without callbacks of their own: every click reaches ``on_interaction`` by its custom
id, so the buttons of answers written before a restart keep working.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import discord

from adapters.discord.events import DM_WORKSPACE, PLATFORM, command_style
from adapters.discord.mentions import neutralised
from adapters.discord.state import DiscordState
from bot.api import Author, Conversation, ThreadKey

log = logging.getLogger(__name__)

VOTES = {"parley:vote:up": "up", "parley:vote:down": "down"}
HANDOFF = "parley:handoff"
RESOLVED = ("✅", "☑️", "✔️")
SOS = "🆘"
ROLE = re.compile(r"<@&(\d+)>")


def feedback_view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for label, custom_id in (("👍", "parley:vote:up"), ("👎", "parley:vote:down"), ("Talk to a person", HANDOFF)):
        view.add_item(discord.ui.Button(label=label, custom_id=custom_id, style=discord.ButtonStyle.secondary))
    return view


def group_mentions(group: str | None) -> discord.AllowedMentions:
    """Only the on-call role may be notified (a group that is not a role mention notifies nobody)."""
    roles = [discord.Object(int(found)) for found in ROLE.findall(group or "")]
    return discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)


async def mark(message: discord.PartialMessage, emoji: str) -> None:
    try:
        await message.add_reaction(emoji)
    except discord.HTTPException as error:  # a nicety: the notice says it all the same
        log.warning("could not react %s to message %s: %s", emoji, message.id, error)


def first_message(client: discord.Client, thread: ThreadKey) -> discord.PartialMessage | None:
    """The message a conversation started from: a thread opened from a message has that message's id (in the
    parent channel), a reply chain is named by its root; a DM has none."""
    if thread.thread == thread.channel:
        return None
    return client.get_partial_messageable(int(thread.channel)).get_partial_message(int(thread.thread))


class DiscordDesk:
    """What the client does with helpdesk clicks and ✅ reactions."""

    def __init__(self, conversation: Conversation, state: DiscordState, client: discord.Client) -> None:
        self._conversation = conversation
        self._state = state
        self._client = client

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, object] = interaction.data or {}
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is not discord.InteractionType.component or interaction.message is None:
            return
        if custom_id in VOTES:
            await self._vote(interaction, interaction.message, VOTES[custom_id])
        elif custom_id == HANDOFF:
            await self._hand_off(interaction, interaction.message)

    async def _vote(self, interaction: discord.Interaction, message: discord.Message, vote: str) -> None:
        voter = Author(str(interaction.user.id), interaction.user.display_name)
        voted = await self._conversation.desk.vote(PLATFORM, str(message.id), voter, "up" if vote == "up" else "down")
        if voted.counted and vote == "down":
            await interaction.response.send_modal(ReasonModal(self._conversation, str(message.id)))
            return
        await interaction.response.send_message(voted.text, ephemeral=True)

    async def _hand_off(self, interaction: discord.Interaction, message: discord.Message) -> None:
        thread = await self._thread_of(message)
        if thread is None:
            await interaction.response.send_message("There is no thread to hand over here.", ephemeral=True)
            return
        asker = Author(str(interaction.user.id), interaction.user.display_name)
        me = self._client.user
        handoff = await self._conversation.desk.hand_off_thread(
            thread, asker, command_style(me.name if me else "parley")
        )
        if handoff is None:
            await interaction.response.send_message("This thread is already with a person.", ephemeral=True)
            return
        await interaction.response.send_message(
            neutralised(handoff.text), allowed_mentions=group_mentions(handoff.group)
        )
        first = first_message(self._client, thread)
        if first is not None:
            await mark(first, SOS)

    async def _thread_of(self, message: discord.Message) -> ThreadKey | None:
        """The conversation an answer belongs to: its thread, its DM, or the reply chain it is in."""
        channel = message.channel
        if isinstance(channel, discord.Thread) and channel.parent_id is not None:
            return ThreadKey(PLATFORM, str(channel.guild.id), str(channel.parent_id), str(channel.id))
        if message.guild is None:
            return ThreadKey(PLATFORM, DM_WORKSPACE, str(channel.id), str(channel.id))
        ttl = self._conversation.config.history.ttl_seconds
        root = await self._state.reply_chain_root(str(message.id), ttl)
        return None if root is None else ThreadKey(PLATFORM, str(message.guild.id), str(channel.id), root)

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """✅ on the first message of a thread handed to a person: the bot answers there again."""
        me = self._client.user
        if str(payload.emoji) not in RESOLVED or payload.guild_id is None or (me and payload.user_id == me.id):
            return
        thread = ThreadKey(PLATFORM, str(payload.guild_id), str(payload.channel_id), str(payload.message_id))
        if not await self._conversation.desk.take_back(thread):
            return
        found = self._client.get_channel(payload.message_id)  # the thread opened from that message, if cached
        where = found if isinstance(found, discord.Thread) else self._client.get_partial_messageable(payload.channel_id)
        await where.send("Marked resolved: I'm answering in this thread again.",
                         allowed_mentions=discord.AllowedMentions.none())  # fmt: skip


class ReasonModal(discord.ui.Modal, title="What was wrong?"):
    """Asked after a 👎: the answer is kept with the vote."""

    reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(
        label="What was wrong with the answer?", style=discord.TextStyle.paragraph, max_length=2000
    )

    def __init__(self, conversation: Conversation, message_id: str) -> None:
        super().__init__(timeout=600, custom_id=f"parley:reason:{message_id}")
        self._conversation = conversation
        self._message_id = message_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        voter = Author(str(interaction.user.id), interaction.user.display_name)
        await self._conversation.desk.explain(PLATFORM, self._message_id, voter, str(self.reason.value))
        await interaction.response.send_message("Thanks for the feedback.", ephemeral=True)
