"""The helpdesk in the core: feedback buttons offered, votes counted once, hand-off to a person and back,
the desk's numbers in /usage, the feedback export. Real Redis, the fake LLM over loopback."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.conversation import Conversation
from bot.desk import ALREADY_VOTED, TAKEN_BACK, THANKS_DOWN, THANKS_UP, asks_for_person
from bot.messages import Author, CommandStyle
from bot.threads import ThreadKey
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

ONCALL = "@it-oncall"


@dataclass
class DeskRecordingSink(RecordingSink):
    """A recording sink that serves a helpdesk: it records the buttons offered and the hand-offs posted."""

    offered: list[str] = field(default_factory=list)
    handoffs: list[tuple[str, str | None]] = field(default_factory=list)

    async def offer_feedback(self, message_id: str) -> str:
        assert message_id in self.messages, "buttons offered on a message never posted"
        self.offered.append(message_id)
        return message_id

    async def hand_off(self, text: str, group: str | None) -> str:
        self.handoffs.append((text, group))
        return await self.post(text)


async def test_an_answer_in_a_helpdesk_channel_carries_the_buttons(core: Conversation, fake: FakeOpenAI) -> None:
    sink = DeskRecordingSink()
    fake.queue(Reply("Restart the VPN client."), Reply("Plain answer."))
    await core.receive(msg("/set oncall @it-oncall"), sink)
    await core.receive(msg("my VPN is down"), sink)

    assert sink.last == "Restart the VPN client."
    assert sink.offered == [list(sink.messages)[-1]]

    plain = DeskRecordingSink()
    other = msg("hello", thread=ThreadKey("test", "W1", "C2", "t9"))
    await core.receive(other, plain)
    assert plain.last == "Plain answer." and plain.offered == []  # not a helpdesk channel


async def test_votes_count_once_per_person_and_show_in_usage(core: Conversation, fake: FakeOpenAI) -> None:
    sink = DeskRecordingSink()
    fake.queue(Reply("Use the self-service portal to reset it."))
    await core.receive(msg("/set oncall @it-oncall"), sink)
    await core.receive(msg("how do I reset my password?"), sink)
    answer_id = sink.offered[0]

    first = await core.desk.vote("test", answer_id, Author("U1", "Ann"), "up")
    again = await core.desk.vote("test", answer_id, Author("U1", "Ann"), "down")
    other = await core.desk.vote("test", answer_id, Author("U2", "Bob"), "down")
    assert (first.counted, first.text) == (True, THANKS_UP)
    assert (again.counted, again.text) == (False, ALREADY_VOTED)
    assert (other.counted, other.text) == (True, THANKS_DOWN)
    assert await core.desk.explain("test", answer_id, Author("U2", "Bob"), "it is the wrong portal")

    usage = RecordingSink()
    await core.receive(msg("/usage"), usage)
    assert "1 questions: 1 answered without a hand-off, 0 handed to a person" in usage.last
    assert "feedback: 1 👍, 1 👎, 50% 👍" in usage.last
    assert "median time to first text:" in usage.last

    rows = await core.desk.export(THREAD.channel_key, since=0)
    assert [(row["user"], row["vote"], row["reason"]) for row in rows] == [
        ("U1", "up", ""),
        ("U2", "down", "it is the wrong portal"),
    ]
    assert rows[0]["question"] == "how do I reset my password?"
    assert rows[0]["answer"] == "Use the self-service portal to reset it."
    assert rows[0]["thread"] == THREAD.thread and rows[0]["settings"]["oncall"] == ONCALL


async def test_a_phrase_hands_the_thread_to_a_person_until_resume(core: Conversation, fake: FakeOpenAI) -> None:
    sink = DeskRecordingSink()
    fake.queue(Reply("Try turning it off and on."))
    await core.receive(msg("/set oncall @it-oncall"), sink)
    await core.receive(msg("the printer jams"), sink)
    await core.receive(msg("this is not working, can I talk to a human please?"), sink)

    assert len(fake.requests) == 1  # the model is not asked for the hand-off
    [(text, group)] = sink.handoffs
    assert group == ONCALL and text.startswith(f"{ONCALL}: User asked for a person")
    assert "/resume" in text

    await core.receive(msg("are you there?"), sink)
    assert len(fake.requests) == 1 and sink.last == text  # the bot stays quiet in a handed-off thread

    await core.receive(msg("resume"), sink)
    assert sink.last == TAKEN_BACK
    fake.queue(Reply("Back to help."))
    await core.receive(msg("one more question"), sink)
    assert sink.last == "Back to help."
    remembered = fake.requests[1]["messages"]
    assert any("are you there?" in str(m["content"]) for m in remembered)  # kept for the answer after resume


async def test_the_hand_off_button_and_its_numbers(core: Conversation, fake: FakeOpenAI) -> None:
    sink = DeskRecordingSink()
    await core.receive(msg("/set oncall @it-oncall"), sink)
    handoff = await core.desk.hand_off_thread(THREAD, Author("U3", "Cy"), CommandStyle("/parley ", "@parley reset"))
    assert handoff is not None and handoff.group == ONCALL
    assert "@parley resume" in handoff.text  # phrased as this platform's users type it
    assert await core.desk.hand_off_thread(THREAD, Author("U3", "Cy"), CommandStyle()) is None  # once

    usage = RecordingSink()
    await core.receive(msg("/usage"), usage)
    assert "0 questions: 0 answered without a hand-off, 1 handed to a person" in usage.last


def test_phrases_match_anywhere_in_any_case() -> None:
    phrases = ["talk to a human", "real person"]
    assert asks_for_person("Can I  TALK to a Human?", phrases)
    assert asks_for_person("I want a real person", phrases)
    assert not asks_for_person("humans are great", phrases)
