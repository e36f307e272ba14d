"""Property-based fuzzing (hypothesis) of /slack/events, against the real adapter on loopback: signed payloads
of every shape and unsigned or forged requests. No 5xx, no traceback in the log, never a reply to garbage, and
the adapter still answers a valid mention afterwards.

Hypothesis runs in a worker thread; each example's request runs on the test's event loop, which serves the
adapter meanwhile (``run_coroutine_threadsafe``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack.config import SlackConfig
from bot.config import Config
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import BOT_USER, TEAM, FakeSlack
from tests.support.slack_harness import CHANNEL, DM, SECRET, USER, Running, envelope, mention, running, slack, until

__all__ = ["running", "slack"]

FUZZ = settings(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
"""Reproducible from the blob a failure prints; the example counts keep the module well under a minute."""
REFUSED = {"error": "invalid request"}
ONCE_ONLY = ("content-type", "user-agent")
"""Headers HTTP allows once (aiohttp refuses a request that repeats one with 400, before any route)."""

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
plausible = st.sampled_from([CHANNEL, DM, USER, BOT_USER, TEAM, "1710000000.000100", "im", "channel", "messages",
                             "home", "app_mention", "message", "reset", f"<@{BOT_USER}> hi", "", "x" * 50])  # fmt: skip


def deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"elements": [value]}
    return value


# -- signed: a mention made garbage ------------------------------------------------------------------------
SENT_AS = {"type": str, "text": str, "user": str, "channel": str, "ts": str, "thread_ts": str, "subtype": str,
           "channel_type": str, "bot_id": str, "hidden": bool, "files": list, "user_team": str}  # fmt: skip
"""An app_mention's fields parley reads, and the type Slack sends each as."""
ENVELOPE_SENT_AS = {"event": dict, "team_id": str, "authorizations": list, "enterprise_id": str}
REQUIRED = ("type", "text", "user", "channel", "ts")


def wrong(kind: type) -> st.SearchStrategy[Any]:
    """A JSON value of another type than ``kind`` (None is absent, not wrong; a bool is no number here)."""
    return json_values.filter(lambda v: v is not None and (type(v) is not kind) and not (kind is str and v == ""))


@st.composite
def garbage_mentions(draw: st.DrawFn) -> dict[str, Any]:
    """A valid mention with one to three things made wrong: a field of the wrong type, a required one missing,
    a file of the wrong shape, nesting too deep, a string that is not Unicode."""
    body = envelope(mention(draw(st.text(min_size=1, max_size=20)), thread_ts=draw(st.sampled_from([None, "1.5"]))))
    body["event"] = {k: v for k, v in body["event"].items() if v is not None}
    for _ in range(draw(st.integers(1, 3))):
        event = body["event"] if isinstance(body["event"], dict) else None
        how = draw(st.sampled_from(["event field", "envelope field", "missing", "file", "deep", "surrogate"]))
        if event is None or how == "envelope field":
            name = draw(st.sampled_from(sorted(ENVELOPE_SENT_AS)))
            body[name] = draw(wrong(ENVELOPE_SENT_AS[name]))
        elif how == "event field":
            name = draw(st.sampled_from(sorted(SENT_AS)))
            event[name] = draw(wrong(SENT_AS[name]))
        elif how == "missing":
            event.pop(draw(st.sampled_from(REQUIRED)), None)
        elif how == "file":
            file = {"name": "a.txt", "mimetype": "text/plain", "size": 3, "url_private": "http://127.0.0.1:9/f"}
            field = draw(st.sampled_from(["name", "mimetype", "size", "url_private", "mode"]))
            event["files"] = [{**file, field: draw(wrong(int if field == "size" else str))}]
        elif how == "deep":
            event[draw(st.sampled_from(["blocks", "text", "message"]))] = deep(draw(st.integers(65, 400)))
        else:
            event["text"] = "garbage \ud800"
    return body


# -- signed: any shape, no message parley would answer ------------------------------------------------------
EVENT_TYPES = ["app_mention", "message", "app_home_opened", "app_context_changed", "assistant_thread_started",
               "assistant_thread_context_changed", "reaction_added", "member_joined_channel", "user_change",
               "channel_created", "function_executed", "tokens_revoked", "app_uninstalled"]  # fmt: skip
