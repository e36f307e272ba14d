"""Loopback fake of Anthropic's Messages API (``POST /v1/messages``, ``GET /v1/models``), with fault injection.

Runs an aiohttp server on 127.0.0.1 (random port) inside the test's own event loop::

    async with FakeAnthropic() as fake:
        fake.queue(Reply("hello", thinking="Let me see."), HTTPError(529), ErrorEvent())
        ...  # point the client under test at fake.url ("http://127.0.0.1:PORT/v1")
        assert fake.requests[0]["system"] == "..."

It checks what the real API checks before answering: the ``x-api-key`` and
``anthropic-version`` headers (401 / 400), ``max_tokens`` present, a known
model (404 not_found_error), no ``system`` role inside ``messages``, turns that
alternate and start with the user, non-empty text, temperature within 0..1
(400 invalid_request_error). Each valid request consumes one queued behaviour
(FIFO); with an empty queue the answer is ``Reply("echo: <last user text>")``.

Streaming answers follow the real event order: message_start (with the input
token count), content_block_start, ping, content_block_delta..., content_block_stop,
message_delta (stop_reason and the output token count), message_stop.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
import uuid
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeAlias

from aiohttp import web

from tests.support.fake_openai import RecordedHeaders

__all__ = ["Drop", "ErrorEvent", "FakeAnthropic", "HTTPError", "NoStop", "Reply", "Stall"]


@dataclass(frozen=True)
class Reply:
    """A normal answer, optionally with a thinking block before the text."""

    text: str
    thinking: str = ""
    chunk_size: int = 5
    stop_reason: str = "end_turn"


@dataclass(frozen=True)
class HTTPError:
    """An error status with Anthropic's error body; the error type follows from the status."""

    status: int
    message: str = "The fake upstream returned an error."
    retry_after: str | None = None


@dataclass(frozen=True)
class ErrorEvent:
    """Stream ``text_before``, then an ``error`` event (as the API does when it overloads mid-answer)."""

    text_before: str = "partial "
    error_type: str = "overloaded_error"


@dataclass(frozen=True)
class Stall:
    """Stream ``text_before``, then nothing until the server stops."""

    text_before: str = "partial "


@dataclass(frozen=True)
class NoStop:
    """Stream ``text_before``, then end the response without message_delta or message_stop."""

    text_before: str = "partial "


@dataclass(frozen=True)
class Drop:
    """Stream ``text_before``, then abort the connection."""

    text_before: str = "partial "


Behaviour: TypeAlias = Reply | HTTPError | ErrorEvent | Stall | NoStop | Drop

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_{uuid.uuid4().hex[:20]}"}


def rough_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def input_tokens(body: dict[str, Any]) -> int:
    texts = [str(body.get("system") or "")] + [str(m.get("content", "")) for m in body.get("messages", [])]
    return sum(3 + rough_tokens(text) for text in texts)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _image_problem(content: Any, index: int) -> str | None:
    """What the API says of a malformed image block (base64 source, a media type it takes, valid data)."""
    for number, block in enumerate(content if isinstance(content, list) else []):
        if not isinstance(block, dict) or block.get("type") != "image":
            continue
        where = f"messages.{index}.content.{number}.image.source"
        source = block.get("source") or {}
        if source.get("type") != "base64":
            return f"{where}: only base64 sources are accepted here"
        if source.get("media_type") not in IMAGE_TYPES:
            return f"{where}.base64.media_type: Input should be {', '.join(IMAGE_TYPES)}"
        try:
            base64.b64decode(str(source.get("data")), validate=True)
        except ValueError:
            return f"{where}.base64.data: invalid base64"
    return None


def problem(body: dict[str, Any], models: list[str], context_window: int) -> tuple[int, str] | None:
    """What the real API would refuse in this request body, as (status, message)."""
    if not isinstance(body.get("max_tokens"), int):
        return 400, "max_tokens: Field required"
    if body.get("model") not in models:
        return 404, f"model: {body.get('model')}"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "messages: at least one message is required"
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            return 400, f'messages.{index}.role: Input should be "user" or "assistant"'
        if index == 0 and role != "user":
            return 400, "messages: first message must use the user role"
        if index and messages[index - 1].get("role") == role:
            return 400, "messages: roles must alternate between user and assistant"
        if not _text_of(message.get("content")).strip():
            return 400, f"messages.{index}: text content blocks must be non-empty"
        if found := _image_problem(message.get("content"), index):
            return 400, found
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        return 400, "temperature: range: 0..1"
    if temperature is not None and body.get("top_p") is not None:
        return 400, "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return 400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= body["max_tokens"]:
            return 400, "`max_tokens` must be greater than `thinking.budget_tokens`"
        if temperature not in (None, 1):
            return 400, "`temperature` may only be set to 1 when thinking is enabled"
    if input_tokens(body) > context_window:
        return 400, f"prompt is too long: {input_tokens(body)} tokens > {context_window} maximum"
    if input_tokens(body) + body["max_tokens"] > context_window:
        return 400, (
            f"input length and `max_tokens` exceed context limit: {input_tokens(body)} + {body['max_tokens']} > "
            f"{context_window}, decrease input length or `max_tokens` and try again"
        )
    return None


