"""The OpenAI fake speaks the real protocol: checked with real httpx + httpx_sse clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from httpx_sse import aconnect_sse

from bot.config import BackendConfig
from bot.llm.base import ChatRequest, Usage
from bot.llm.openai import OpenAIBackend
from bot.messages import ChatMessage
from tests.support.fake_openai import (
    Drop,
    Empty,
    FakeOpenAI,
    HTTPError,
    Malformed,
    NoDone,
    Reply,
    Stall,
)

pytestmark = pytest.mark.asyncio

KEY = "sk-test-0123456789abcdef"


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    timeout = httpx.Timeout(5.0)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as c:
        yield c


def chat(text: str = "hello", *, stream: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text},
        ],
        "stream": stream,
    }
    body.update(extra)
    return body


async def sse_data(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> list[str]:
    """POST a streaming request; return the data field of every SSE event."""
    async with aconnect_sse(client, "POST", f"{url}/chat/completions", json=body) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [event.data async for event in source.aiter_sse()]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def test_streaming_reply_reassembles_and_ends_with_done(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply("Hello, world! How are you?", chunk_size=4))
    data = await sse_data(client, fake.url, chat(stream_options={"include_usage": True}))

    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    for c in chunks:
        assert c["object"] == "chat.completion.chunk"
        assert c["id"].startswith("chatcmpl-")
        assert c["id"] == chunks[0]["id"]
        assert isinstance(c["created"], int)
        assert c["model"] == "gpt-test"

    first, *middle, finish, usage = chunks
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "finish_reason": None,
        }
    ]
    assert [c["choices"][0]["delta"]["content"] for c in middle] == [
        "Hell",
        "o, w",
        "orld",
        "! Ho",
        "w ar",
        "e yo",
        "u?",
    ]
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert content_of(chunks) == "Hello, world! How are you?"
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert usage["choices"] == []
    u = usage["usage"]
    assert u["prompt_tokens"] > 0 and u["completion_tokens"] > 0
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


async def test_streaming_without_include_usage_has_no_usage_chunk(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply("abc", finish_reason="length"))
    data = await sse_data(client, fake.url, chat())
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["choices"] for c in chunks)
    assert "usage" not in chunks[-1]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_request_and_headers_are_recorded(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    body = chat("record me", temperature=0.2)
    await sse_data(client, fake.url, body)
    assert fake.requests == [body]
    assert len(fake.headers) == 1
    headers = fake.headers[0]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "Content-Type" in headers
    assert headers.get("content-type") == "application/json"


async def test_reply_text_can_be_a_function_of_the_request(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply(lambda body: f"{len(body['messages'])} messages"))
    data = await sse_data(client, fake.url, chat())
    assert content_of([json.loads(d) for d in data[:-1]]) == "2 messages"


async def test_reply_delay_spaces_out_chunks(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply("abcdef", chunk_size=2, delay=0.05))
    started = time.monotonic()
    data = await sse_data(client, fake.url, chat())
    assert time.monotonic() - started >= 0.1  # two pauses between three chunks
    assert content_of([json.loads(d) for d in data[:-1]]) == "abcdef"


async def test_non_streaming_reply(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply("plain answer"))
    r = await client.post(f"{fake.url}/chat/completions", json=chat(stream=False))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    answer = r.json()
    assert answer["object"] == "chat.completion"
    assert answer["id"].startswith("chatcmpl-")
    assert answer["model"] == "gpt-test"
    choice = answer["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "plain answer"}
    assert choice["finish_reason"] == "stop"
    u = answer["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


async def test_http_error_429_with_retry_after(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(HTTPError(429, "Rate limit reached", retry_after="7"))
    async with aconnect_sse(client, "POST", f"{fake.url}/chat/completions", json=chat()) as source:
        r = source.response
        assert r.status_code == 429
        assert r.headers["retry-after"] == "7"
        assert r.headers["content-type"].startswith("application/json")
        await r.aread()
        error = r.json()["error"]
    assert error["message"] == "Rate limit reached"
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] is None
    assert error["code"] == "rate_limit_exceeded"


async def test_http_error_without_retry_after_has_no_header(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(HTTPError(500))
    r = await client.post(f"{fake.url}/chat/completions", json=chat(stream=False))
    assert r.status_code == 500
    assert "retry-after" not in r.headers
    assert r.json()["error"]["type"] == "server_error"


async def test_http_error_echo_key_puts_the_sent_key_in_the_body(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(HTTPError(401, echo_key=True), HTTPError(401))
    r = await client.post(f"{fake.url}/chat/completions", json=chat())
    assert r.status_code == 401
    assert f"Incorrect API key provided: {KEY}" in r.json()["error"]["message"]
    assert KEY in r.text
    r = await client.post(f"{fake.url}/chat/completions", json=chat())
    assert KEY not in r.text


async def test_stall_triggers_read_timeout(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Stall("half an "))
    seen: list[str] = []
    with pytest.raises(httpx.ReadTimeout):
        async with aconnect_sse(
            client, "POST", f"{fake.url}/chat/completions", json=chat(), timeout=httpx.Timeout(5.0, read=0.5)
        ) as source:
            async for event in source.aiter_sse():
                seen.append(event.data)
    assert content_of([json.loads(d) for d in seen]) == "half an "


async def test_stop_does_not_hang_on_a_stall_in_progress() -> None:
    fake = FakeOpenAI()
    await fake.start()
    fake.queue(Stall())
    async with httpx.AsyncClient(timeout=5.0) as c:
        seen: list[str] = []
        got_text = asyncio.Event()

        async def consume() -> None:
            async with aconnect_sse(c, "POST", f"{fake.url}/chat/completions", json=chat()) as source:
                async for event in source.aiter_sse():
                    seen.append(event.data)
                    if len(seen) == 3:
                        got_text.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_text.wait(), 2.0)
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 5, "stop() must not wait out aiohttp's 60 s shutdown timeout"
        # The stalled stream ends (cleanly or not) once the server has stopped.
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 2.0)
    assert "[DONE]" not in seen


async def test_malformed_sends_data_that_is_not_json(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Malformed())
    data = await sse_data(client, fake.url, chat())
    assert content_of([json.loads(d) for d in data[:-1]]) == "partial "
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[-1])
    assert "[DONE]" not in data


async def test_drop_kills_the_connection_mid_stream(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Drop("cut off "))
    seen: list[str] = []
    with pytest.raises(httpx.TransportError) as excinfo:
        async with aconnect_sse(client, "POST", f"{fake.url}/chat/completions", json=chat()) as source:
            assert source.response.status_code == 200
            async for event in source.aiter_sse():
                seen.append(event.data)
    # Observed with httpx 0.28.1: RemoteProtocolError ("incomplete chunked read").
    assert isinstance(excinfo.value, (httpx.RemoteProtocolError, httpx.ReadError))
    assert content_of([json.loads(d) for d in seen]) == "cut off "


async def test_no_done_ends_without_finish_or_done(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(NoDone("never finished"))
    data = await sse_data(client, fake.url, chat())
    assert "[DONE]" not in data
    chunks = [json.loads(d) for d in data]
    assert content_of(chunks) == "never finished"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


async def test_empty_has_no_content(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Empty())
    data = await sse_data(client, fake.url, chat())
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert content_of(chunks) == ""
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": "stop",
    }


async def test_queue_is_fifo_then_default_echo(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Reply("first"))
    fake.queue(Reply("second"), Reply("third"))
    answers = []
    for text in ("a", "b", "c", "what is up"):
        data = await sse_data(client, fake.url, chat(text))
        answers.append(content_of([json.loads(d) for d in data[:-1]]))
    r = await client.post(f"{fake.url}/chat/completions", json=chat("again", stream=False))
    answers.append(r.json()["choices"][0]["message"]["content"])
    assert answers == ["first", "second", "third", "echo: what is up", "echo: again"]
    assert [b["messages"][-1]["content"] for b in fake.requests] == [
        "a",
        "b",
        "c",
        "what is up",
        "again",
    ]


async def test_models_endpoint(client: httpx.AsyncClient) -> None:
    async with FakeOpenAI() as fake:
        r = await client.get(f"{fake.url}/models")
        assert r.status_code == 200
        assert r.json() == {
            "object": "list",
            "data": [
                {
                    "id": "fake-model",
                    "object": "model",
                    "created": 0,
                    "owned_by": "fake",
                }
            ],
        }
        fake.models = ["a", "b"]
        r = await client.get(f"{fake.url}/models")
        assert [m["id"] for m in r.json()["data"]] == ["a", "b"]


async def test_unknown_path_is_404_and_bad_json_is_400(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    r = await client.get(f"{fake.url}/nope")
    assert r.status_code == 404
    r = await client.post(
        f"{fake.url}/chat/completions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert fake.requests == []  # nothing recorded, no behaviour consumed


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (Stall(), httpx.ReadTimeout),
        (Drop(), httpx.RemoteProtocolError),
    ],
)
async def test_non_streaming_transport_faults(
    fake: FakeOpenAI,
    client: httpx.AsyncClient,
    behaviour: Stall | Drop,
    expected: type[Exception],
) -> None:
    fake.queue(behaviour)
    with pytest.raises(expected):
        await client.post(f"{fake.url}/chat/completions", json=chat(stream=False), timeout=httpx.Timeout(5.0, read=0.5))


async def test_non_streaming_malformed_and_no_done(fake: FakeOpenAI, client: httpx.AsyncClient) -> None:
    fake.queue(Malformed(), NoDone("cut"), Empty())
    url = f"{fake.url}/chat/completions"
    r = await client.post(url, json=chat(stream=False))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    choice = (await client.post(url, json=chat(stream=False))).json()["choices"][0]
    assert choice["message"]["content"] == "cut"
    assert choice["finish_reason"] is None
    choice = (await client.post(url, json=chat(stream=False))).json()["choices"][0]
    assert choice["message"]["content"] == ""
    assert choice["finish_reason"] == "stop"


async def test_the_backend_reports_the_usage_the_server_counted(fake: FakeOpenAI) -> None:
    backend = OpenAIBackend("fake", BackendConfig(base_url=fake.url, model="fake-model"), None)
    try:
        for stream in (True, False):
            fake.queue(Reply("one two three"))
            request = ChatRequest("fake-model", [ChatMessage("user", "count")], max_tokens=50, stream=stream)
            items = [item async for item in backend.generate(request)]
            text = "".join(item for item in items if isinstance(item, str))
            usage = [item for item in items if isinstance(item, Usage)]
            assert text == "one two three"
            assert len(usage) == 1 and usage[0].prompt_tokens > 0 and usage[0].completion_tokens > 0
            assert not usage[0].estimated
        assert fake.requests[0]["stream_options"] == {"include_usage": True}
        assert "stream_options" not in fake.requests[1]
    finally:
        await backend.aclose()


async def test_a_streamed_answer_leaves_its_connection_for_the_next_request(fake: FakeOpenAI) -> None:
    """The body is read to its end after [DONE]: the next request reuses the connection (no new TCP or TLS)."""
    backend = OpenAIBackend("fake", BackendConfig(base_url=fake.url, model="fake-model"), None)
    try:
        for _ in range(3):
            fake.queue(Reply("one two three", chunk_size=4))
            request = ChatRequest("fake-model", [ChatMessage("user", "count")], max_tokens=50, stream=True)
            items = [item async for item in backend.generate(request)]
            assert "".join(item for item in items if isinstance(item, str)) == "one two three"
        assert len(fake.peers) == 3 and fake.peers[0] is not None
        assert len(set(fake.peers)) == 1, "one connection for all three requests"
    finally:
        await backend.aclose()


async def test_a_backend_without_a_model_asks_the_server_once(fake: FakeOpenAI) -> None:
    backend = OpenAIBackend("fake", BackendConfig(base_url=fake.url), None)
    try:
        models = await asyncio.gather(*(backend.default_model() for _ in range(5)))
        assert models == ["fake-model"] * 5
        assert fake.model_lists == 1, "messages arriving together share one lookup"
    finally:
        await backend.aclose()
