"""A reply sink that streams into the page: server-sent events, one per post or edit of a message."""

from __future__ import annotations

import json

from aiohttp import web

from bot.api import SinkLimits

THINKING = "> _thinking…_\n"
LIMITS = SinkLimits(max_chars=100_000, edit_interval=0.05)
"""The page takes a long answer in one piece, and shows it as it is written."""


def apart(text: str) -> tuple[str, str]:
    """The reasoning the core quoted before the answer (shown apart), and the answer."""
    if not text.startswith(THINKING):
        return "", text
    quoted, _, answer = text.partition("\n\n")
    lines = quoted.removeprefix(THINKING).split("\n")
    return "\n".join(line.removeprefix("> ").removeprefix(">") for line in lines), answer


class EventSink:
    """``ReplySink`` over an open ``text/event-stream`` response: each message by id, reasoning apart."""

    def __init__(self, response: web.StreamResponse, pane: str) -> None:
        self._response = response
        self._pane = pane
        self._count = 0

    @property
    def limits(self) -> SinkLimits:
        return LIMITS

    async def post(self, text: str) -> str:
        self._count += 1
        message_id = f"{self._pane}-{self._count}"
        await self._send(message_id, text)
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        await self._send(message_id, text)

    async def _send(self, message_id: str, text: str) -> None:
        reasoning, answer = apart(text)
        await send(self._response, "message", {"pane": self._pane, "id": message_id, "text": answer,
                                                "reasoning": reasoning})  # fmt: skip


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    return response


async def send(response: web.StreamResponse, event: str, data: object) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
