"""One bot on one platform, with its own fakes: the model, the platform, and a user who writes to the bot."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Self

from bench.bots import Bot, floor_bot, parley_bot
from bench.discord_side import BenchDiscord, DiscordUser
from bench.model import BenchModel, answer, question
from bench.slack_side import BenchSlack, SlackUser, slack_environ
from bench.watch import Reply, Watch
from tests.support.config import TEST_KEY


class Stage:
    """``async with Stage(...)``: fakes up, the bot started and warmed up; everything stopped at the end."""

    def __init__(
        self, kind: str, platform: str, *, redis_url: str, home: Path, parley: str, parley_env: dict[str, str]
    ) -> None:
        self.kind = kind
        self.platform = platform
        self.redis_url = redis_url
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.home = home
        self.parley = parley
        self.parley_env = parley_env
        self.watch = Watch()
        self.model = BenchModel()
        self.slack: BenchSlack | None = None
        self.discord: BenchDiscord | None = None
        self.user: SlackUser | DiscordUser
        self.bot: Bot
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        await self._stack.enter_async_context(self.model)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "REDIS_URL": self.redis_url,
            "PARLEY_REDIS_PREFIX": self.prefix,
            "PARLEY_DATA_DIR": str(self.home / "data"),
            "OPENAI_BASE_URL": self.model.url,
            "OPENAI_API_KEY": TEST_KEY,
        }
        if self.platform == "slack":
            self.slack = await self._stack.enter_async_context(BenchSlack(self.watch))
            env |= slack_environ(self.slack)
        else:
            self.discord = await self._stack.enter_async_context(BenchDiscord(self.watch))
            env |= self.discord.environ()
        if self.kind == "parley":
            self.bot = parley_bot(self.parley, self.platform, env | self.parley_env, self.home)
        else:
            self.bot = floor_bot(self.platform, env, self.home)
        await self.bot.start()
        self._stack.push_async_callback(self.bot.stop)
        if self.slack is not None:
            await self.bot.wait_listening()
            self.user = SlackUser(self.slack, self.bot.url)
        else:
            assert self.discord is not None
            await self.discord.wait_connected()
            self.user = DiscordUser(self.discord)
        self._stack.push_async_callback(self.user.close)
        for number in (1, 2):  # the first replies pay for start-up work (auth.test, the model's name...)
            reply = await self.ask(number, None, limit=60)
            if reply.complete is None:
                raise RuntimeError(f"{self.kind} on {self.platform} never answered the warm-up; log: {self.bot.log}")

    async def ask(self, number: int, thread: str | None, *, limit: float) -> Reply:
        """Mention the bot with question ``number`` (in ``thread``, or a new conversation) and wait for its answer."""
        return (await self.converse(number, thread, limit=limit))[2]

    async def converse(self, number: int, thread: str | None, *, limit: float) -> tuple[str, int, Reply]:
        key, mark, sent = await self.user.say(question(number), thread)
        reply = await self.watch.reply(key, mark, answer(number), sent, limit)
        return key, mark, reply

    def platform_calls(self) -> int:
        if self.slack is not None:
            return len(self.slack.calls)
        assert self.discord is not None
        return len(self.discord.requests)

    def calls_by_method(self, since: int) -> Counter[str]:
        if self.slack is not None:
            return self.slack.calls_by_method(since)
        assert self.discord is not None
        return self.discord.calls_by_method(since)
