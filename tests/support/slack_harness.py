"""The real Slack adapter on a loopback port, fed with signed Slack requests, talking to FakeSlack."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest_asyncio
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from adapters.http_server import listening
from adapters.slack import create
from bot.conversation import Conversation
from tests.support.fake_slack import BOT_USER, TEAM, FakeSlack
from tests.support.net import free_port

SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-0123456789"
APP_TOKEN = "xapp-test-0123456789"
USER = "U0USER"
ADMIN = "U0ADMIN"
CHANNEL = "C0GENERAL"
DM = "D0DIRECT"


async def until(
    check: Callable[[], bool | Awaitable[bool]], *, limit: float = 30, what: str = "the expected side effect"
) -> None:
    """Wait (generously) for something the adapter does after it acknowledged the event."""
    deadline = time.monotonic() + limit
    while not await _holds(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _holds(check: Callable[[], bool | Awaitable[bool]]) -> bool:
    result = check()
    return await result if inspect.isawaitable(result) else result


_ts = iter(range(1, 1_000_000))


def new_ts() -> str:
    return f"1710000000.{next(_ts):06d}"


def message(
    text: str,
    *,
    channel: str = CHANNEL,
    user: str | None = USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    type: str = "message",
    **extra: Any,
) -> dict[str, Any]:
    """A message event as Slack sends it (``type="app_mention"`` for the mention event)."""
    event: dict[str, Any] = {"type": type, "text": text, "channel": channel, "ts": ts or new_ts(), **extra}
    if user is not None:
        event["user"] = user
    if type == "message":
        event.setdefault("channel_type", "im" if channel.startswith("D") else "channel")
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event


def mention(text: str, **fields: Any) -> dict[str, Any]:
    return message(f"<@{BOT_USER}> {text}", type="app_mention", **fields)


def envelope(event: Mapping[str, Any], *, team: str = TEAM, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": "A0TEST",
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
    }


def signed_headers(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    if not secret:  # slack_sdk refuses an empty secret; a forger would not
        digest = hmac.new(b"", f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


@dataclass
class Running:
    url: str
    slack: FakeSlack
    session: aiohttp.ClientSession
    task: asyncio.Task[None]
    """The adapter's ``run()``, as ``parley run`` runs it."""
    worker: asyncio.Task[None]
    """The worker answering what the adapter queued, as ``parley run`` runs one beside it."""
    stopping: asyncio.Event

    async def stop(self) -> None:
        """What SIGTERM does to ``parley run``: cancel ``run()`` and stop the worker, and wait until both returned."""
        self.task.cancel()
        self.stopping.set()
        await asyncio.gather(self.task, self.worker, return_exceptions=True)

    async def post(self, path: str, body: str, headers: Mapping[str, str]) -> tuple[int, str]:
        async with self.session.post(self.url + path, data=body.encode(), headers=dict(headers)) as response:
            return response.status, await response.text()

    async def event(
        self,
        event: Mapping[str, Any],
        *,
        team: str = TEAM,
        event_id: str | None = None,
        retry: int | None = None,
        secret: str = SECRET,
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        """Deliver one Events API request, signed as Slack signs it."""
        body = json.dumps(envelope(event, team=team, event_id=event_id))
        return await self.raw(body, retry=retry, secret=secret, timestamp=timestamp)

    async def raw(
        self, body: str, *, retry: int | None = None, secret: str = SECRET, timestamp: int | None = None
    ) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", **signed_headers(body, secret=secret, timestamp=timestamp)}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post("/slack/events", body, headers)

    async def slash(self, text: str, *, user: str = USER, channel: str = CHANNEL, team: str = TEAM) -> tuple[int, str]:
        """A /parley invocation; its ephemeral answer lands in ``slack.responses``."""
        body = urlencode(slash_fields(text, self.slack, user=user, channel=channel, team=team))
        headers = {"Content-Type": "application/x-www-form-urlencoded", **signed_headers(body)}
        return await self.post("/slack/events", body, headers)

    async def answer_to(self, text: str, **fields: Any) -> str:
        """Run /parley and return the ephemeral answer it produced."""
        before = len(self.slack.responses)
        status, _ = await self.slash(text, **fields)
        assert status == 200
        await until(lambda: len(self.slack.responses) > before, what=f"the answer to /parley {text}")
        response = self.slack.responses[before]
        assert response["response_type"] == "ephemeral"
        return str(response["text"])


def slash_fields(text: str, slack: FakeSlack, *, user: str, channel: str, team: str) -> dict[str, str]:
    return {
        "command": "/parley",
        "text": text,
        "user_id": user,
        "user_name": user.lower(),
        "channel_id": channel,
        "team_id": team,
        "response_url": f"{slack.url}/response/{uuid.uuid4().hex}",
        "trigger_id": "1337.42",
        "api_app_id": "A0TEST",
    }


def slack_environ(slack: FakeSlack, **extra: str) -> dict[str, str]:
    """Tokens and the fake's URL; a variable given as "" is left out."""
    environ = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url, **extra}
    return {name: value for name, value in environ.items() if value}


@asynccontextmanager
async def serve_slack(
    core: Conversation, slack: FakeSlack, *, worker: bool = True, **extra_env: str
) -> AsyncIterator[Running]:
    """``create`` + ``mount`` + ``run`` as ``parley run slack`` does, on a loopback port, with a worker
    answering what it queues (``worker=False``: only the ingress, as ``parley run slack --ingress-only``)."""
    adapter = create(core, slack_environ(slack, **extra_env))
    app = web.Application()
    adapter.mount(app)
    port = free_port()
    async with listening(app, "127.0.0.1", port):
        task = asyncio.create_task(adapter.run())
        stopping = asyncio.Event()
        if worker:
            working = asyncio.create_task(
                core.worker({"slack": adapter.worker}, f"test-{uuid.uuid4().hex[:6]}").run(stopping)
            )
        else:
            working = asyncio.create_task(stopping.wait())
        try:
            async with aiohttp.ClientSession() as session:
                yield Running(f"http://127.0.0.1:{port}", slack, session, task, working, stopping)
        finally:
            stopping.set()
            task.cancel()
            await asyncio.gather(task, working, return_exceptions=True)


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """FakeSlack as it starts: one workspace, no faults (import it into a test module to use it)."""
    async with FakeSlack() as server:
        yield server


@pytest_asyncio.fixture
async def running(core: Conversation, slack: FakeSlack) -> AsyncIterator[Running]:
    """The adapter in HTTP mode on a loopback port, talking to ``slack``."""
    async with serve_slack(core, slack) as running:
        yield running