UNANSWERED_SUBTYPES = ["message_changed", "message_deleted", "channel_join", "bot_message", "assistant_app_thread"]
FIELD_NAMES = ["text", "user", "channel", "ts", "thread_ts", "channel_type", "bot_id", "hidden", "files", "tab",
               "team", "user_team", "message", "previous_message", "item", "assistant_thread", "context", "view",
               "blocks", "inputs", "function_execution_id", "bot_access_token", "event_ts", "enterprise"]  # fmt: skip
ENVELOPE_NAMES = ["token", "team_id", "api_app_id", "event_id", "event_time", "authorizations", "enterprise_id",
                  "is_ext_shared_channel", "context_team_id", "challenge", "team", "user", "channel", "enterprise",
                  "response_url", "response_urls", "view", "actions", "is_enterprise_install"]  # fmt: skip
values = json_values | plausible


@st.composite
def any_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(EVENT_TYPES) | st.text(max_size=10))
    event: dict[str, Any] = {"type": kind, **draw(st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=6))}
    if kind in ("app_mention", "message"):
        event["subtype"] = draw(st.sampled_from(UNANSWERED_SUBTYPES))  # never a message parley answers
    if draw(st.booleans()):
        thread = draw(st.dictionaries(st.sampled_from(["channel_id", "thread_ts", "context", "user_id"]), values))
        event["assistant_thread"] = thread
    return event


@st.composite
def any_bodies(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["event_callback", "url_verification", "ssl_check", "app_rate_limited",
                                 "block_actions", "view_submission", "shortcut"]) | st.text(max_size=8))  # fmt: skip
    body: dict[str, Any] = {"type": kind, **draw(st.dictionaries(st.sampled_from(ENVELOPE_NAMES), values, max_size=5))}
    if draw(st.integers(0, 4)):
        body["event"] = draw(any_events() | json_values)
    return body


# -- unsigned or forged -----------------------------------------------------------------------------------
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("éü€ж"), max_size=40)
HEADER_NAMES = ["X-Slack-Request-Timestamp", "X-Slack-Signature", "Content-Type", "Content-Encoding",
                "X-Slack-Retry-Num", "X-Slack-Retry-Reason", "Accept", "User-Agent", "X-Forwarded-For"]  # fmt: skip


def signature(raw: bytes, timestamp: str, secret: str = SECRET) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()


@st.composite
def unsigned_requests(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    body = draw(
        st.binary(max_size=300)
        | json_values.map(lambda v: json.dumps(v).encode())
        | garbage_mentions().map(lambda v: json.dumps(v).encode())
        | st.just(json.dumps(envelope(mention("forged"))).encode())
        | st.integers(500, 3000).map(lambda n: b"[" * n + b"]" * n)
    )
    now = int(time.time())
    timestamp = draw(
        st.sampled_from([str(now), str(now - 301), str(now + 400), "", "abc", "1e9", " " + str(now), "-1"])
        | st.integers(-(10**12), 10**12).map(str)
        | header_text
    )
    forgery = draw(st.sampled_from(["random", "wrong secret", "old", "other body", "none"]))
    headers = [("X-Slack-Request-Timestamp", timestamp)] if draw(st.integers(0, 5)) else []
    if forgery == "random":
        headers.append(("X-Slack-Signature", draw(header_text)))
    elif forgery == "wrong secret":
        headers.append(("X-Slack-Signature", signature(body, timestamp, "not-the-secret")))
    elif forgery == "old":  # rightly signed, five minutes and more ago
        old = str(now - draw(st.integers(301, 10**6)))
        headers = [("X-Slack-Request-Timestamp", old), ("X-Slack-Signature", signature(body, old))]
    elif forgery == "other body":
        headers.append(("X-Slack-Signature", signature(body + b" ", timestamp)))
    headers += draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_text), max_size=4))
    return body, headers


# -- the properties -----------------------------------------------------------------------------------------
@pytest.fixture
def config(fake: FakeOpenAI, prefix: str) -> Config:
    return make_config(fake.url, prefix, slack=SlackConfig(edit_interval=0.05, native_streaming=False))


def signed_headers(raw: bytes, content_type: str = "application/json") -> list[tuple[str, str]]:
    now = str(int(time.time()))
    return [("Content-Type", content_type), ("X-Slack-Request-Timestamp", now),
            ("X-Slack-Signature", signature(raw, now))]  # fmt: skip