class _Events:
    """Writes the Messages API's server-sent events."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.index = 0

    async def send(self, name: str, data: dict[str, Any]) -> None:
        await self.response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

    async def start(self, body: dict[str, Any]) -> None:
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": body["model"],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens(body), "output_tokens": 1},
        }
        await self.send("message_start", {"type": "message_start", "message": message})

    async def block(self, kind: str, text: str, size: int, *, ping: bool = False) -> None:
        field, delta = ("thinking", "thinking_delta") if kind == "thinking" else ("text", "text_delta")
        await self.send(
            "content_block_start",
            {"type": "content_block_start", "index": self.index, "content_block": {"type": kind, field: ""}},
        )
        if ping:
            await self.send("ping", {"type": "ping"})
        for i in range(0, len(text), max(1, size)):
            piece = {"type": delta, field: text[i : i + size]}
            await self.send("content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": piece})
        if kind == "thinking":
            signature = {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrk"}
            event = {"type": "content_block_delta", "index": self.index, "delta": signature}
            await self.send("content_block_delta", event)
        await self.send("content_block_stop", {"type": "content_block_stop", "index": self.index})
        self.index += 1

    async def finish(self, stop_reason: str, output_tokens: int) -> None:
        await self.send(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        await self.send("message_stop", {"type": "message_stop"})


class FakeAnthropic:
    """Loopback Anthropic Messages API. Use as ``async with FakeAnthropic() as fake:``."""

    def __init__(self, models: list[str] | None = None) -> None:
        self.url = ""
        self.models = list(models) if models is not None else ["claude-fake-1"]
        self.context_window = 200_000
        self.api_key: str | None = None
        """When set, any other x-api-key is refused with 401, as the real API refuses a wrong key."""
        self.requests: list[dict[str, Any]] = []
        self.headers: list[RecordedHeaders] = []
        self._queue: collections.deque[Behaviour] = collections.deque()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._list_models)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._stopping.set()
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def queue(self, *behaviours: Behaviour) -> None:
        """Script answers, consumed one per valid POST /v1/messages, FIFO."""
        self._queue.extend(behaviours)

    # -- handlers ----------------------------------------------------------
    def _refusal(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-api-key")
        if not key:
            return self._error(401, "x-api-key header is required")
        if self.api_key is not None and key != self.api_key:
            return self._error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self._error(400, "anthropic-version: header is required")
        return None

    @staticmethod
    def _error(status: int, message: str, retry_after: str | None = None) -> web.Response:
        headers = {"retry-after": retry_after} if retry_after is not None else None
        return web.json_response(error_body(status, message), status=status, headers=headers)

    async def _list_models(self, request: web.Request) -> web.Response:
        if refused := self._refusal(request):
            return refused
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in self.models
        ]
        return web.json_response({"data": data, "has_more": False, "first_id": self.models[0], "last_id": None})

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._error(400, "There was an issue with the format of your request: invalid JSON")
        if not isinstance(body, dict):
            return self._error(400, "The request body is not a JSON object")
        self.requests.append(body)
        recorded = RecordedHeaders()
        for name, value in request.headers.items():
            dict.__setitem__(recorded, name.lower(), value)
        self.headers.append(recorded)
        if refused := self._refusal(request):
            return refused
        if found := problem(body, self.models, self.context_window):
            return self._error(*found)
        last_user = _text_of(body["messages"][-1].get("content"))
        behaviour = self._queue.popleft() if self._queue else Reply(f"echo: {last_user}")
        if isinstance(behaviour, HTTPError):
            return self._error(behaviour.status, behaviour.message, behaviour.retry_after)
        if body.get("stream") is True:
            return await self._stream(request, body, behaviour)
        return await self._whole(request, body, behaviour)

    async def _stream(self, request: web.Request, body: dict[str, Any], behaviour: Behaviour) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        events = _Events(response)
        await events.start(body)
        if isinstance(behaviour, Reply):
            if behaviour.thinking:
                await events.block("thinking", behaviour.thinking, behaviour.chunk_size, ping=True)
            await events.block("text", behaviour.text, behaviour.chunk_size, ping=not behaviour.thinking)
            completion = rough_tokens(behaviour.thinking) + rough_tokens(behaviour.text)
            await events.finish(behaviour.stop_reason, completion)
        elif isinstance(behaviour, ErrorEvent | Stall | NoStop | Drop):
            await events.send(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            if behaviour.text_before:
                delta = {"type": "text_delta", "text": behaviour.text_before}
                await events.send("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            if isinstance(behaviour, ErrorEvent):
                error = error_body(529, "Overloaded")
                error["error"]["type"] = behaviour.error_type
                await events.send("error", error)
            elif isinstance(behaviour, Stall):
                await self._stopping.wait()
            elif isinstance(behaviour, Drop):
                if request.transport is not None:
                    request.transport.abort()
                return response
        await response.write_eof()
        return response

    async def _whole(self, request: web.Request, body: dict[str, Any], behaviour: Behaviour) -> web.StreamResponse:
        if isinstance(behaviour, Stall):
            await self._stopping.wait()
            return self._error(529, "The fake server is stopping.")
        if isinstance(behaviour, Drop):
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        if isinstance(behaviour, ErrorEvent):
            return self._error(529, "Overloaded")
        text = behaviour.text if isinstance(behaviour, Reply) else behaviour.text_before
        content: list[dict[str, Any]] = []
        if isinstance(behaviour, Reply) and behaviour.thinking:
            content.append({"type": "thinking", "thinking": behaviour.thinking, "signature": "EqQBCgIYAhIM"})
        content.append({"type": "text", "text": text})
        return web.json_response(
            {
                "id": f"msg_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": behaviour.stop_reason if isinstance(behaviour, Reply) else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens(body), "output_tokens": rough_tokens(text)},
            }
        )
