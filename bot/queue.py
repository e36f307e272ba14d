"""The durable queue on Redis Streams: the data layer between accepting a message and answering it.

Nothing else builds these keys. Under the configured prefix:

- ``{prefix}:queue:{n}``  stream ``n`` of ``[queue] shards`` (a thread's shard: a stable hash of it), consumer
  group ``workers``; an entry is ``thread`` (JSON), ``event``, ``seq``, ``payload`` (JSON), ``trace`` (the message's
  trace id, ``bot/trace.py``; entries written before it have none), deleted once acked
- ``{prefix}:queue-streams``  set of the queue's stream names, read by ``status`` and ``gauges`` instead of a
  ``SCAN`` (``bot/queue_status.py``)
- ``{prefix}:queue-dead``  stream of dead letters: an entry's fields with ``entry``, ``attempts``, ``reason``, ``when``
- ``{prefix}:seq:{<thread>}``  the thread's last arrival number; ``{prefix}:done:{<thread>}`` the last one answered
- ``{prefix}:attempts:{<thread>}``  hash of entry id -> how many times a worker took it
- ``{prefix}:replies:{<thread>}:{entry}``  list of the platform message ids an entry's reply posted, in order

The thread's keys carry it in braces (a hash tag, as ``bot/store.py``'s thread keys do). Enqueue is one
script: the event's dedup marker (``{prefix}:event:{platform}:{event id}``), the thread's next number and
the stream entry, so that a message is either queued once or refused as a redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.config import QueueConfig
from bot.jobs import Job, QueueUnavailable
from bot.queue_scripts import CLOSE, ENQUEUE, HEARTBEAT, RETRY
from bot.queue_status import QueueStatus, by_platform, place_of_stream, read_status
from bot.store import thread_key
from bot.threads import ThreadKey
from bot.trace import current_trace, new_trace_id

GROUP = "workers"
ORDER_SECONDS = 7 * 86400
"""How long a quiet thread's arrival numbers are kept (refreshed by every message of the thread)."""
ENQUEUE_DELAYS = (0.05, 0.2, 0.5)
"""Pauses between the tries of an enqueue that Redis failed (a retry cannot queue a message twice)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    thread: str
    attempts: int
    reason: str
    when: float
    """Epoch seconds it was given up."""


class Queue:
    def __init__(self, redis: Redis, prefix: str, config: QueueConfig, dedup_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.config = config
        self._dedup_seconds = dedup_seconds
        self._enqueue = redis.register_script(ENQUEUE)
        self._close = redis.register_script(CLOSE)
        self._retry = redis.register_script(RETRY)
        self._heartbeat = redis.register_script(HEARTBEAT)
        self._moved: dict[ThreadKey, asyncio.Event] = {}

    # -- keys -------------------------------------------------------------------------
    def shard_of(self, thread: ThreadKey) -> int:
        return zlib.crc32(str(thread).encode()) % self.config.shards

    def stream(self, platform: str, shard: int) -> str:
        """One stream per platform and shard: a worker reads only the platforms it has handlers for."""
        return f"{self.prefix}:queue:{platform}:{shard}"

    @property
    def dead_stream(self) -> str:
        return f"{self.prefix}:queue-dead"

    @property
    def streams_key(self) -> str:
        """The set of the queue's stream names (``bot/queue_status.py``)."""
        return f"{self.prefix}:queue-streams"

    def _thread(self, kind: str, thread: ThreadKey) -> str:
        return thread_key(self.prefix, kind, thread)

    def _replies(self, job: Job) -> str:
        return f"{self._thread('replies', job.thread)}:{job.id}"

    # -- ingress ------------------------------------------------------------------------
    async def enqueue(
        self, thread: ThreadKey, event_id: str, payload: Mapping[str, Any], trace: str | None = None
    ) -> str | None:
        """Queue a new message: its entry id, or None for a redelivery of one seen before. ``trace``: the message's
        trace id (default: the current trace, else a new one). Raises ``QueueUnavailable`` when Redis did not take
        it (after a few quick tries)."""
        keys = [
            f"{self.prefix}:event:{thread.platform}:{event_id}",
            self._thread("seq", thread),
            self._thread("done", thread),
            self.stream(thread.platform, self.shard_of(thread)),
            self.streams_key,
        ]
        args: list[str | int] = [
            self._dedup_seconds,
            _thread_json(thread),
            event_id,
            json.dumps(payload),
            ORDER_SECONDS,
            uuid.uuid4().hex,
            trace or current_trace() or new_trace_id(),
        ]
        for delay in (*ENQUEUE_DELAYS, None):
            try:
                found = await self._enqueue(keys=keys, args=args)
                return None if found is None else _text(found)
            except (RedisError, OSError) as error:
                if delay is None:
                    raise QueueUnavailable(f"Redis did not take the message: {error}") from error
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    # -- workers -------------------------------------------------------------------------
    async def ensure_groups(self, platforms: Collection[str]) -> None:
        """The consumer group on every shard's stream of ``platforms`` (the streams made if need be), and the
        streams in the registry of streams (those an older parley made join it here)."""
        streams = [self.stream(platform, shard) for platform, shard in self._streams_of(platforms)]
        if streams:
            await self.redis.sadd(self.streams_key, *streams)
        for platform, shard in self._streams_of(platforms):
            try:
                await self.redis.xgroup_create(self.stream(platform, shard), GROUP, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def _streams_of(self, platforms: Collection[str]) -> list[tuple[str, int]]:
        return [(platform, shard) for platform in sorted(platforms) for shard in range(self.config.shards)]

    async def take(self, consumer: str, count: int, block: float, platforms: Collection[str]) -> list[Job]:
        """Up to about ``count`` new entries of ``platforms`` for ``consumer`` (``count`` split over their
        streams), waiting up to ``block`` seconds for one."""
        wanted = self._streams_of(platforms)
        if not wanted:
            return []
        streams: dict[Any, Any] = {self.stream(platform, shard): ">" for platform, shard in wanted}
        each = max(1, count // len(wanted))
        try:
            found = await self.redis.xreadgroup(GROUP, consumer, streams, count=each, block=max(1, int(block * 1000)))
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self.ensure_groups(platforms)
            return []
        read = cast(list[tuple[bytes, list[Any]]], found or [])
        entries = [(place_of_stream(stream), entry) for stream, items in read for entry in items]
        return await self._jobs(consumer, entries, platforms)

    async def reclaim(self, consumer: str, count: int, platforms: Collection[str]) -> list[Job]:
        """Up to ``count`` entries whose worker has not shown life for ``reclaim_after`` seconds, now ``consumer``'s."""
        idle = max(1, int(self.config.reclaim_after * 1000))
        entries: list[tuple[tuple[str, int], Any]] = []
        for platform, shard in self._streams_of(platforms):
            if len(entries) >= count:
                break
            try:
                answer = await self.redis.xautoclaim(
                    self.stream(platform, shard), GROUP, consumer, min_idle_time=idle, start_id="0-0",
                    count=count - len(entries),
                )  # fmt: skip
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                continue
            # Redis 6.2 answers [cursor, entries], 7 [cursor, entries, deleted ids]: only the first two are read.
            entries += [((platform, shard), entry) for entry in answer[1]]
        return await self._jobs(consumer, entries, platforms)

    async def _jobs(
        self, consumer: str, entries: Sequence[tuple[tuple[str, int], Any]], platforms: Collection[str]
    ) -> list[Job]:
        jobs: list[Job] = []
        gone: list[tuple[str, int, str]] = []
        for (platform, shard), (entry_id, fields) in entries:
            if entry_id is None:
                continue
            if not fields:  # deleted while pending (Redis 6.2 still lists it): nothing to answer
                gone.append((platform, shard, _text(entry_id)))
                continue
            jobs.append(_job(shard, _text(entry_id), fields))
        for platform, shard, entry_id in gone:
            await self.redis.xack(self.stream(platform, shard), GROUP, entry_id)
        counted = [job for job in jobs if job.thread.platform in platforms]
        if not counted:
            return jobs
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in counted:
                pipe.hincrby(self._thread("attempts", job.thread), job.id, 1)
                pipe.expire(self._thread("attempts", job.thread), ORDER_SECONDS)
                pipe.lrange(self._replies(job), 0, -1)
            answers = await pipe.execute()
        known = {
            (job.shard, job.id): (int(answers[3 * n]), tuple(_text(reply) for reply in answers[3 * n + 2]))
            for n, job in enumerate(counted)
        }
        return [_with(job, *known[job.shard, job.id]) if (job.shard, job.id) in known else job for job in jobs]

    async def heartbeat(self, consumer: str, jobs: Sequence[Job]) -> list[Job]:
        """Show ``consumer`` alive on its jobs; the jobs another worker has taken over meanwhile."""
        lost: list[Job] = []
        for platform, shard in sorted({(job.thread.platform, job.shard) for job in jobs}):
            mine = [job for job in jobs if (job.thread.platform, job.shard) == (platform, shard)]
            owned = {
                _text(found)
                for found in await self._heartbeat(
                    keys=[self.stream(platform, shard)], args=[consumer] + [job.id for job in mine]
                )
            }
            lost += [job for job in mine if job.id not in owned]
        return lost

    async def record_reply(self, job: Job, message_id: str) -> None:
        """A message the job's reply posted, recorded as soon as it exists (a later attempt edits it)."""
        key = self._replies(job)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, message_id)
            pipe.expire(key, ORDER_SECONDS)
            await pipe.execute()

    async def replies(self, job: Job) -> tuple[str, ...]:
        """The messages the job's reply posted so far, over all its attempts, oldest first."""
        return tuple(_text(reply) for reply in await self.redis.lrange(self._replies(job), 0, -1))

    async def done(self, thread: ThreadKey) -> int:
        """The arrival number of the thread's last finished job (0: none)."""
        found = await self.redis.get(self._thread("done", thread))
        return int(found) if found is not None else 0

    async def moved_on(self, thread: ThreadKey, longest: float) -> None:
        """Return when this process finishes a job of ``thread``, or after ``longest`` seconds (another
        process's progress is seen only by reading ``done`` again)."""
        moved = self._moved.setdefault(thread, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), longest)

    def _move_on(self, thread: ThreadKey) -> None:
        moved = self._moved.pop(thread, None)
        if moved is not None:
            moved.set()

    async def finish(self, job: Job) -> None:
        """The job is answered and its turn stored: its thread's order moves on, and it leaves the queue."""
        await self._close(keys=self._close_keys(job), args=[job.seq, job.id, ORDER_SECONDS])
        self._move_on(job.thread)

    async def dead_letter(self, job: Job, reason: str) -> None:
        """Give up on the job: into the dead letters, out of the queue, and its thread's order moves on."""
        fields = {
            "thread": _thread_json(job.thread),
            "event": job.event_id,
            "seq": str(job.seq),
            "payload": json.dumps(dict(job.payload)),
            "trace": job.trace,
            "entry": job.id,
            "attempts": str(job.attempt),
            "reason": reason,
            "when": f"{time.time():.3f}",
        }
        pairs = [item for pair in fields.items() for item in pair]
        keys = [*self._close_keys(job), self.dead_stream]
        await self._close(keys=keys, args=[job.seq, job.id, ORDER_SECONDS, *pairs])
        self._move_on(job.thread)

    def _close_keys(self, job: Job) -> list[str]:
        return [
            self._thread("done", job.thread),
            self._thread("seq", job.thread),
            self.stream(job.thread.platform, job.shard),
            self._thread("attempts", job.thread),
            self._replies(job),
        ]

    # -- the command line ----------------------------------------------------------------------
    async def status(self) -> QueueStatus:
        """Every stream in the registry of streams (no ``SCAN``): its depth, oldest age and pending entries per
        worker; and the dead letters. What ``parley queue status`` shows."""
        return await read_status(self.redis, self.streams_key, self.dead_stream, GROUP)

    async def gauges(self) -> tuple[dict[str, tuple[int, float]], int]:
        """For ``/metrics``: by platform, the entries not yet answered and the oldest one's age; the dead letters.
        One ``SMEMBERS`` and one pipeline, however many keys Redis holds."""
        status = await read_status(self.redis, self.streams_key, self.dead_stream, None)
        return by_platform(status), status.dead

    async def dead(self, limit: int = 1000) -> list[DeadLetter]:
        """The dead letters, oldest first."""
        found = cast(list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(self.dead_stream, count=limit))
        return [_dead_letter(_text(entry_id), fields) for entry_id, fields in found]

    async def retry(self, dead_id: str) -> str | None:
        """Queue a dead letter again (attempts from 0, last in its thread's order): its new entry id, or None
        when ``dead_id`` is not a dead letter."""
        try:
            found = cast(
                list[tuple[bytes, dict[bytes, bytes]]], await self.redis.xrange(self.dead_stream, dead_id, dead_id)
            )
        except ResponseError:  # not an entry id at all
            return None
        if not found:
            return None
        fields = {_text(key): _text(value) for key, value in found[0][1].items()}
        thread = _parse_thread(fields["thread"])
        stream = self.stream(thread.platform, self.shard_of(thread))
        keys = [self.dead_stream, self._thread("seq", thread), stream, self.streams_key]
        trace = fields.get("trace") or new_trace_id()
        args: list[str | int] = [dead_id, fields["thread"], fields["event"], fields["payload"], ORDER_SECONDS, trace]
        entry = await self._retry(keys=keys, args=args)
        return None if entry is None else _text(entry)


