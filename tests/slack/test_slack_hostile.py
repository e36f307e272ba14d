"""Hostile requests to /slack/events: the unsigned get 401, the signed of a wrong shape 4xx (or 200, ignored),
never a 500, a traceback in the log or a reply; the adapter keeps answering. Hostile text is read in linear time."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import pytest

from adapters.slack.config import SlackConfig
from adapters.slack.envelope import problem as envelope_problem
from adapters.slack.events import BotIdentity, Ignored, classify, incoming_message, render
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import SECRET, Running, envelope, mention, running, slack, until

__all__ = ["running", "slack"]

REFUSED = {"error": "invalid request"}
TIMESTAMP, SIGNATURE = "X-Slack-Request-Timestamp", "X-Slack-Signature"


@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05, native_streaming=False))


def signature(raw: bytes, timestamp: str, secret: str = SECRET) -> str:
    """Slack's signature, computed on the bytes (slack_sdk's generator takes text)."""
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()


def signed(raw: bytes, **extra: str) -> dict[str, str]:
    now = str(int(time.time()))
    return {"Content-Type": "application/json", "X-Slack-Request-Timestamp": now,
            "X-Slack-Signature": signature(raw, now), **extra}  # fmt: skip


async def send(running: Running, raw: bytes, headers: Mapping[str, str] | list[tuple[str, str]]) -> tuple[int, str]:
    async with running.session.post(running.url + "/slack/events", data=raw, headers=headers) as response:
        return response.status, await response.text()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def still_answers(running: Running, slack: FakeSlack, fake: FakeOpenAI) -> None:
    """A valid mention is answered, and it is the only thing parley ever answered."""
    event = mention("still there?")
    assert (await running.event(event))[0] == 200
    await until(lambda: any(m.text == "echo: still there?" for m in slack.thread(event["channel"], event["ts"])))
    assert [r["messages"][-1]["content"] for r in fake.requests] == ["still there?"], "nothing else reached the model"
    assert len(slack.calls_to("chat.postMessage")) == 1, "and nothing else was answered"


def unsigned_requests() -> dict[str, tuple[bytes, Any]]:
    body = json.dumps(envelope(mention("forged"))).encode()
    now = str(int(time.time()))
    good, old = signature(body, now), signature(body, "1600000000")
    deep = b"[" * 1000 + b"]" * 1000
    not_utf8 = body.replace(b"forged", b"forg\xffed")
    return {
        "no headers": (body, {}),
        "no signature": (body, {"X-Slack-Request-Timestamp": now}),
        "no timestamp": (body, {"X-Slack-Signature": good}),
        "timestamp abc": (body, {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": good}),
        "empty timestamp": (body, {"X-Slack-Request-Timestamp": "", "X-Slack-Signature": good}),
        "timestamp 1e9": (body, {"X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": good}),
        "negative timestamp": (body, {"X-Slack-Request-Timestamp": "-1", "X-Slack-Signature": good}),
        "timestamp of 5,000 digits": (body, {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": good}),
        "old timestamp": (body, {"X-Slack-Request-Timestamp": "1600000000", "X-Slack-Signature": old}),
        "wrong signature": (body, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}),
        "non-ASCII signature": (body, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=é"}),
        "empty signature": (body, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": ""}),
        "another secret": (body, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature(body, now, "x")}),
        "two timestamps": (body, [(TIMESTAMP, "1"), (TIMESTAMP, now), (SIGNATURE, good)]),
        "two signatures": (body, [(TIMESTAMP, now), (SIGNATURE, "v0=1"), (SIGNATURE, good)]),
        "signed, then changed": (body.replace(b"forged", b"change"), signed(body)),
        "invalid UTF-8, unsigned": (not_utf8, {"Content-Type": "application/json"}),
        "invalid UTF-8, signed on its bytes": (not_utf8, signed(not_utf8)),
        "nested 1,000 deep": (deep, {"Content-Type": "application/json"}),
        "a broken gzip body": (b"\x1f\x8bnot gzip", {"Content-Encoding": "gzip", "Content-Type": "application/json"}),
        "a form": (b"payload=%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}),
        "empty": (b"", {}),
    }


async def test_every_request_not_validly_signed_gets_401(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    for name, (raw, headers) in unsigned_requests().items():
        status, text = await send(running, raw, headers)
        assert (status, json.loads(text)) == (401, REFUSED), name
    assert not tracebacks(caplog)
    await still_answers(running, slack, fake)


async def test_a_request_that_is_not_http_gets_400_and_one_line_in_the_log(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    raw = json.dumps(envelope(mention("twice typed"))).encode()
    headers = [("Content-Type", "application/json"), ("Content-Type", "text/plain"), *signed(raw).items()]
    assert (await send(running, raw, headers))[0] == 400, "aiohttp refuses it before any route"
    assert not tracebacks(caplog), "aiohttp logged it at ERROR, with a traceback"
    (line,) = [r.getMessage() for r in caplog.records if r.name == "aiohttp.server"]
    assert "Duplicate 'Content-Type' header" in line


def wrong_shapes() -> dict[str, Any]:
    def mention_with(**fields: Any) -> dict[str, Any]:
        return envelope({**mention("garbage"), **fields})

    def without(*names: str) -> dict[str, Any]:
        event = mention("garbage")
        return envelope({k: v for k, v in event.items() if k not in names})

    deep: Any = "x"
    for _ in range(100):
        deep = {"elements": [deep]}
    return {
        "event a list": {**mention_with(), "event": [mention("garbage")]},
        "event a string": {**mention_with(), "event": "app_mention"},
        "event null": {**mention_with(), "event": None},
        "user a number": mention_with(user=12345),
        "user an object without a text id": mention_with(user={"id": 7}),
        "text an object": mention_with(text={"type": "mrkdwn", "text": "garbage"}),
        "text a list": mention_with(text=["garbage"]),
        "ts a number": mention_with(ts=1710000000.5),
        "thread_ts an object": mention_with(thread_ts={"ts": "1"}),
        "channel a list": mention_with(channel=["C0GENERAL"]),
        "subtype a list": mention_with(subtype=["bot_message"]),
        "hidden a string": mention_with(hidden="no"),
        "files an object": mention_with(files={"name": "a.txt"}),
        "files of numbers": mention_with(files=[1, 2]),
        "a file size of text": mention_with(files=[{"name": "a.txt", "size": "big", "mimetype": "text/plain"}]),
        "a file size of infinity": mention_with(files=[{"name": "a.txt", "size": 1e400, "mimetype": "text/plain"}]),
        "message an array": mention_with(subtype="message_changed", message=["x"]),
        "authorizations a string": {**mention_with(), "authorizations": "T0TEST"},
        "authorizations of numbers": {**mention_with(), "authorizations": [1]},
        "an authorization's team a number": {**mention_with(), "authorizations": [{"team_id": 5, "is_bot": True}]},
        "team a list": {**mention_with(), "team": ["id"]},
        "enterprise a number": {**mention_with(), "enterprise": 5},
        "response_urls a string": {**mention_with(), "response_urls": "http://x"},
        "a block action without actions": {"type": "block_actions", "actions": []},
        "blocks 100 deep": mention_with(blocks=[deep]),
        "a lone surrogate": mention_with(text="\ud800 garbage"),
        "no user": without("user"),
        "no channel": without("channel"),
        "no ts": without("ts"),
        "no text": without("text"),
        "no event type": without("type"),
        "no event": {k: v for k, v in mention_with().items() if k != "event"},
        "a thread started, no thread": envelope({"type": "assistant_thread_started", "event_ts": "1.2"}),
        "a thread without its context": envelope(
            {"type": "assistant_thread_context_changed", "assistant_thread": {"channel_id": "D1", "thread_ts": "1.2"}}
        ),
        "an assistant message, no channel": without("channel")
        | {"type": "message", "channel_type": "im", "thread_ts": "1.2"},
        "a JSON list": [mention_with()],
        "a JSON number": 42,
        "a JSON null": None,
    }


async def test_signed_bodies_of_a_wrong_shape_are_refused_or_ignored(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    for name, body in wrong_shapes().items():
        raw = json.dumps(body).encode()
        status, text = await send(running, raw, signed(raw))
        assert 400 <= status < 500 or status == 200, (name, status, text)
    deep = b"[" * 1000 + b"]" * 1000
    status, text = await send(running, deep, signed(deep))
    assert (status, json.loads(text)) == (400, {"error": "the body is not a Slack event (malformed JSON)"})
    form = b"payload=" + b"%5B1%5D"  # an interactive payload that is a JSON list
    assert (await send(running, form, signed(form, **{"Content-Type": "application/x-www-form-urlencoded"})))[0] == 400
    assert not tracebacks(caplog), tracebacks(caplog)
    await still_answers(running, slack, fake)
    assert not tracebacks(caplog), tracebacks(caplog)


async def test_what_the_refusals_say(running: Running) -> None:
    raw = json.dumps(envelope({**mention("x"), "user": 5})).encode()
    status, text = await send(running, raw, signed(raw))
    assert (status, json.loads(text)) == (400, {"error": "the body is not a Slack event (event.user is a int)"})
    status, text = await send(running, raw, {})
    assert (status, json.loads(text)) == (401, REFUSED)


PATHOLOGICAL = ["<http:a", "<mailto:a|", "<@U1|", "<@U0BOT|", "<#C1|", "<!a", "<!subteam^S1|", "<!here|", "<http:a|<"]
"""Openings of Slack references that never close: each one read to the end of the text made reading quadratic
(40 KB of ``<http:a`` took 5.3 s)."""


def test_text_full_of_unclosed_references_is_read_in_linear_time() -> None:
    bot = BotIdentity("U0BOT", "B0BOT")
    started = time.monotonic()
    for unit in PATHOLOGICAL:
        text = unit * (400_000 // len(unit))  # a quadratic reading takes many minutes for each
        event = {"type": "app_mention", "text": f"<@U0BOT> {text}", "channel": "C1", "ts": "1.000001", "user": "U1"}
        addressed = classify(event, "T1", bot, answer_bots=False)
        assert not isinstance(addressed, Ignored)
        assert incoming_message(addressed, names={}).text == render(text, {})
    assert render("<http:a" * 3, {}) == "<http:a" * 3, "nothing closed, nothing changed"
    assert time.monotonic() - started < 20, "linear: well under a second on any machine; quadratic: hours"


GENUINE = {
    "app_home_opened with its view": envelope({"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home",
        "view": {"id": "V1", "team_id": "T0TEST", "type": "home", "title": {"type": "plain_text", "text": "Home"},
                 "blocks": [], "state": {"values": {}}, "bot_id": "B1", "app_installed_team_id": "T0TEST"}}),
    "message_changed": envelope({"type": "message", "subtype": "message_changed", "channel": "C1", "hidden": True,
        "ts": "1.2", "message": {"type": "message", "user": "U1", "text": "new", "ts": "1.1",
                                 "edited": {"user": "U1", "ts": "1.2"}},
        "previous_message": {"type": "message", "user": "U1", "text": "old", "ts": "1.1"}}),
    "a file shared": envelope(mention("see", subtype="file_share", files=[{"id": "F1", "name": "a.txt",
        "title": "a.txt", "mimetype": "text/plain", "size": 3, "mode": "hosted", "user": "U1",
        "url_private": "https://files.slack.com/a", "shares": {"public": {"C1": [{"ts": "1.1"}]}}}])),
    "user_change": envelope({"type": "user_change", "user": {"id": "U1", "team_id": "T1", "name": "ada",
        "deleted": False, "is_bot": False, "profile": {"display_name": "Ada"}, "updated": 1700000000}}),
    "channel_created": envelope({"type": "channel_created", "channel": {"id": "C2", "name": "new",
        "created": 1700000000, "creator": "U1"}}),
    "block_actions": {"type": "block_actions", "user": {"id": "U1", "username": "ada", "team_id": "T1"},
        "team": {"id": "T1", "domain": "t"}, "channel": {"id": "C1", "name": "general"}, "trigger_id": "1.2",
        "actions": [{"type": "button", "action_id": "a", "block_id": "b", "action_ts": "1.2",
                     "text": {"type": "plain_text", "text": "Go"}}],
        "response_url": "https://hooks.slack.com/actions/x", "message": {"type": "message", "text": "hi", "ts": "1.1"}},
    "assistant_thread_started": envelope({"type": "assistant_thread_started", "event_ts": "1.2",
        "assistant_thread": {"user_id": "U1", "channel_id": "D1", "thread_ts": "1.1",
                             "context": {"channel_id": "C1", "team_id": "T1", "enterprise_id": None}}}),
    "app_context_changed": envelope({"type": "app_context_changed", "user": "U1",
        "context": {"entities": [{"type": "slack#/types/channel_id", "value": "C1"}]}}),
}  # fmt: skip
"""Bodies as Slack sends them (abridged): every one passes the shape check."""


def test_the_shapes_slack_sends_pass() -> None:
    for name, body in GENUINE.items():
        assert envelope_problem(body) is None, name
