"""Discord's side: the tests' fake gateway and REST API, and a user who mentions the bot."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

from aiohttp import web

from bench.watch import Watch
from tests.support.fake_discord import FakeDiscord

_ID = re.compile(r"/\d{6,}")


class BenchDiscord(FakeDiscord):
    """FakeDiscord that tells a ``Watch`` every text the bot shows in a channel or thread."""

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch = watch

    async def _shown(self, request: web.Request, response: web.StreamResponse) -> None:
        if response.status < 300:
            body = json.loads(await request.read() or b"{}")
            if "content" in body:
                self.watch.saw(request.match_info["channel"], str(body["content"]))

    async def _create_message(self, request: web.Request) -> web.Response:
        response = await super()._create_message(request)
        await self._shown(request, response)
        return response

    async def _edit_message(self, request: web.Request) -> web.Response:
        response = await super()._edit_message(request)
        await self._shown(request, response)
        return response

    def calls_by_method(self, since: int) -> Counter[str]:
        """REST calls after the first ``since``, by method and route (ids written as {id})."""
        return Counter(f"{r.method} {_ID.sub('/{id}', r.path.removeprefix('/api/v10'))}" for r in self.requests[since:])


class DiscordUser:
    """Alice, mentioning the bot in #general (a new conversation) or in the thread made for one."""

    def __init__(self, discord: BenchDiscord) -> None:
        self.discord = discord

    async def say(self, text: str, thread: str | None) -> tuple[str, int, float]:
        """The conversation's key (the thread's id: the mention's id), the watch mark, the time sent."""
        channel = thread or self.discord.general
        mark = self.discord.watch.mark(thread) if thread else 0
        sent = time.monotonic()
        message_id = await self.discord.user_message(channel, self.discord.alice, f"{self.discord.mention} {text}")
        return thread or message_id, mark, sent

    async def close(self) -> None:
        return None