def _thread_json(thread: ThreadKey) -> str:
    return json.dumps([thread.platform, thread.workspace, thread.channel, thread.thread])


def _parse_thread(text: str) -> ThreadKey:
    platform, workspace, channel, thread = (str(part) for part in json.loads(text))
    return ThreadKey(platform, workspace, channel, thread)


def _job(shard: int, entry_id: str, raw: Mapping[bytes | str, bytes | str]) -> Job:
    fields = {_text(key): _text(value) for key, value in raw.items()}
    return Job(
        id=entry_id,
        thread=_parse_thread(fields["thread"]),
        event_id=fields["event"],
        payload=json.loads(fields["payload"]),
        attempt=0,
        seq=int(fields["seq"]),
        shard=shard,
        trace=fields.get("trace") or new_trace_id(),  # an entry queued before traces: a trace of its own
    )


def _with(job: Job, attempt: int, replies: tuple[str, ...]) -> Job:
    return replace(job, attempt=attempt, replies=replies)


def _dead_letter(entry_id: str, raw: Mapping[bytes, bytes]) -> DeadLetter:
    fields = {_text(key): _text(value) for key, value in raw.items()}
    thread = _parse_thread(fields["thread"])
    return DeadLetter(entry_id, str(thread), int(fields["attempts"]), fields["reason"], float(fields["when"]))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