class Fuzzing:
    """Sends each example from hypothesis's thread over the adapter's loop, and keeps what came back."""

    def __init__(self, running: Running, loop: asyncio.AbstractEventLoop) -> None:
        self._running = running
        self._loop = loop
        self.statuses: dict[int, int] = {}

    def send(self, raw: bytes, headers: list[tuple[str, str]]) -> tuple[int, str]:
        status, text = self._run(self._post(raw, headers))
        self.statuses[status] = self.statuses.get(status, 0) + 1
        return status, text

    async def _post(self, raw: bytes, headers: list[tuple[str, str]]) -> tuple[int, str]:
        async with self._running.session.post(self._running.url + "/slack/events", data=raw, headers=headers) as r:
            return r.status, await r.text()

    def _run(self, work: Coroutine[Any, Any, tuple[int, str]]) -> tuple[int, str]:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=60)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:300]}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def fuzz(running: Running, run: Callable[[Fuzzing], None]) -> Fuzzing:
    fuzzing = Fuzzing(running, asyncio.get_running_loop())
    await asyncio.to_thread(run, fuzzing)
    return fuzzing


async def answers_a_valid_mention_and_nothing_else(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, *, greetings: bool = False
) -> None:
    """A valid mention is answered, and nothing before it was (``greetings``: but for the agent view's greeting
    of a DM whose Messages tab opened, which a well-formed ``app_home_opened`` among the examples may be)."""
    await asyncio.sleep(0.5)  # listeners run after the ack: let the last examples' finish
    event = mention("a valid mention, at last")
    assert (await running.event(event))[0] == 200
    await until(lambda: any(m.text == "echo: a valid mention, at last" for m in slack.thread(CHANNEL, event["ts"])))
    assert [r["messages"][-1]["content"] for r in fake.requests] == ["a valid mention, at last"], "no model call else"
    posts = [call.params for call in slack.calls_to("chat.postMessage")]
    if greetings:
        posts = [post for post in posts if post.get("text") != SlackConfig().assistant_greeting]
    assert len(posts) == 1, ("no reply to garbage", posts)


async def test_signed_mentions_made_garbage_are_refused_or_ignored(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(FUZZ, max_examples=900)
    @given(garbage_mentions())
    def property(fuzzing: Fuzzing, body: dict[str, Any]) -> None:
        status, text = fuzzing.send(raw := json.dumps(body).encode(), signed_headers(raw))
        assert status == 200 or 400 <= status < 500, (status, text)

    fuzzing = await fuzz(running, lambda f: property(f))
    assert not tracebacks(caplog), tracebacks(caplog)
    assert fuzzing.statuses.get(400, 0) > 300, fuzzing.statuses
    await answers_a_valid_mention_and_nothing_else(running, slack, fake)
    assert not tracebacks(caplog), tracebacks(caplog)


async def test_signed_payloads_of_any_shape_never_fail(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(FUZZ, max_examples=700)
    @given(any_bodies() | json_values, st.booleans())
    def property(fuzzing: Fuzzing, body: Any, as_form: bool) -> None:
        if as_form:  # an interactive payload, or a form of fields
            fields = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {"payload": json.dumps(body)}
            raw, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        else:
            raw, content_type = json.dumps(body).encode(), "application/json"
        status, text = fuzzing.send(raw, signed_headers(raw, content_type))
        assert status == 200 or 400 <= status < 500, (status, text)

    await fuzz(running, lambda f: property(f))
    assert not tracebacks(caplog), tracebacks(caplog)
    await answers_a_valid_mention_and_nothing_else(running, slack, fake, greetings=True)
    assert not tracebacks(caplog), tracebacks(caplog)


async def test_unsigned_and_forged_requests_get_401(
    running: Running, slack: FakeSlack, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    @settings(FUZZ, max_examples=900)
    @given(unsigned_requests())
    def property(fuzzing: Fuzzing, request: tuple[bytes, list[tuple[str, str]]]) -> None:
        status, text = fuzzing.send(*request)
        names = [name.lower() for name, _ in request[1]]
        if any(names.count(name) > 1 for name in ONCE_ONLY):  # not HTTP: aiohttp answers before any route
            assert status == 400, (status, text)
        else:
            assert (status, json.loads(text)) == (401, REFUSED)

    await fuzz(running, lambda f: property(f))
    assert not tracebacks(caplog), tracebacks(caplog)
    await answers_a_valid_mention_and_nothing_else(running, slack, fake)
