"""The helpdesk on Slack: buttons on answers, votes counted once, the question after a 👎, the hand-off that pings
the on-call group and nobody else, 🆘 on the thread, silence until ✅ or resume. Signed requests, the fake Slack."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.config import Config
from bot.conversation import Conversation
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fake_slack import TEAM, FakeSlack, Message
from tests.support.slack_harness import CHANNEL, USER, Running, mention, new_ts, running, signed_headers, slack, until

__all__ = ["running", "slack"]

ONCALL = "<!subteam^S0ONCALL|@it-oncall>"


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, channels=[{"match": "slack:*", "oncall": ONCALL}])


async def ask(running: Running, text: str, *, thread_ts: str | None = None, user: str = USER) -> str:
    """A mention in #general (a person's message, so it can carry reactions); its ts."""
    ts = new_ts()
    running.slack.human(f"<@U0PARLEY> {text}", channel=CHANNEL, user=user, ts=ts, thread_ts=thread_ts)
    status, _ = await running.event(mention(text, ts=ts, thread_ts=thread_ts, user=user))
    assert status == 200
    return ts


def bot_replies(slack: FakeSlack, root: str) -> list[Message]:
    return [m for m in slack.thread(CHANNEL, root) if m.user is None]


async def click(running: Running, action: str, message: Message, *, user: str, trigger: str = "") -> None:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TEST",
        "channel": {"id": CHANNEL, "name": "general"},
        "container": {"type": "message", "message_ts": message.ts, "channel_id": CHANNEL},
        "message": {"type": "message", "ts": message.ts, "thread_ts": message.thread_ts, "text": message.text},
        "response_url": f"{running.slack.url}/response/{action}-{user}",
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "parley_feedback",
                "value": action,
                "action_ts": new_ts(),
            }
        ],
    }
    if trigger:
        payload["trigger_id"] = trigger
    await post_payload(running, payload)


async def post_payload(running: Running, payload: dict[str, Any]) -> None:
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
    status, text = await running.post("/slack/events", body, headers)
    assert status == 200, text


async def test_an_answer_gets_the_buttons_and_a_vote_counts_once(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, core: Conversation
) -> None:
    fake.queue(Reply("Restart the **VPN** client."))
    root = await ask(running, "my VPN is down")
    await until(lambda: any(m.blocks for m in bot_replies(slack, root)), what="the buttons")
    [answer] = bot_replies(slack, root)
    assert answer.text == "Restart the *VPN* client."  # the text stays as it was
    sections = [b["text"]["text"] for b in answer.blocks if b["type"] == "section"]
    assert sections == ["Restart the *VPN* client."]
    actions = next(b for b in answer.blocks if b["type"] == "actions")["elements"]
    assert [e["action_id"] for e in actions] == ["parley_vote_up", "parley_vote_down", "parley_handoff"]

    await click(running, "parley_vote_up", answer, user="U0ANN")
    await click(running, "parley_vote_up", answer, user="U0ANN")
    await until(lambda: len(slack.responses) == 2, what="two ephemeral answers")
    assert [r["text"] for r in slack.responses] == [
        "Thanks for the feedback!",
        "You already gave feedback on this answer.",
    ]
    assert all(r["response_type"] == "ephemeral" for r in slack.responses)

    await click(running, "parley_vote_down", answer, user="U0BOB", trigger="12345.98765")
    await until(lambda: bool(slack.calls_to("views.open")), what="the question after a thumbs-down")
    view = slack.calls_to("views.open")[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    await post_payload(running, {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": "U0BOB", "name": "bob", "team_id": TEAM},
        "api_app_id": "A0TEST",
        "view": {**view, "id": "V1", "state": {"values": {"reason": {"reason": {"type": "plain_text_input",
                                                                               "value": "wrong client"}}}}},
    })  # fmt: skip

    async def explained() -> bool:
        rows = await core.desk.export(None, since=0)
        return [(r["user"], r["vote"], r["reason"]) for r in rows] == [
            ("U0ANN", "up", ""),
            ("U0BOB", "down", "wrong client"),
        ]

    await until(explained, what="the reason kept with the vote")


async def test_the_hand_off_pings_the_group_and_the_bot_stays_quiet_until_resolved(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, store: Store
) -> None:
    fake.queue(Reply("Try the self-service portal."), Reply("Glad it is sorted."))
    root = await ask(running, "I cannot log in")
    await until(lambda: any(m.blocks for m in bot_replies(slack, root)), what="the buttons")
    [answer] = bot_replies(slack, root)

    await click(running, "parley_handoff", answer, user="U0ANN")
    await until(lambda: len(bot_replies(slack, root)) == 2, what="the hand-off notice")
    notice = bot_replies(slack, root)[1].text
    assert notice.startswith(ONCALL) and "u0ann asked for a person" in notice
    assert "@parley resume" in notice
    assert "<!channel>" not in notice and "<!here>" not in notice
    assert slack.messages[root].reactions == ["sos"]

    await ask(running, "hello? anyone?", thread_ts=root)
    await ask(running, "talk to a human", thread_ts=root)

    async def kept_quietly() -> bool:  # the thread's messages are kept for later, none is answered
        said = [m.content for m in await store.thread_messages(ThreadKey("slack", TEAM, CHANNEL, root))]
        return any("hello? anyone?" in text for text in said) and any("talk to a human" in text for text in said)

    await until(kept_quietly, what="the messages kept while the thread is with a person")
    assert len(fake.requests) == 1 and len(bot_replies(slack, root)) == 2  # nothing more went to the model

    status, _ = await running.event({"type": "reaction_added", "user": "U0ANN", "reaction": "white_check_mark",
                                     "item": {"type": "message", "channel": CHANNEL, "ts": root},
                                     "item_user": USER, "event_ts": new_ts()})  # fmt: skip
    assert status == 200
    await until(lambda: "answering in this thread again" in bot_replies(slack, root)[-1].text, what="taken back")
    await ask(running, "thanks, it works now", thread_ts=root)
    await until(lambda: bot_replies(slack, root)[-1].text == "Glad it is sorted.", what="an answer again")
    assert any("hello? anyone?" in str(m["content"]) for m in fake.requests[1]["messages"])


async def test_a_phrase_hands_off_without_asking_the_model(
    running: Running, slack: FakeSlack, fake: FakeOpenAI
) -> None:
    root = await ask(running, "can I speak to a person please")
    await until(lambda: len(bot_replies(slack, root)) == 1, what="the hand-off notice")
    assert bot_replies(slack, root)[0].text.startswith(ONCALL)
    assert slack.messages[root].reactions == ["sos"]
    assert fake.requests == []
