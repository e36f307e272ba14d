"""Messages counted where the review found them missed or miscounted: a reply the platform refuses (the handler
apologises and ends the job) is failed, a message an ingress could not queue is failed, a slash command is
answered, a platform's designed duplicate (Slack's mention twin) is no redelivery, and the console's playground
turns are not the platform's traffic."""

from __future__ import annotations

from bot.commands import Command
from bot.conversation import PLAYGROUND, Conversation
from bot.jobs import Job, Turn
from bot.messages import Author
from bot.notices import SOMETHING_BROKE
from tests.support.chat_jobs import ChatHandler, chat_thread, payload, running, until
from tests.support.messages import THREAD
from tests.support.metric_samples import value
from tests.support.recording_sink import RecordingSink


class Refused(Exception):
    """What a platform's client raises when the platform refuses a write for good."""


class RefusingSink(RecordingSink):
    async def post(self, text: str) -> str:
        raise Refused("missing permissions")


class ApologisingHandler(ChatHandler):
    """Ends the job itself when the platform refuses the reply (as Discord's worker does): an apology, no retry."""

    def __init__(self) -> None:
        super().__init__()
        self.apologies: list[str] = []

    async def handle(self, job: Job, turn: Turn) -> None:
        try:
            await super().handle(job, turn)
        except Refused:
            self.apologies.append(SOMETHING_BROKE)


def counted(core: Conversation, outcome: str, platform: str = "chat") -> float:
    return value(core.metrics, "parley_messages_total", platform=platform, outcome=outcome)


async def test_a_reply_the_platform_refuses_counts_as_failed(core: Conversation) -> None:
    handler = ApologisingHandler()
    thread = chat_thread("refused")
    handler.sinks[thread] = RefusingSink()
    assert await core.enqueue(thread, "R1", payload("hello"))
    async with running(core, {"chat": handler}):
        await until(lambda: handler.apologies == [SOMETHING_BROKE] and counted(core, "failed") == 1)
    assert counted(core, "ignored") == 0 and counted(core, "answered") == 0


async def test_a_message_an_ingress_lost_counts_as_failed(core: Conversation) -> None:
    core.lost("chat")
    assert counted(core, "failed") == 1


async def test_a_slash_command_counts_as_answered(core: Conversation) -> None:
    answer = await core.run_command(Command("show"), THREAD, Author("U1", "User"))
    assert answer
    assert counted(core, "answered", THREAD.platform) == 1


async def test_a_designed_duplicate_is_no_redelivery(core: Conversation) -> None:
    thread = chat_thread("twin")
    assert await core.enqueue(thread, "M1", payload("hello"), twin=True)
    assert not await core.enqueue(thread, "M1", payload("hello"), twin=True), "the twin is still deduplicated"
    assert counted(core, "deduplicated") == 0
    assert not await core.enqueue(thread, "M1", payload("hello")), "a redelivery"
    assert counted(core, "deduplicated") == 1


async def test_playground_turns_count_as_the_console(core: Conversation) -> None:
    settings = await core.settings_for(THREAD.channel_key)
    sink = RecordingSink()
    await core.admin.play(THREAD, "hello from the console", settings, sink, "admin")
    assert sink.texts, "answered"
    assert counted(core, "answered", PLAYGROUND) == 1
    assert counted(core, "answered", THREAD.platform) == 0
