"""Loopback fake of Slack's Web API and Socket Mode, recording every call.

Runs an aiohttp server on 127.0.0.1 (random port) in the test's event loop::

    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        slack.fail("chat.update", "msg_too_long")      # the next chat.update answers that error
        slack.rate_limit("chat.postMessage", retry_after=1)  # the next one answers 429
        ...
        assert slack.calls_to("chat.postMessage")[0].params["thread_ts"] == "..."

It parses the four request shapes slack_sdk sends (JSON, form, GET query, POST
with query parameters), keeps the messages posted and edited (``slack.messages``),
answers ``users.info`` from ``slack.users``, records what slash commands'
``response_url`` receives (``slack.responses``), and serves Socket Mode:
``apps.connections.open`` returns ``ws://.../link``, which sends ``hello``;
``await slack.socket_event(body)`` sends an ``events_api`` envelope and returns
once the client acknowledged it (``socket_gate``, when set up, holds each socket's opening until a test
sets it). Native streaming (``chat.startStream/appendStream/stopStream``)
is served when ``slack.streaming = "on"``: a stream needs a thread, in a channel a recipient
user and team, takes at most 12,000 characters a call, and ``slack.expire(ts)`` ends one as
Slack does after about 5 minutes; by default the methods answer ``unknown_method``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import WSMsgType, web

TEAM = "T0TEST"
TOO_LONG = 4000
"""Longer texts get msg_too_long, as bots see in practice (the documented 40,000 is not what happens)."""
BOT_USER = "U0PARLEY"
BOT_ID = "B0PARLEY"
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")
STREAM_CALL_CHARS = 12_000
"""The most markdown_text one streaming call takes."""


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    peer: int = 0
    """The client's port: calls with the same one came over one kept-alive connection."""


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    thread_ts: str | None
    edits: list[str] = field(default_factory=list)
    """Every text the message showed, in order (the first is the posted text)."""
    streaming: bool = False
    """Started with chat.startStream and not yet stopped (appendStream adds to it)."""
    user: str | None = None
    """A person's message (``FakeSlack.human``); None: parley posted it."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    """The Block Kit blocks of its last post or update (none: the text alone is shown)."""
    reactions: list[str] = field(default_factory=list)
    """Emoji names added with reactions.add, in order."""

    def as_api(self) -> dict[str, Any]:
        """The message as Slack's history methods show it."""
        shown: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        shown |= {"user": self.user} if self.user else {"user": BOT_USER, "bot_id": BOT_ID}
        if self.thread_ts:
            shown["thread_ts"] = self.thread_ts
        return shown


