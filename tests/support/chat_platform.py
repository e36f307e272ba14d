"""The test platform "chat" as a platform module, for ``parley run`` and ``parley worker`` as real processes.

``create`` is its ingress: ``POST /chat/events`` (JSON: thread, event, text) queues the message (200,
``{"queued": false}`` for a redelivery; 503 when Redis did not take it). ``create_handler`` answers each
job into a thread kept in Redis (``RedisThread``), so that a test can read what several processes posted.
``python -m tests.support.chat_platform ARGS`` runs the ``parley`` command with this platform added to
``parley run``'s platforms (token: ``CHAT_TEST_TOKEN``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

from aiohttp import web
from redis.asyncio import Redis

from bot.conversation import Conversation
from bot.jobs import Job, QueueUnavailable, Turn
from bot.messages import Author, IncomingMessage
from bot.sink import SinkLimits
from bot.threads import ThreadKey

TOKEN = "CHAT_TEST_TOKEN"


class RedisThread:
    """A reply sink whose messages live in Redis: ``{prefix}:test-thread:{thread}`` (hash id -> text)."""

    limits = SinkLimits(max_chars=3500, edit_interval=0.05)

    def __init__(self, redis: Redis, prefix: str, thread: ThreadKey) -> None:
        self._redis = redis
        self._key = f"{prefix}:test-thread:{thread}"

    async def post(self, text: str) -> str:
        message_id = str(await self._redis.incr(f"{self._key}:ids"))
        await self._redis.hset(self._key, message_id, text)
        await self._redis.rpush(f"{self._key}:writes", f"post {message_id}")
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        assert await self._redis.hexists(self._key, message_id), "edited a message never posted"
        await self._redis.hset(self._key, message_id, text)
        await self._redis.rpush(f"{self._key}:writes", f"edit {message_id}")


async def thread_texts(redis: Redis, prefix: str, thread: ThreadKey) -> list[str]:
    found = await redis.hgetall(f"{prefix}:test-thread:{thread}")
    return [found[key].decode() for key in sorted(found, key=int)]


async def thread_writes(redis: Redis, prefix: str, thread: ThreadKey) -> list[str]:
    return [write.decode() for write in await redis.lrange(f"{prefix}:test-thread:{thread}:writes", 0, -1)]


class RedisChatHandler:
    platform = "chat"

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def handle(self, job: Job, turn: Turn) -> None:
        await self._redis.rpush(f"{self._prefix}:test-handled", f"{job.id} {job.attempt}")
        active = f"{self._prefix}:test-active:{job.thread}"
        if await self._redis.incr(active) > 1:
            await self._redis.incr(f"{self._prefix}:test-overlaps")
        try:
            text, user = str(job.payload["text"]), str(job.payload["user"])
            message = IncomingMessage(job.thread, Author(user, "User"), text, job.event_id, True, False)
            await turn.answer(message, RedisThread(self._redis, self._prefix, job.thread))
        finally:
            await self._redis.decr(active)

    async def tell(self, job: Job, text: str) -> None:
        await RedisThread(self._redis, self._prefix, job.thread).post(text)


def create_handler(conversation: Conversation, environ: Mapping[str, str]) -> RedisChatHandler:
    return RedisChatHandler(conversation.queue.redis, conversation.config.redis_prefix)


class ChatIngress:
    name = "chat"

    def __init__(self, conversation: Conversation) -> None:
        self._conversation = conversation

    def mount(self, app: web.Application) -> None:
        app.router.add_post("/chat/events", self._event)

    async def _event(self, request: web.Request) -> web.Response:
        body = await request.json()
        thread = ThreadKey("chat", "W1", "C1", str(body["thread"]))
        try:
            queued = await self._conversation.enqueue(thread, str(body["event"]), {"text": body["text"], "user": "U1"})
        except QueueUnavailable:
            return web.json_response({"queued": False}, status=503)
        return web.json_response({"queued": queued})

    async def run(self) -> None:
        await asyncio.Event().wait()


def create(conversation: Conversation, environ: Mapping[str, str]) -> ChatIngress:
    return ChatIngress(conversation)


if __name__ == "__main__":
    from adapters import cli, run

    run.PLATFORMS["chat"] = run.Platform("tests.support.chat_platform", TOKEN)
    cli.main(sys.argv[1:])
