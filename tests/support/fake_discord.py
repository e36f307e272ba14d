"""Loopback fake of Discord: the REST API and the gateway websocket, enough for the real discord.py client.

Runs an aiohttp server on 127.0.0.1 (random port) inside the test's own event loop::

    async with FakeDiscord() as fake:
        environ = fake.environ()  # DISCORD_BOT_TOKEN, DISCORD_API_URL, DISCORD_GATEWAY_URL
        ...  # start the adapter; await fake.wait_connected()
        mid = await fake.user_message(fake.general, fake.alice, f"{fake.mention} hello")
        await fake.wait_for(lambda: fake.bot_texts(mid) == ["echo: hello"])

One guild (``fake.guild``) with a text channel ``fake.general`` (and ``fake.random``),
users alice (Manage Channels through the "mods" role), bob (no role) and a bot
``otherbot``. Like Discord it echoes the bot's own messages as MESSAGE_CREATE,
gives a thread opened from a message that message's id, sends THREAD_CREATE,
answers RESUME with RESUMED on READY's ``resume_gateway_url``, and applies
``allowed_mentions`` to compute who a message would ping (``Sent.pinged``).

Faults: ``refuse_intents`` (close 4014 on IDENTIFY; ``identify_gate`` holds the answer until a
test sets it), ``drop()`` (close the socket with 4000, a resumable code; ``resume_gate`` holds the
answer to the RESUME that follows until a test sets it; ``refuse_resumes`` answers RESUME with Invalid
Session, so the client identifies afresh), ``go_silent()`` (stop
acknowledging heartbeats), ``rate_limit_edits`` (answer the next edits with 429, ``Via`` header and
JSON ``retry_after``, as Discord does), ``fail`` (answer the next matching REST call with a Discord
error: 403 50013, 404 10008, 400 50035...).
Users can also edit (``user_edit``: MESSAGE_UPDATE) and delete (``delete``: MESSAGE_DELETE) messages.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.support.fake_discord_world import EVERYONE_PERMISSIONS, DiscordWorld, Fault, Request, Sent, now, pinged

TOKEN = "fake-discord-bot-token.0123456789"
INTENT_REFUSED = 4014
RESUMABLE_CLOSE = 4000
SESSION = "fake-session"
PATIENCE = 30.0  # seconds a test waits for a side effect before it fails


class FakeDiscord(DiscordWorld):
    def __init__(self) -> None:
        super().__init__()
        self.intents = 0  # what the last IDENTIFY asked for
        self.requests: list[Request] = []
        self.unhandled: list[str] = []
        self.typing: list[str] = []
        self.interaction_answers: dict[str, list[dict[str, Any]]] = {}
        self.interaction_channels: dict[str, str] = {}
        self.command_syncs: list[tuple[str, list[dict[str, Any]]]] = []
        self.invalid_commands: list[str] = []  # why Discord would refuse the commands a sync uploaded
        self.gateway_paths: list[str] = []
        self.gateway_closes: list[int | None] = []  # the close code of each gateway connection that ended
        self.identifies = 0
        self.resumes = 0
        self.bad_resumes: list[dict[str, Any]] = []  # RESUMEs refused with Invalid Session (op 9)
        self.heartbeat_interval_ms = 41250
        self.heartbeats: list[tuple[Any, int]] = []  # (the sequence number sent, the last one dispatched)
        self._silent: web.WebSocketResponse | None = None
        self.refuse_intents = False
        self.identify_gate: asyncio.Event | None = None  # when set up, IDENTIFY is answered only once it is set
        self.resume_gate: asyncio.Event | None = None  # when set up, RESUME is answered only once it is set
        self.refuse_resumes = False  # answer RESUME with Invalid Session (op 9, not resumable), as for an expired one
        self.refuse_threads = False
        self.thread_race = False  # someone else opens the thread from the message just before the bot
        self.rate_limit_edits: list[float] = []
        self.faults: list[Fault] = []
        self.attachments: dict[str, tuple[str, bytes]] = {}
        self._seq = 0
        self._ws: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- lifecycle --------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        api = "/api/v10"
        routes = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("PUT", "/applications/{app}/commands", self._sync_commands),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._sync_commands),
            ("GET", "/channels/{channel}", self._get_channel),
            ("POST", "/channels/{channel}/messages", self._create_message),
            ("GET", "/channels/{channel}/messages", self._channel_messages),
            ("GET", "/channels/{channel}/messages/{message}", self._get_message),
            ("PATCH", "/channels/{channel}/messages/{message}", self._edit_message),
            ("POST", "/channels/{channel}/messages/{message}/threads", self._create_thread),
            ("POST", "/channels/{channel}/typing", self._typing),
            ("PUT", "/channels/{channel}/messages/{message}/reactions/{emoji}/@me", self._react),
            ("POST", "/interactions/{interaction}/{token}/callback", self._interaction_callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        app.router.add_get("/cdn/attachments/{id}/{name}", self._attachment)  # outside the API, as Discord's CDN is
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def cdn_url(self) -> str:
        """Where attachments' contents are served: not under the REST API (Discord's CDN is another host)."""
        return f"http://127.0.0.1:{self.port}/cdn"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def environ(self) -> dict[str, str]:
        return {"DISCORD_BOT_TOKEN": TOKEN, "DISCORD_API_URL": self.api_url, "DISCORD_GATEWAY_URL": self.gateway_url}

    # -- what a test does -------------------------------------------------------
    async def wait_connected(self) -> None:
        await asyncio.wait_for(self._connected.wait(), PATIENCE)

    @staticmethod
    async def wait_for(condition: Callable[[], bool], what: str = "") -> None:
        """Poll ``condition`` for up to PATIENCE seconds (a slow machine is no failure)."""
        deadline = time.monotonic() + PATIENCE
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {PATIENCE:.0f}s waiting for {what or condition}")
            await asyncio.sleep(0.02)

    async def user_message(
        self,
        channel_id: str,
        author: dict[str, Any],
        content: str,
        *,
        reply_to: str | None = None,
        ping: bool = True,
        kind: int = 0,
        files: Sequence[tuple[str, str, bytes]] = (),
    ) -> str:
        """A user (or another bot) writes in a channel, thread or DM, with ``files`` (name, content type,
        content) attached; returns the message id."""
        channel = self.channels[channel_id]
        await self._unarchive(channel)
        mentioned = {user for user in re.findall(r"<@!?(\d+)>", content)}
        payload = self._message(channel, author, content, kind=19 if reply_to and kind == 0 else kind)
        if reply_to is not None:
            referenced = self.messages[reply_to].payload
            payload["message_reference"] = {
                "type": 0,
                "message_id": reply_to,
                "channel_id": channel_id,
                "guild_id": channel.get("guild_id"),
            }
            payload["referenced_message"] = referenced
            if ping:
                mentioned.add(referenced["author"]["id"])
        payload["mentions"] = [u for u in (self.bot, self.alice, self.bob, self.otherbot) if u["id"] in mentioned]
        payload["mention_roles"] = re.findall(r"<@&(\d+)>", content)
        payload["attachments"] = [self._attach(name, media_type, data) for name, media_type, data in files]
        self.messages[payload["id"]] = Sent(payload, by_bot=False, versions=[content])
        await self.dispatch("MESSAGE_CREATE", payload)
        return str(payload["id"])

    async def click(self, message_id: str, user: dict[str, Any], custom_id: str) -> str:
        """A user clicks the button ``custom_id`` on a bot's message; returns the interaction id."""
        sent = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interaction(sent.channel_id, user, 3, data, message=sent.payload)

    async def submit(self, interaction_id: str, user: dict[str, Any], value: str) -> str:
        """A user fills in and sends the modal the bot answered ``interaction_id`` with; returns the new one."""
        [modal] = [a["data"] for a in self.interaction_answers[interaction_id] if a.get("type") == 9]
        inputs = [c for row in modal["components"] for c in row["components"]]
        components = [{"type": 1, "components": [{"type": 4, "custom_id": c["custom_id"], "value": value}]}
                      for c in inputs]  # fmt: skip
        channel_id = self.interaction_channels[interaction_id]
        return await self._interaction(channel_id, user, 5, {"custom_id": modal["custom_id"], "components": components})

    async def react(self, channel_id: str, message_id: str, user: dict[str, Any], emoji: str) -> None:
        """A user adds a reaction (a Unicode emoji) to a message."""
        channel = self.channels[channel_id]
        payload: dict[str, Any] = {"user_id": user["id"], "channel_id": channel_id, "message_id": message_id,
                                   "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0}  # fmt: skip
        if channel.get("guild_id"):
            payload["guild_id"] = channel["guild_id"]
            payload["member"] = {**self._member(user), "user": user}
        await self.dispatch("MESSAGE_REACTION_ADD", payload)

    async def slash(self, channel_id: str, user: dict[str, Any], sub: str, **options: str) -> str:
        """A user types ``/parley SUB key:value ...``; returns the interaction id."""
        return await self._deliver(self.slash_payload(channel_id, user, sub, **options))

    def slash_payload(self, channel_id: str, user: dict[str, Any], sub: str, **options: str) -> dict[str, Any]:
        """The INTERACTION_CREATE payload of ``/parley SUB key:value ...`` typed by ``user``."""
        data: dict[str, Any] = {
            "id": self._command_id(),
            "name": "parley",
            "type": 1,
            "options": [
                {
                    "name": sub,
                    "type": 1,
                    "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
                }
            ],
        }
        channel = self.channels[channel_id]
        if channel.get("guild_id"):
            data["guild_id"] = channel["guild_id"]
        return self.interaction_payload(channel_id, user, 2, data)

    async def _interaction(
        self, channel_id: str, user: dict[str, Any], kind: int, data: dict[str, Any], message: Any = None
    ) -> str:
        return await self._deliver(self.interaction_payload(channel_id, user, kind, data, message))

    async def _deliver(self, payload: dict[str, Any]) -> str:
        """Dispatch an interaction; its answers land in ``interaction_answers`` under its id."""
        interaction_id = str(payload["id"])
        self.interaction_answers[interaction_id] = []
        self.interaction_channels[interaction_id] = str(payload["channel_id"])
        await self.dispatch("INTERACTION_CREATE", payload)
        return interaction_id

    def interaction_payload(
        self, channel_id: str, user: dict[str, Any], kind: int, data: dict[str, Any], message: Any = None
    ) -> dict[str, Any]:
        """An INTERACTION_CREATE of ``kind`` (2: a command, 3: a button, 5: a modal sent) by ``user``."""
        channel = self.channels[channel_id]
        interaction_id = self.new_id()
        guild_id = channel.get("guild_id")
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": self.app_id,
            "type": kind,
            "token": f"interaction-token-{interaction_id}",
            "version": 1,
            "channel_id": channel_id,
            "channel": channel,
            "data": data,
            "app_permissions": str(EVERYONE_PERMISSIONS),
            "attachment_size_limit": 10 * 1024 * 1024,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id} if guild_id else {"1": user["id"]},
            "context": 0 if guild_id else 1,
        }
        if guild_id:
            payload["guild_id"] = guild_id
            payload["guild_locale"] = "en-US"
            payload["member"] = {**self._member(user), "user": user, "permissions": str(self.permissions(user))}
        else:
            payload["user"] = user
        if message is not None:
            payload["message"] = message
        return payload

    async def drop(self) -> None:
        """Close the gateway connection with a resumable code, as Discord does now and then."""
        assert self._ws is not None
        self._connected.clear()
        await self._ws.close(code=RESUMABLE_CLOSE, message=b"fake: reconnect")

    def fail(self, method: str, path: str, status: int, code: int, message: str) -> None:
        """Answer the next ``method`` call whose path ends with ``path`` (a regex) with this Discord error."""
        self.faults.append(Fault(method, path, status, code, message))

    async def user_edit(self, message_id: str, content: str) -> None:
        """The author edits their message: Discord sends MESSAGE_UPDATE with the whole message."""
        sent = self.messages[message_id]
        mentioned = set(re.findall(r"<@!?(\d+)>", content))
        sent.payload = {
            **sent.payload,
            "content": content,
            "edited_timestamp": now(),
            "mentions": [u for u in (self.bot, self.alice, self.bob, self.otherbot) if u["id"] in mentioned],
        }
        sent.versions.append(content)
        await self.dispatch("MESSAGE_UPDATE", sent.payload)

    async def archive(self, thread_id: str) -> None:
        """The thread archives itself after its auto-archive time (THREAD_UPDATE; clients drop it from cache)."""
        thread = self.channels[thread_id]
        thread["thread_metadata"] = {**thread["thread_metadata"], "archived": True, "archive_timestamp": now()}
        await self.dispatch("THREAD_UPDATE", thread)

    async def _unarchive(self, channel: dict[str, Any]) -> None:
        """A message sent in an archived (not locked) thread opens it again, as in Discord."""
        metadata = channel.get("thread_metadata")
        if metadata is not None and metadata["archived"]:
            channel["thread_metadata"] = {**metadata, "archived": False, "archive_timestamp": now()}
            await self.dispatch("THREAD_UPDATE", channel)

    async def delete(self, message_id: str) -> None:
        """Someone deletes a message (its author, or a moderator deleting the bot's)."""
        sent = self.messages.pop(message_id)
        data = {"id": message_id, "channel_id": sent.channel_id}
        if "guild_id" in sent.payload:
            data["guild_id"] = sent.payload["guild_id"]
        await self.dispatch("MESSAGE_DELETE", data)

    def edits(self) -> list[Request]:
        return [r for r in self.requests if r.method == "PATCH" and "/messages/" in r.path]

    # -- gateway ----------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        await self.wait_connected()
        assert self._ws is not None
        self._seq += 1
        await self._ws.send_str(json.dumps({"op": 0, "t": event, "s": self._seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.gateway_paths.append(request.path)
        self._ws = ws
        hello = {"heartbeat_interval": self.heartbeat_interval_ms}
        await ws.send_str(json.dumps({"op": 10, "d": hello, "s": None, "t": None}))
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            op = message.get("op")
            if op == 1:
                self.heartbeats.append((message["d"], self._seq))
                if ws is not self._silent:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                await self._identify(ws, message["d"])
            elif op == 6:
                await self._resume(ws, message["d"])
        self.gateway_closes.append(ws.close_code)
        if self._ws is ws:
            self._connected.clear()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identifies += 1
        self.intents = int(data["intents"])
        if self.identify_gate is not None:
            await asyncio.wait_for(self.identify_gate.wait(), PATIENCE)
        if self.refuse_intents:
            await ws.close(code=INTENT_REFUSED, message=b"Disallowed intent(s).")
            return
        assert data["token"] == TOKEN
        self._seq += 1
        ready = {
            "v": 10,
            "user": self.bot,
            "guilds": [{"id": self.guild, "unavailable": True}],
            "session_id": SESSION,
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume-gateway",
            "application": {"id": self.app_id, "flags": 0},
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": self._seq, "d": ready}))
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": self._guild()}))
        self._connected.set()

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        """RESUME as Discord checks it: this bot's token and session, a sequence number it has seen."""
        if self.resume_gate is not None:
            await asyncio.wait_for(self.resume_gate.wait(), PATIENCE)
        seq = data.get("seq")
        valid = data.get("token") == TOKEN and data.get("session_id") == SESSION
        if self.refuse_resumes or not valid or not isinstance(seq, int) or not 0 < seq <= self._seq:
            self.bad_resumes.append(data)
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))  # Invalid Session
            return
        self.resumes += 1
        self._seq += 1
        await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": self._seq, "d": {}}))
        self._connected.set()

    def go_silent(self) -> None:
        """Stop answering heartbeats on this connection (a zombie connection); the next one answers again."""
        self._silent = self._ws

    def _command_id(self) -> str:
        for _, commands in reversed(self.command_syncs):
            for command in commands:
                if command["name"] == "parley":
                    return str(command["id"])
        return self.new_id()

    # -- REST -------------------------------------------------------------------
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
        if fault is not None:
            self.faults.remove(fault)
            response: web.StreamResponse = self._json({"message": fault.message, "code": fault.code}, fault.status)
        else:
            response = await handler(request)
        if request.path.startswith(("/api/", "/cdn/")):
            self.requests.append(Request(request.method, request.path, body, response.status, time.monotonic()))
        return response

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # Exactly "application/json": discord.py reads any other content type (even with a charset) as text.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        data = json.loads(await request.read() or b"{}")
        assert isinstance(data, dict)
        return data

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {TOKEN}"

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unhandled.append(f"{request.method} {request.path}")
        return self._json({"message": "404: Not Found", "code": 0}, status=404)

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._json({"message": "401: Unauthorized", "code": 0}, status=401)
        return self._json({**self.bot, "verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "id": self.app_id,
                "name": "parley",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.alice,
                "verify_key": "0" * 64,
                "flags": 0,
                "bot": self.bot,
            }
        )

    async def _sync_commands(self, request: web.Request) -> web.Response:
        commands = json.loads(await request.read())
        problems = [problem for command in commands for problem in command_problems(command)]
        if problems:
            self.invalid_commands.extend(problems)
            return self._json({"message": "Invalid Form Body", "code": 50035, "errors": problems}, status=400)
        guild = request.match_info.get("guild")
        stored = [
            {
                **command,
                "id": self.new_id(),
                "application_id": self.app_id,
                "version": self.new_id(),
                "default_member_permissions": None,
                "type": command.get("type", 1),
                **({"guild_id": guild} if guild else {}),
            }
            for command in commands
        ]
        self.command_syncs.append((request.path, stored))
        return self._json(stored)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return self._json({"message": "Unknown Channel", "code": 10003}, status=404)
        return self._json(channel)

    async def _create_message(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["channel"])
        if channel is None:
            return self._json({"message": "Unknown Channel", "code": 10003}, status=404)
        self._later(self._unarchive(channel))
        body = await self._body(request)
        content = str(body.get("content", ""))
        if not content.strip() or len(content) > 2000:
            return self._json({"message": "Invalid Form Body", "code": 50035}, status=400)
        payload = self._message(channel, self.bot, content, kind=19 if body.get("message_reference") else 0)
        reply_author = None
        if body.get("message_reference"):
            reference = body["message_reference"]
            snowflakes = {k: str(v) for k, v in reference.items() if k.endswith("_id") and v is not None}
            payload["message_reference"] = {**reference, **snowflakes, "type": 0, "channel_id": channel["id"]}
            referenced = self.messages.get(str(reference["message_id"]))
            if referenced is not None:
                payload["referenced_message"] = referenced.payload
                reply_author = referenced.payload["author"]["id"]
        allowed = body.get("allowed_mentions")
        sent = Sent(payload, by_bot=True, versions=[content], allowed_mentions=[allowed])
        sent.components = list(body.get("components") or [])
        sent.pinged = pinged(content, allowed, reply_author)
        self.messages[payload["id"]] = sent
        self._later(self.dispatch("MESSAGE_CREATE", payload))  # Discord echoes the bot's own messages
        return self._json(payload)

    async def _channel_messages(self, request: web.Request) -> web.Response:
        """A channel's (or thread's) messages, newest first, ``limit`` (1 to 100, default 50) of them before
        ``before`` or after ``after``, as Discord answers (``after``: the oldest ones after it, still newest first)."""
        channel_id = request.match_info["channel"]
        if channel_id not in self.channels:
            return self._json({"message": "Unknown Channel", "code": 10003}, status=404)
        limit = int(request.query.get("limit", 50))
        if not 1 <= limit <= 100:
            return self._json({"message": "Invalid Form Body", "code": 50035}, status=400)
        found = sorted((m for m in self.messages.values() if m.channel_id == channel_id), key=lambda m: int(m.id))
        if "before" in request.query:
            found = [m for m in found if int(m.id) < int(request.query["before"])][-limit:]
        elif "after" in request.query:
            found = [m for m in found if int(m.id) > int(request.query["after"])][:limit]
        else:
            found = found[-limit:]
        return self._json([m.payload for m in reversed(found)])

    def _attach(self, name: str, media_type: str, data: bytes) -> dict[str, Any]:
        """An attachment as a message payload carries it; its URL serves the content (the CDN's part)."""
        attachment_id = self.new_id()
        self.attachments[attachment_id] = (media_type, data)
        url = f"{self.cdn_url}/attachments/{attachment_id}/{name}"
        return {"id": attachment_id, "filename": name, "size": len(data), "url": url, "proxy_url": url,
                "content_type": media_type}  # fmt: skip

    async def _attachment(self, request: web.Request) -> web.Response:
        found = self.attachments.get(request.match_info["id"])
        if found is None:
            return web.Response(status=404, text="Not Found")
        media_type, data = found
        return web.Response(body=data, content_type=media_type)

    async def _get_message(self, request: web.Request) -> web.Response:
        sent = self.messages.get(request.match_info["message"])
        if sent is None or sent.channel_id != request.match_info["channel"]:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        return self._json(sent.payload)

    async def _edit_message(self, request: web.Request) -> web.Response:
        sent = self.messages.get(request.match_info["message"])
        if sent is None or not sent.by_bot:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        if self.rate_limit_edits:
            retry_after = self.rate_limit_edits.pop(0)
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            headers = {"Via": "1.1 google", "Retry-After": str(retry_after), "X-RateLimit-Scope": "user"}
            return self._json(body, status=429, headers=headers)
        body = await self._body(request)
        content = str(body.get("content", sent.content))
        if not content.strip() or len(content) > 2000:
            return self._json({"message": "Invalid Form Body", "code": 50035}, status=400)
        sent.payload = {**sent.payload, "content": content, "edited_timestamp": now()}
        sent.versions.append(content)
        sent.allowed_mentions.append(body.get("allowed_mentions"))
        sent.pinged |= pinged(content, body.get("allowed_mentions"))
        if "components" in body:
            sent.components = list(body["components"] or [])
            sent.payload["components"] = sent.components
        return self._json(sent.payload)

    async def _react(self, request: web.Request) -> web.Response:
        sent = self.messages.get(request.match_info["message"])
        if sent is None or sent.channel_id != request.match_info["channel"]:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        sent.reactions.append(unquote(request.match_info["emoji"]))
        return web.Response(status=204)

    async def _create_thread(self, request: web.Request) -> web.Response:
        parent = self.channels[request.match_info["channel"]]
        message_id = request.match_info["message"]
        if message_id not in self.messages:
            return self._json({"message": "Unknown Message", "code": 10008}, status=404)
        if self.refuse_threads:
            return self._json({"message": "Missing Permissions", "code": 50013}, status=403)
        if self.thread_race:
            self.open_thread(parent["id"], "opened by a person", thread_id=message_id, owner=self.alice["id"])
        if message_id in self.channels:
            return self._json(
                {"message": "A thread has already been created for this message", "code": 160004}, status=400
            )
        body = await self._body(request)
        thread = self.open_thread(parent["id"], body["name"], thread_id=message_id, owner=self.app_id)
        thread["thread_metadata"]["auto_archive_duration"] = body.get("auto_archive_duration", 4320)
        self._later(self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}))
        return self._json(thread, status=201)

    async def _typing(self, request: web.Request) -> web.Response:
        self.typing.append(request.match_info["channel"])
        return web.Response(status=204)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction = request.match_info["interaction"]
        self.interaction_answers.setdefault(interaction, []).append(await self._body(request))
        return self._json({"interaction": {"id": interaction, "type": 2, "response_message_ephemeral": True}})

    async def _followup(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        interaction = token.removeprefix("interaction-token-")
        body = await self._body(request)
        self.interaction_answers.setdefault(interaction, []).append({"type": "followup", "data": body})
        channel = {"id": self.general, "guild_id": self.guild}
        payload = self._message(channel, self.bot, str(body.get("content", "")))
        payload["flags"] = body.get("flags", 0)
        payload["webhook_id"] = self.app_id
        return self._json(payload)

    def _later(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def command_problems(option: dict[str, Any], where: str = "") -> list[str]:
    """Discord's limits on a command or option (it answers 400 Invalid Form Body otherwise)."""
    where = f"{where}/{option.get('name')}"
    problems = []
    if not re.fullmatch(r"[-_a-z0-9]{1,32}", str(option.get("name", ""))):
        problems.append(f"{where}: name must be 1-32 lowercase letters, digits, - or _")
    if not 1 <= len(option.get("description", "")) <= 100:
        problems.append(f"{where}: description must be 1-100 characters")
    choices = option.get("choices") or []
    if len(choices) > 25 or len(option.get("options") or []) > 25:
        problems.append(f"{where}: at most 25 choices and 25 options")
    problems += [f"{where}: choice {c['name']!r} too long" for c in choices if len(c["name"]) > 100]
    for sub in option.get("options") or []:
        problems += command_problems(sub, where)
    return problems


__all__ = ["FakeDiscord", "Sent", "command_problems", "pinged"]
