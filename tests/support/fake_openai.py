"""Loopback fake of an OpenAI-compatible chat completions API, with fault injection.

Runs an aiohttp server on 127.0.0.1 (random port) inside the test's own event loop::

    async with FakeOpenAI() as fake:
        fake.queue(Reply("hello"), HTTPError(429, retry_after="1"), Stall())
        ...  # point the client under test at fake.url ("http://127.0.0.1:PORT/v1")
        assert fake.requests[0]["model"] == "..."

Each POST /v1/chat/completions consumes one queued behaviour (FIFO); with an empty
queue the answer is ``Reply(text="echo: <last user message>")``.

The same server is also an Azure OpenAI resource at ``fake.azure_url``:
``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` with an
``api-key`` header answers like the route above, once it has checked what Azure
checks: the api-version (missing: 404, unknown: 400), the key (401) and the
deployment (404 DeploymentNotFound). ``fake.paths`` records each request's path and query.

Behaviours are meant for streaming requests (``"stream": true``). For non-streaming
requests they do the nearest equivalent: Reply/Empty/NoDone answer a
``chat.completion`` object (NoDone with ``finish_reason: null``), Stall sends no
response at all until the server stops, Malformed sends a truncated JSON body and
Drop closes the connection before any response.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeAlias

from aiohttp import web

__all__ = [
    "Behaviour",
    "Drop",
    "Empty",
    "FakeOpenAI",
    "HTTPError",
    "Malformed",
    "NoDone",
    "RecordedHeaders",
    "Reply",
    "Stall",
]


@dataclass(frozen=True)
class Reply:
    """A normal answer; ``text`` may be a function of the request JSON."""

    text: str | Callable[[dict[str, Any]], str]
    chunk_size: int = 5
    delay: float = 0.0
    finish_reason: str = "stop"
    reasoning: str = ""
    """Sent before the text in ``reasoning_field`` (as DeepSeek, vLLM: reasoning_content; OpenRouter: reasoning)."""
    reasoning_field: str = "reasoning_content"


@dataclass(frozen=True)
class HTTPError:
    """An error status with OpenAI's error JSON body.

    With ``echo_key`` the message repeats the API key the client sent, as some
    proxies do ("Incorrect API key provided: <key>").
    """

    status: int
    message: str = "The fake upstream returned an error."
    retry_after: str | None = None
    echo_key: bool = False


@dataclass(frozen=True)
class Stall:
    """Stream ``text_before``, then send nothing more until the server stops.

    The client's read timeout should fire first; if it does not, ``stop()`` releases
    the handler and the response then ends without a finish chunk or [DONE].
    """

    text_before: str = "partial "


@dataclass(frozen=True)
class Malformed:
    """Stream ``text_before``, then an event whose data is not JSON, then end."""

    text_before: str = "partial "


@dataclass(frozen=True)
class Drop:
    """Stream ``text_before``, then abort the TCP connection mid-response."""

    text_before: str = "partial "


@dataclass(frozen=True)
class NoDone:
    """Stream ``text_before``, then end the response with no finish chunk, no [DONE]."""

    text_before: str = "partial "


@dataclass(frozen=True)
class Empty:
    """Role chunk, finish chunk ("stop") with no content, [DONE]."""


Behaviour: TypeAlias = Reply | HTTPError | Stall | Malformed | Drop | NoDone | Empty

AZURE_API_VERSIONS = ("2024-10-21", "2024-06-01", "2025-04-01-preview")
REASONING_MODEL = re.compile(r"o\d|gpt-5")
"""OpenAI's reasoning models, which answer 400 to ``max_tokens`` as the real API does."""
MALFORMED_EVENT = b'data: {"choices": [ {oops\n\n'
_TEXT_CHUNK = 5  # chunk size for text_before of the fault behaviours

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind, code = _ERROR_KINDS.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _content_text(content: Any) -> str:
    """Text of a message's content: a string or a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
    return ""


def _rough_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(4 + _rough_tokens(_content_text(m.get("content"))) for m in messages if isinstance(m, dict))


def _usage(body: dict[str, Any], completion: str) -> dict[str, int]:
    prompt = _prompt_tokens(body)
    done = _rough_tokens(completion)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": done,
        "total_tokens": prompt + done,
    }


def _chunks(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


class RecordedHeaders(dict[str, str]):
    """Request headers with lower-case keys; lookups ignore case.

    ``fake.headers[0]["Authorization"]`` and ``["authorization"]`` both work.
    A header sent several times is joined with ", ".
    """

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


def _record_headers(request: web.Request) -> RecordedHeaders:
    recorded = RecordedHeaders()
    for name, value in request.headers.items():
        key = name.lower()
        dict.__setitem__(recorded, key, f"{recorded[key]}, {value}" if key in recorded else value)
    return recorded


class _Stream:
    """Writes OpenAI chat.completion.chunk events to an aiohttp StreamResponse."""

    def __init__(self, response: web.StreamResponse, body: dict[str, Any]) -> None:
        self.response = response
        self.body = body
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = str(body.get("model", "fake-model"))

    async def raw(self, data: bytes) -> None:
        # aiohttp >= 3.14 deprecates StreamResponse.drain(): write() hands the bytes
        # to the transport at once (and drains itself past 64 KiB of backlog).
        await self.response.write(data)

    async def event(self, payload: dict[str, Any] | str) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        await self.raw(f"data: {data}\n\n".encode())

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }

    async def role(self) -> None:
        await self.event(self.chunk({"role": "assistant", "content": ""}))

    async def text(self, text: str, size: int = _TEXT_CHUNK, delay: float = 0.0, field: str = "content") -> None:
        for i, piece in enumerate(_chunks(text, size)):
            if i and delay > 0:
                await asyncio.sleep(delay)
            await self.event(self.chunk({field: piece}))

    async def finish(self, finish_reason: str, completion: str) -> None:
        await self.event(self.chunk({}, finish_reason))
        options = self.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            await self.event(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": _usage(self.body, completion),
                }
            )
        await self.event("[DONE]")


class FakeOpenAI:
    """Loopback OpenAI-compatible server. Use as `async with FakeOpenAI() as fake:`."""

    url: str
    requests: list[dict[str, Any]]
    headers: list[dict[str, str]]
    models: list[str]

    def __init__(self, models: list[str] | None = None) -> None:
        self.url = ""
        self.azure_url = ""
        self.requests = []
        self.headers = []
        self.paths: list[str] = []
        self.peers: list[object] = []
        """Each request's client address and port: the same twice means a connection was reused."""
        self.model_lists = 0
        """How many times ``GET /models`` was asked."""
        self.models = list(models) if models is not None else ["fake-model"]
        self.deployments = ["fake-deployment"]
        self.api_versions = list(AZURE_API_VERSIONS)
        self._queue: collections.deque[Behaviour] = collections.deque()
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._stalled: set[asyncio.Event] = set()
        self.hold: asyncio.Event | None = None
        """When set to an Event, every chat completion waits for it before answering (to count connections)."""
        self.hold_models: asyncio.Event | None = None
        """When set to an Event, ``GET /models`` waits for it before answering (a backend slow to list)."""
        self.in_flight = 0
        """Chat completions being answered now; ``peak_in_flight`` is the most there were at once."""
        self.peak_in_flight = 0

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._azure_chat_completions)
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=0.2,  # in-flight handlers get this long on stop()
            handler_cancellation=True,  # a client disconnect cancels its handler
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]  # (host, port) of the listening socket
        self.url = f"http://127.0.0.1:{port}/v1"
        self.azure_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        for event in list(self._stalled):
            event.set()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- scripting ---------------------------------------------------------

    def queue(self, *behaviours: Behaviour) -> None:
        """Script answers, consumed one per chat-completions request, FIFO."""
        self._queue.extend(behaviours)

    # -- handlers ----------------------------------------------------------

    async def _list_models(self, request: web.Request) -> web.Response:
        self.model_lists += 1
        if self.hold_models is not None:
            await self.hold_models.wait()
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models],
            }
        )

    async def _azure_chat_completions(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path_qs)
        version = request.query.get("api-version")
        if not version:
            return web.json_response({"error": {"code": "404", "message": "Resource not found"}}, status=404)
        if version not in self.api_versions:
            error = {"code": "BadRequest", "message": "API version not supported"}
            return web.json_response({"error": error}, status=400)
        if not request.headers.get("api-key"):
            message = (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
                "key for an active subscription and use a correct regional API endpoint for your resource."
            )
            return web.json_response({"error": {"code": "401", "message": message}}, status=401)
        if request.match_info["deployment"] not in self.deployments:
            message = (
                "The API deployment for this resource does not exist. If you created the deployment within the "
                "last 5 minutes, please wait a moment and try again."
            )
            return web.json_response({"error": {"code": "DeploymentNotFound", "message": message}}, status=404)
        return await self._chat_completions(request, deployment=request.match_info["deployment"])

    async def _chat_completions(self, request: web.Request, deployment: str | None = None) -> web.StreamResponse:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
            return await self._answer_chat(request, deployment)
        finally:
            self.in_flight -= 1

    async def _answer_chat(self, request: web.Request, deployment: str | None) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response(
                _error_body(400, "We could not parse the JSON body of your request."),
                status=400,
            )
        if deployment is not None:
            body.setdefault("model", deployment)
        if "max_tokens" in body and REASONING_MODEL.match(str(body.get("model", ""))):
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            error = {
                "message": message,
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            }
            return web.json_response({"error": error}, status=400)
        self.requests.append(body)
        self.headers.append(_record_headers(request))
        self.peers.append(request.transport.get_extra_info("peername") if request.transport else None)
        behaviour: Behaviour = self._queue.popleft() if self._queue else Reply(text=f"echo: {_last_user_text(body)}")
        if isinstance(behaviour, HTTPError):
            return self._http_error(request, behaviour)
        if body.get("stream") is True:
            return await self._stream(request, body, behaviour)
        return await self._complete(request, body, behaviour)

    def _http_error(self, request: web.Request, error: HTTPError) -> web.Response:
        message = error.message
        if error.echo_key:
            auth = request.headers.get("Authorization", "")
            key = auth[7:] if auth.lower().startswith("bearer ") else auth
            message = f"Incorrect API key provided: {key}. {message}"
        headers = {"Retry-After": error.retry_after} if error.retry_after is not None else None
        return web.json_response(_error_body(error.status, message), status=error.status, headers=headers)

    async def _stall(self) -> None:
        """Wait until stop() (or until the client goes away and we are cancelled)."""
        event = asyncio.Event()
        self._stalled.add(event)
        try:
            if not self._stopping.is_set():
                await event.wait()
        finally:
            self._stalled.discard(event)

    async def _stream(self, request: web.Request, body: dict[str, Any], behaviour: Behaviour) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await response.prepare(request)
        out = _Stream(response, body)
        await out.role()
        if isinstance(behaviour, Reply):
            text = behaviour.text(body) if callable(behaviour.text) else behaviour.text
            await out.text(behaviour.reasoning, behaviour.chunk_size, field=behaviour.reasoning_field)
            await out.text(text, behaviour.chunk_size, behaviour.delay)
            await out.finish(behaviour.finish_reason, text)
        elif isinstance(behaviour, Empty):
            await out.finish("stop", "")
        elif isinstance(behaviour, Stall):
            await out.text(behaviour.text_before)
            await self._stall()
        elif isinstance(behaviour, Malformed):
            await out.text(behaviour.text_before)
            await out.raw(MALFORMED_EVENT)
        elif isinstance(behaviour, Drop):
            await out.text(behaviour.text_before)
            self._abort(request)
            return response
        elif isinstance(behaviour, NoDone):
            await out.text(behaviour.text_before)
        await response.write_eof()
        return response

    async def _complete(self, request: web.Request, body: dict[str, Any], behaviour: Behaviour) -> web.StreamResponse:
        finish: str | None = "stop"
        message: dict[str, Any] = {"role": "assistant"}
        if isinstance(behaviour, Reply):
            if behaviour.reasoning:
                message[behaviour.reasoning_field] = behaviour.reasoning
            text = behaviour.text(body) if callable(behaviour.text) else behaviour.text
            finish = behaviour.finish_reason
        elif isinstance(behaviour, Empty):
            text = ""
        elif isinstance(behaviour, NoDone):
            text, finish = behaviour.text_before, None
        elif isinstance(behaviour, Stall):
            await self._stall()
            return web.json_response(_error_body(503, "The fake server is stopping."), status=503)
        elif isinstance(behaviour, Malformed):
            return web.Response(
                body=MALFORMED_EVENT[len(b"data: ") :].strip(),
                content_type="application/json",
            )
        elif isinstance(behaviour, Drop):
            self._abort(request)
            return web.Response()
        else:  # HTTPError is answered before we get here
            raise TypeError(f"unexpected behaviour {behaviour!r}")
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": str(body.get("model", "fake-model")),
                "choices": [
                    {
                        "index": 0,
                        "message": {**message, "content": text},
                        "finish_reason": finish,
                    }
                ],
                "usage": _usage(body, text),
            }
        )

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()
