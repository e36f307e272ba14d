"""The durable queue in one process: dedup, answering, order, dead letters, reclaim, drain."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from redis.asyncio import Redis

from bot.conversation import Conversation
from bot.ledger import ReplyLedger
from bot.notices import GAVE_UP
from bot.runtime import pooled_redis
from bot.store import Store
from bot.threads import ThreadKey
from tests.support.chat_jobs import ChatHandler, chat_thread, payload, running, until
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.recording_sink import RecordingSink

Make = Callable[..., Conversation]


@pytest_asyncio.fixture
async def make(core: Conversation, fake: FakeOpenAI, redis_url: str, redis: Redis, prefix: str) -> AsyncIterator[Make]:
    """The core with ``[queue]`` settings (reclaim_after 0.5 s unless given), on a pool that waits for a
    free connection as parley's does (``redis``: its clean-up removes the test's keys)."""
    client = pooled_redis(redis_url, 100)

    def conversation(**queue: object) -> Conversation:
        unlimited = {"user_per_minute": 0, "channel_per_minute": 0}  # one test user sends hundreds of messages
        config = make_config(fake.url, prefix, queue={"reclaim_after": 0.5, **queue}, rate_limits=unlimited)
        return Conversation(config=config, store=Store(client, prefix), backends=core.backends)

    yield conversation
    await client.aclose()


async def test_enqueue_takes_an_event_once(make: Make) -> None:
    core = make()
    thread = chat_thread()
    assert await core.enqueue(thread, "E1", payload("hello")) is True
    assert await core.enqueue(thread, "E1", payload("hello")) is False
    status = await core.queue.status()
    assert [shard.depth for shard in status.shards] == [1]


async def test_a_worker_answers_queued_messages_in_order_and_remembers_them(make: Make) -> None:
    core = make()
    thread, handler = chat_thread(), ChatHandler()
    for n in range(3):
        await core.enqueue(thread, f"E{n}", payload(f"message {n}"))
    async with running(core, {"chat": handler}):
        await until(lambda: len(handler.sink(thread).texts) == 3 and not handler.active.get(thread))
    assert handler.sink(thread).texts == ["echo: message 0", "echo: message 1", "echo: message 2"]
    status = await core.queue.status()
    assert status.shards[0].depth == 0 and status.dead == 0
    assert await core.has_history(thread)


def echo_slowly(body: dict[str, object]) -> str:
    messages = body["messages"]
    assert isinstance(messages, list)
    return f"echo: {messages[-1]['content']}"


async def test_three_workers_answer_each_message_once_in_its_threads_order(make: Make, fake: FakeOpenAI) -> None:
    core = make(concurrency=10, reclaim_after=3)
    fake.queue(*[Reply(echo_slowly, chunk_size=4, delay=0.005)] * 100)
    sinks: dict[ThreadKey, RecordingSink] = {}
    handlers = [ChatHandler(sinks) for _ in range(3)]
    threads = [chat_thread(f"t{n}") for n in range(20)]
    for turn in range(5):
        for thread in threads:
            assert await core.enqueue(thread, f"{thread.thread}-{turn}", payload(f"{thread.thread} #{turn}"))
    async with contextlib.AsyncExitStack() as workers:
        for number, handler in enumerate(handlers, start=1):
            await workers.enter_async_context(running(core, {"chat": handler}, f"w{number}"))
        await until(lambda: sum(len(sink.texts) for sink in sinks.values()) == 100)
    for thread in threads:
        assert sinks[thread].texts == [f"echo: {thread.thread} #{turn}" for turn in range(5)]
    handled = [job for handler in handlers for job in handler.handled]
    assert len(handled) == len({job_id for job_id, _ in handled}) == 100
    assert sum(handler.overlaps for handler in handlers) == 0
    assert all(len(handler.handled) > 0 for handler in handlers), "the work is shared"


async def test_a_poison_message_becomes_a_dead_letter_and_the_thread_is_told(make: Make, fake: FakeOpenAI) -> None:
    queued = make(max_attempts=2)
    poisoned, other, handler = chat_thread("poisoned"), chat_thread("other"), ChatHandler()
    await queued.enqueue(poisoned, "P1", payload("bad", poison=True))
    await queued.enqueue(poisoned, "P2", payload("after it"))
    await queued.enqueue(other, "O1", payload("fine"))
    async with running(queued, {"chat": handler}):
        await until(lambda: len(handler.sink(poisoned).texts) == 2)
    assert handler.sink(other).texts == ["echo: fine"]
    assert handler.sink(poisoned).texts == [GAVE_UP, "echo: after it"], "told, then the thread's next message"
    assert [attempt for _, attempt in handler.handled if _ == handler.told[0][0]] == [1, 2]
    status = await queued.queue.status()
    assert status.dead == 1 and status.shards[0].depth == 0
    [dead] = await queued.queue.dead()
    assert (dead.thread, dead.attempts) == (str(poisoned), 2)
    assert "poison message" in dead.reason

    assert await queued.queue.retry("1-1") is None, "not a dead letter"
    assert await queued.queue.retry("nonsense") is None
    again = await queued.queue.retry(dead.id)
    assert again is not None
    assert await queued.queue.dead() == []
    [job] = await queued.queue.take("w9", 10, 0.1, {"chat"})
    assert (job.id, job.attempt, job.payload["text"], job.seq) == (again, 1, "bad", 3)


async def test_a_job_whose_worker_vanished_is_finished_in_the_same_message(make: Make, fake: FakeOpenAI) -> None:
    queued, handler, thread = make(), ChatHandler(), chat_thread()
    await queued.enqueue(thread, "E1", payload("question"))
    await queued.queue.ensure_groups({"chat"})
    [taken] = await queued.queue.take("ghost", 1, 0.1, {"chat"})
    assert taken.attempt == 1
    partial = await handler.sink(thread).post("Answer about what-")  # then the ghost's process died
    await queued.queue.record_reply(taken, partial)
    async with running(queued, {"chat": handler}, "w2"):
        await until(lambda: handler.sink(thread).texts == ["echo: question"])
    assert handler.handled == [(taken.id, 2)]
    writes = handler.sink(thread).writes
    assert [write.kind for write in writes].count("post") == 1, "the ghost's post, edited into the answer"
    assert {write.message_id for write in writes} == {partial}
    assert (await queued.queue.status()).shards[0].depth == 0


async def test_stopping_lets_a_reply_finish_within_the_drain_time(make: Make, fake: FakeOpenAI) -> None:
    queued, handler, thread = make(), ChatHandler(), chat_thread()
    fake.queue(Reply("a slow but complete answer", chunk_size=2, delay=0.05))
    await queued.enqueue(thread, "E1", payload("question"))
    async with running(queued, {"chat": handler}) as stop:
        await until(lambda: bool(handler.sink(thread).texts))
        stop.set()
    assert handler.sink(thread).texts == ["a slow but complete answer"]
    assert (await queued.queue.status()).shards[0].depth == 0


async def test_a_reply_past_the_drain_time_is_left_to_another_worker(make: Make, fake: FakeOpenAI) -> None:
    queued = make(drain_seconds=0.1)
    handler, thread = ChatHandler(), chat_thread()
    fake.queue(Reply("a very slow answer that will not finish in time", chunk_size=2, delay=0.2))
    await queued.enqueue(thread, "E1", payload("question"))
    async with running(queued, {"chat": handler}, "w1") as stop:
        await until(lambda: bool(handler.sink(thread).texts))
        stop.set()
    status = await queued.queue.status()
    assert status.shards[0].pending == {"w1": 1}
    async with running(queued, {"chat": handler}, "w2"):
        await until(lambda: handler.sink(thread).texts == ["echo: question"])
    assert [write.kind for write in handler.sink(thread).writes].count("post") == 1


async def test_jobs_of_a_platform_without_a_handler_stay_queued(make: Make) -> None:
    core = make()
    stranger = ThreadKey("elsewhere", "W1", "C1", "t1")
    await core.enqueue(stranger, "E1", payload("hello"))
    async with running(core, {"chat": ChatHandler()}):
        await until(lambda: True)
        await asyncio.sleep(0.6)
    status = await core.queue.status()
    [waiting] = [shard for shard in status.shards if shard.platform == "elsewhere"]
    assert waiting.depth == 1 and waiting.pending == {}, "never taken by a worker that cannot answer it"
    handler = ChatHandler()
    async with running(core, {"elsewhere": handler}, consumer="w2"):  # a worker that can, answers it at once
        await until(lambda: handler.sink(stranger).texts == ["echo: hello"])


async def test_thread_keys_written_without_a_hash_tag_are_renamed_once(store: Store, prefix: str) -> None:
    thread = chat_thread()
    await store.redis.rpush(f"{prefix}:history:{thread}", '{"role": "user", "content": "hi"}')
    await store.redis.set(f"{prefix}:summary:{thread}", "earlier")
    assert not await store.has_history(thread)
    assert await store.migrate_keys() == 2
    assert await store.migrate_keys() == 0
    assert [message.content for message in await store.thread_messages(thread)] == ["hi"]
    assert await store.redis.get(f"{prefix}:summary:{{{thread}}}") == b"earlier"
    assert not await store.redis.exists(f"{prefix}:history:{thread}")


async def test_a_reply_ledger_edits_earlier_messages_and_records_new_ones() -> None:
    sink, recorded = RecordingSink(), list[str]()

    async def record(message_id: str) -> None:
        recorded.append(message_id)

    earlier = await sink.post("Answer about what-")
    ledger = ReplyLedger([earlier, "gone"], record)
    assert await ledger.post(sink, "Answer about what you asked.") == earlier
    second = await ledger.post(sink, "And more.")  # "gone" cannot be edited: a new message, recorded
    assert sink.texts == ["Answer about what you asked.", "And more."]
    assert recorded == [second]


async def test_a_reply_longer_than_reclaim_after_is_not_taken_from_its_live_worker(
    make: Make, fake: FakeOpenAI
) -> None:
    queued, thread = make(), chat_thread()
    sinks: dict[ThreadKey, RecordingSink] = {}
    first, second = ChatHandler(sinks), ChatHandler(sinks)
    fake.queue(Reply("an answer written over about two seconds", chunk_size=2, delay=0.1))
    await queued.enqueue(thread, "E1", payload("question"))
    async with running(queued, {"chat": first}, "w1"):
        await until(lambda: bool(first.handled))
        async with running(queued, {"chat": second}, "w2"):
            await until(lambda: sinks[thread].texts == ["an answer written over about two seconds"])
            await asyncio.sleep(1.0)  # two reclaim rounds of w2 after the reply ended
    assert (first.handled, second.handled) == ([(first.handled[0][0], 1)], [])
    assert [write.kind for write in sinks[thread].writes].count("post") == 1


async def test_shards_split_the_queue_by_thread(make: Make) -> None:
    queued, handler = make(shards=3), ChatHandler()
    threads = [chat_thread(f"t{n}") for n in range(12)]
    for each in threads:
        await queued.enqueue(each, f"{each.thread}-1", payload(f"{each.thread} #1"))
        await queued.enqueue(each, f"{each.thread}-2", payload(f"{each.thread} #2"))
    status = await queued.queue.status()
    assert [shard.shard for shard in status.shards] == [0, 1, 2]
    assert sum(shard.depth for shard in status.shards) == 24
    assert all(shard.depth > 0 for shard in status.shards), "12 threads spread over 3 streams"
    async with running(queued, {"chat": handler}):
        await until(lambda: sum(len(handler.sink(each).texts) for each in threads) == 24)
    for each in threads:
        assert handler.sink(each).texts == [f"echo: {each.thread} #1", f"echo: {each.thread} #2"]
    assert all(shard.depth == 0 for shard in (await queued.queue.status()).shards)
