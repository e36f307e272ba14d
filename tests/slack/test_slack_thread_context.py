"""The thread parley joins in Slack: its earlier messages read once, later ones picked up from events."""

from __future__ import annotations

import pytest

from adapters.slack.config import SlackConfig
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import CHANNEL, USER, Running, mention, message, new_ts, running, slack, until

__all__ = ["running", "slack"]

PEOPLE = {"U0ALICE": "Alice", "U0BOB": "Bob"}


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(
        fake.url,
        prefix,
        defaults={"trigger": "mention"},
        admins=["slack:U0ADMIN"],
        slack=SlackConfig(edit_interval=0.05),
    )


def people(slack: FakeSlack) -> None:
    for user, name in PEOPLE.items():
        slack.users[user] = {"id": user, "name": name.lower(), "profile": {"display_name": name}}


def outage_thread(slack: FakeSlack) -> tuple[str, list[str]]:
    """A thread of 12 messages by Alice and Bob, parley not in it: its root's ts and the texts as attributed."""
    root = new_ts()
    expected = []
    for number in range(12):
        user = "U0ALICE" if number % 2 == 0 else "U0BOB"
        text = f"outage note {number}" + (" for <@U0BOB>" if number == 3 else "")
        ts = root if number == 0 else new_ts()
        slack.human(text, channel=CHANNEL, user=user, ts=ts, thread_ts=None if number == 0 else root)
        shown = text.replace("<@U0BOB>", "@Bob")
        expected.append(f"{PEOPLE[user]}: {shown}")
    return root, expected


async def test_a_mention_in_a_thread_reads_it_once_then_follows_it_from_events(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    people(slack)
    root, expected = outage_thread(slack)
    first = mention("what went wrong?", thread_ts=root)
    await running.event(first)
    await until(lambda: any(m.text == "echo: what went wrong?" for m in slack.thread(CHANNEL, root)))
    sent = [m["content"] for m in fake.requests[0]["messages"][1:]]
    assert sent == [*expected, "what went wrong?"], "the thread, in order, each message attributed"
    (read,) = slack.calls_to("conversations.replies")
    assert read.params["ts"] == root and read.params["latest"] == first["ts"]

    between = message("the database restarted at 10:02", user="U0BOB", thread_ts=root)
    await running.event(between)
    second = mention("and now?", thread_ts=root)
    await running.event(second)
    await until(lambda: any(m.text == "echo: and now?" for m in slack.thread(CHANNEL, root)))
    later = [m["content"] for m in fake.requests[1]["messages"][1:]]
    assert later == [*expected, "what went wrong?", "echo: what went wrong?", "Bob: the database restarted at 10:02",
                     "and now?"]  # fmt: skip
    assert len(slack.calls_to("conversations.replies")) == 1, "later turns read Redis, not Slack"
    assert len(fake.requests) == 2, "the message between the mentions was not answered (trigger mention)"


async def test_thread_context_off_reads_nothing(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    assert "thread_context" in await running.answer_to("set thread_context false", user="U0ADMIN")
    people(slack)
    root, _ = outage_thread(slack)
    await running.event(mention("what went wrong?", thread_ts=root))
    await until(lambda: bool(fake.requests))
    assert [m["content"] for m in fake.requests[0]["messages"][1:]] == ["what went wrong?"]
    assert not slack.calls_to("conversations.replies")


async def test_the_newest_messages_up_to_the_cap_are_read(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    assert "thread_context_messages" in await running.answer_to("set thread_context_messages 3", user="U0ADMIN")
    people(slack)
    root, expected = outage_thread(slack)
    await running.event(mention("summary?", thread_ts=root, user=USER))
    await until(lambda: bool(fake.requests))
    assert [m["content"] for m in fake.requests[0]["messages"][1:]] == [*expected[-3:], "summary?"]


async def test_a_thread_that_cannot_be_read_is_answered_without_it(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    people(slack)
    root, _ = outage_thread(slack)
    slack.fail("conversations.replies", "missing_scope")
    await running.event(mention("what went wrong?", thread_ts=root))
    await until(lambda: any(m.text == "echo: what went wrong?" for m in slack.thread(CHANNEL, root)))
    assert [m["content"] for m in fake.requests[0]["messages"][1:]] == ["what went wrong?"]