@dataclass
class Fault:
    status: int
    error: str
    retry_after: int | None = None


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, Message] = {}
        self.responses: list[dict[str, Any]] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.acks: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[str, str, str]] = {}
        """token -> (team, bot user, bot id) for auth.test; any other token is the default bot in TEAM."""
        self.files: dict[str, tuple[str, bytes]] = {}
        """File id -> (media type, content), downloadable at the file's url_private_download."""
        self.files_read_scope = True
        """False: downloads answer Slack's sign-in page (text/html), as for an app without files:read."""
        self.downloads: list[str | None] = []
        """The Authorization header of each download."""
        self.installation: dict[str, Any] | None = None
        """What oauth.v2.access answers (None: invalid_code)."""
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._refused_texts: dict[str, str] = {}
        """A text -> the error every write (post, update, stream call) containing it answers."""
        self._clock = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_gate: asyncio.Event | None = None
        """When set up, a Socket Mode websocket is accepted only once it is set."""
        self.connections = 0
        """Websockets opened so far (the newest one gets the envelopes)."""
        self.socket_closes: list[int | None] = []
        """The close code of each Socket Mode websocket that ended (1000: the app closed it normally)."""
        self._connected = asyncio.Event()
        self._acked: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.streaming: str | None = None
        """Native streaming: None answers its methods unknown_method (an older workspace, GovSlack);
        "on" serves them; any other value is the error chat.startStream answers (feature_not_enabled...)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    # -- set-up --------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{id}", self._response)
        app.router.add_get("/link", self._socket)
        app.router.add_get("/files-pri/{id}/{name}", self._download)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object | TracebackType | None) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        self._faults[method].extend(Fault(200, error) for _ in range(times))

    def refuse_text(self, text: str, error: str = "invalid_arguments") -> None:
        """From now on every chat.postMessage, chat.update or streaming call whose text contains ``text``
        answers ``{"ok": false, "error": error}``: a message that fails however often it is tried."""
        self._refused_texts[text] = error

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with Retry-After."""
        self._faults[method].extend(Fault(429, "ratelimited", retry_after) for _ in range(times))

    def delete(self, ts: str) -> None:
        """Someone deleted this message in Slack: chat.update on it answers message_not_found."""
        del self.messages[ts]

    def human(self, text: str, *, channel: str, user: str, ts: str, thread_ts: str | None = None) -> None:
        """A person wrote this in Slack (it shows in ``conversations.replies``)."""
        self.messages[ts] = Message(channel, ts, text, thread_ts, [text], user=user)

    def upload(self, name: str, media_type: str, data: bytes, *, size: int | None = None) -> dict[str, Any]:
        """A file someone shared: the file object a message event carries (``files``)."""
        file_id = f"F{len(self.files) + 1:08d}"
        self.files[file_id] = (media_type, data)
        url = f"{self.url}/files-pri/{TEAM}-{file_id}/{name}"
        return {"id": file_id, "name": name, "title": name, "mimetype": media_type, "filetype": name.rpartition(".")[2],
                "size": len(data) if size is None else size, "mode": "hosted", "url_private": url,
                "url_private_download": f"{url}?download=1"}  # fmt: skip

    async def _download(self, request: web.Request) -> web.Response:
        """A file's content for the bot token with files:read; Slack's sign-in page otherwise (status 200)."""
        auth = request.headers.get("Authorization")
        self.downloads.append(auth)
        found = self.files.get(request.match_info["id"].rpartition("-")[2])
        if not self.files_read_scope or not (auth or "").startswith("Bearer xox") or found is None:
            return web.Response(
                text="<!DOCTYPE html><html><body>Sign in to Slack</body></html>", content_type="text/html"
            )
        media_type, data = found
        return web.Response(body=data, content_type=media_type)

    def server_error(self, method: str, *, status: int = 503, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer a 5xx with an HTML page, as Slack's edge does."""
        self._faults[method].extend(Fault(status, "server_error") for _ in range(times))

    # -- what the tests read -------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def thread(self, channel: str, thread_ts: str | None) -> list[Message]:
        """The messages parley posted in a thread (None: top level of the channel), oldest first."""
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]

    # -- Web API --------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if raw:
            if request.content_type == "application/json":
                params.update(json.loads(raw))
            else:
                params.update(await request.post())
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):  # oauth.v2.access: the app's client id and secret
            client_id, _, client_secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            params |= {"client_id": client_id, "client_secret": client_secret}
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        peername = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.calls.append(Call(method, params, token, peer=peername[1] if peername else 0))
        if self._faults[method]:
            fault = self._faults[method].popleft()
            if fault.status >= 500:
                return web.Response(status=fault.status, text="<html>Slack is down</html>", content_type="text/html")
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.json_response({"ok": False, "error": fault.error}, status=fault.status, headers=headers)
        written = str(params.get("text") or params.get("markdown_text") or "")
        refused = next((error for text, error in self._refused_texts.items() if text in written), None)
        if refused is not None and (method in ("chat.postMessage", "chat.update") or method in STREAM_METHODS):
            return web.json_response({"ok": False, "error": refused})
        if method in ("chat.postMessage", "chat.update") and len(str(params.get("text", ""))) > TOO_LONG:
            return web.json_response({"ok": False, "error": "msg_too_long"})
        if method in STREAM_METHODS and self.streaming != "on":
            error = "unknown_method" if self.streaming is None or method != "chat.startStream" else self.streaming
            return web.json_response({"ok": False, "error": error}, status=404 if error == "unknown_method" else 200)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        answer: dict[str, Any] = handler(params, token)
        return web.json_response(answer)

    def _auth_test(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        team, user, bot = self.tokens.get(token or "", (TEAM, BOT_USER, BOT_ID))
        return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "parley", "team_id": team,
                "user_id": user, "bot_id": bot, "is_enterprise_install": False}  # fmt: skip

    def _chat_postMessage(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        ts = f"1700000000.{next(self._clock):06d}"
        text, channel = str(params.get("text", "")), str(params["channel"])
        self.messages[ts] = Message(channel, ts, text, params.get("thread_ts"), [text])
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts, "bot_id": BOT_ID}}

    def _chat_update(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        message = self.messages.get(str(params.get("ts")))
        if message is None or message.channel != params.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        message.text = str(params.get("text", ""))
        message.edits.append(message.text)
        blocks = params.get("blocks")
        message.blocks = json.loads(blocks) if isinstance(blocks, str) else list(blocks or [])
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text}

    def _reactions_add(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        message = self.messages.get(str(params.get("timestamp")))
        if message is None or message.channel != params.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        name = str(params.get("name", ""))
        if name in message.reactions:
            return {"ok": False, "error": "already_reacted"}
        message.reactions.append(name)
        return {"ok": True}

    def _views_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = params.get("view")
        view = json.loads(view) if isinstance(view, str) else dict(view or {})
        return {"ok": True, "view": {"id": f"V{next(self._clock):08d}", **view}}

    def _chat_startStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        text, channel, thread_ts = str(params.get("markdown_text", "")), str(params["channel"]), params.get("thread_ts")
        if not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}
        if not channel.startswith("D") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_user_id"}  # channels need to know whom it streams to
        if len(text) > STREAM_CALL_CHARS:
            return {"ok": False, "error": "msg_too_long"}
        ts = f"1700000000.{next(self._clock):06d}"
        self.messages[ts] = Message(channel, ts, text, thread_ts, [text], streaming=True)
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_appendStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        message = self.messages.get(str(params.get("ts")))
        text = str(params.get("markdown_text", ""))
        if message is None or not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        if len(text) > STREAM_CALL_CHARS:
            return {"ok": False, "error": "msg_too_long"}
        message.text += text
        message.edits.append(message.text)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_stopStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        message = self.messages.get(str(params.get("ts")))
        if message is None or not message.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        if params.get("markdown_text"):
            message.text += str(params["markdown_text"])
            message.edits.append(message.text)
        message.streaming = False
        return {"ok": True, "channel": message.channel, "ts": message.ts, "message": {"text": message.text}}

    def expire(self, ts: str) -> None:
        """What Slack does to a stream after about 5 minutes: it ends; appending to it fails from then on."""
        self.messages[ts].streaming = False

    def _users_info(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        user = self.users.get(str(params.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _ok(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return {"ok": True}

    _assistant_threads_setStatus = _ok
    _assistant_threads_setSuggestedPrompts = _ok
    _assistant_threads_setTitle = _ok

    def _conversations_replies(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """A thread's parent and replies, oldest first, within ``oldest``/``latest`` (``inclusive``), a page at a
        time (``limit``, ``cursor``), as Slack answers."""
        root, channel = str(params.get("ts")), str(params.get("channel"))
        found = sorted(
            (m for m in self.messages.values() if m.channel == channel and root in (m.ts, m.thread_ts)),
            key=lambda m: _ts(m.ts),
        )
        if not found:
            return {"ok": False, "error": "thread_not_found"}
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        if params.get("latest"):
            latest = _ts(str(params["latest"]))
            found = [m for m in found if _ts(m.ts) < latest or (inclusive and _ts(m.ts) == latest)]
        if params.get("oldest"):
            oldest = _ts(str(params["oldest"]))
            found = [m for m in found if _ts(m.ts) > oldest or (inclusive and _ts(m.ts) == oldest)]
        start, limit = int(params.get("cursor") or 0), int(params.get("limit") or 1000)
        page, more = found[start : start + limit], start + limit < len(found)
        return {"ok": True, "messages": [m.as_api() for m in page], "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}  # fmt: skip

    def _oauth_v2_access(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if self.installation is None or params.get("code") != "good-code":
            return {"ok": False, "error": "invalid_code"}
        return {"ok": True, **self.installation}

    def _apps_connections_open(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    # -- Socket Mode ----------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        if self.socket_gate is not None:
            await asyncio.wait_for(self.socket_gate.wait(), 30)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        self.connections += 1
        self._connected.set()
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0TEST"}})
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                ack = json.loads(frame.data)
                self.acks.append(ack)
                if ack.get("envelope_id") in self._acked:
                    self._acked[ack["envelope_id"]].set()
        self.socket_closes.append(socket.close_code)
        self._sockets.remove(socket)
        if not self._sockets:
            self._connected.clear()
        return socket

    async def disconnect(self) -> None:
        """What Slack does every few hours: ``disconnect`` (refresh_requested), then the socket closes."""
        socket = self._sockets[-1]
        await socket.send_json({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}})
        await socket.close()

    async def wait_connected(self, limit: float = 30) -> None:
        async with asyncio.timeout(limit):
            await self._connected.wait()

    async def socket_event(
        self, payload: dict[str, Any], *, kind: str = "events_api", retry_attempt: int = 0, limit: float = 30
    ) -> dict[str, Any]:
        """Send one envelope to the connected app; return its ack."""
        await self.wait_connected(limit)
        envelope_id = str(uuid.uuid4())
        self._acked[envelope_id] = asyncio.Event()
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                                    "accepts_response_payload": kind != "events_api"}  # fmt: skip
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        await self._sockets[-1].send_json(envelope)
        async with asyncio.timeout(limit):
            await self._acked[envelope_id].wait()
        return next(ack for ack in self.acks if ack.get("envelope_id") == envelope_id)


def _ts(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction or 0)
