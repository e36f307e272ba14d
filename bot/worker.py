"""A worker: takes queued jobs and has each platform's ``JobHandler`` answer them.

Up to ``[queue] concurrency`` jobs at once. Every ``reclaim_after / 3`` seconds it shows life on the jobs
it holds (so a long reply is never taken over from it), and every ``reclaim_after / 2`` it takes over the
jobs whose worker showed none for ``reclaim_after`` seconds. A job waits until its thread's earlier jobs
are finished (for at most ``reclaim_after * (max_attempts + 1)`` seconds, so a lost one never blocks its
thread for good). A handler that raises leaves its job queued, taken again after ``reclaim_after``;
after ``max_attempts`` tries the job becomes a dead letter and its thread is told. On stop nothing new
is taken; the jobs in hand get ``drain_seconds`` to finish and the rest are left to another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from bot.durable import JobTurn
from bot.jobs import Job, JobHandler
from bot.ledger import ReplyLedger
from bot.notices import GAVE_UP
from bot.trace import context_of

if TYPE_CHECKING:
    from bot.conversation import Conversation

log = logging.getLogger(__name__)

TAKE_BLOCK = 0.5
"""Seconds one read of the queue waits for a job at most (a stop is noticed within this)."""
ORDER_POLL = (0.02, 0.5)
"""The first and the longest pause while a job waits for its thread's earlier jobs in another process (one
finished in this process ends the pause at once)."""


class Worker:
    def __init__(self, conversation: Conversation, handlers: Mapping[str, JobHandler], consumer: str) -> None:
        self._conversation = conversation
        self._queue = conversation.queue
        self._config = conversation.config.queue
        self._handlers = dict(handlers)
        self.consumer = consumer
        self._running: dict[tuple[int, str], tuple[Job, asyncio.Task[None]]] = {}
        self._strangers: set[str] = set()

    @property
    def busy(self) -> int:
        """Jobs in hand."""
        return len(self._running)

    async def run(self, stop: asyncio.Event) -> None:
        """Answer jobs until ``stop`` is set, then drain (see the module's doc)."""
        try:
            await self._queue.ensure_groups(self._handlers)
        except (RedisError, OSError) as error:  # made when a read finds none
            log.warning("worker %s could not make the queue's consumer groups: %s", self.consumer, error)
        beating = asyncio.create_task(self._heartbeats())
        try:
            await self._take_until(stop)
        finally:
            try:
                await self._drain()
            finally:
                beating.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beating

    async def _take_until(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.create_task(stop.wait())
        next_reclaim, failures = 0.0, 0
        block = min(TAKE_BLOCK, self._config.reclaim_after / 3)
        try:
            while not stop.is_set():
                free = self._config.concurrency - len(self._running)
                if free <= 0:
                    tasks = [task for _, task in self._running.values()]
                    await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    jobs: list[Job] = []
                    if loop.time() >= next_reclaim:
                        jobs = await self._queue.reclaim(self.consumer, free, self._handlers)
                        next_reclaim = loop.time() + self._config.reclaim_after / 2
                    jobs = [job for job in jobs if (job.shard, job.id) not in self._running]
                    if len(jobs) < free:
                        jobs += await self._queue.take(self.consumer, free - len(jobs), block, self._handlers)
                    failures = 0
                except (RedisError, OSError) as error:
                    failures += 1
                    log.warning("worker %s cannot read the queue (%s): trying again", self.consumer, error)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopping), min(5.0, 0.1 * 2**failures))
                    continue
                for job in jobs:
                    self._start(job)
        finally:
            stopping.cancel()

    def _start(self, job: Job) -> None:
        if job.thread.platform not in self._handlers:
            if job.thread.platform not in self._strangers:
                self._strangers.add(job.thread.platform)
                log.warning("worker %s has no handler for %s jobs: left for another worker", self.consumer,
                            job.thread.platform)  # fmt: skip
            return
        key = (job.shard, job.id)
        task = asyncio.create_task(self._answer(job), context=context_of(job.trace))  # every line of it: its trace
        self._running[key] = (job, task)
        task.add_done_callback(lambda _: self._running.pop(key, None))

    async def _answer(self, job: Job) -> None:
        handler = self._handlers[job.thread.platform]
        limit = self._config.max_attempts
        log.info("answering job %s (%s #%d, attempt %d of %d)", job.id, job.thread, job.seq, job.attempt, limit)
        if job.attempt > limit:
            await self._give_up(job, handler, f"taken {limit} times and never finished (its workers stopped)")
            return
        try:
            await self._wait_turn(job)
            ledger = ReplyLedger(job.replies, partial(self._queue.record_reply, job), retrying=job.attempt > 1)
            turn = JobTurn(self._conversation, ledger)
            await handler.handle(job, turn)
        except Exception as error:
            log.exception("job %s (%s, attempt %d of %d) failed", job.id, job.thread, job.attempt, limit)
            if job.attempt >= limit:
                await self._give_up(job, handler, f"{type(error).__name__}: {error}"[:500])
            return  # else no more heartbeats (it leaves the jobs in hand): taken again after reclaim_after
        try:
            await self._queue.finish(job)
        except (RedisError, OSError) as error:
            log.warning("job %s was answered but could not be acknowledged (%s): it will be answered again, "
                        "replacing the same reply", job.id, error)  # fmt: skip
            return  # counted when it is finished
        self._conversation.metrics.ended(job.thread.platform, turn.end)

    async def _wait_turn(self, job: Job) -> None:
        """Until the thread's earlier jobs are finished, or long enough that one of them must be lost."""
        loop = asyncio.get_running_loop()
        patience = self._config.reclaim_after * (self._config.max_attempts + 1)
        deadline, pause, longest, seen = loop.time() + patience, *ORDER_POLL, -1
        while (done := await self._queue.done(job.thread)) < job.seq - 1:
            if done > seen:  # the thread moves on: a long backlog is not a lost job
                deadline, seen = loop.time() + patience, done
            if loop.time() >= deadline:
                log.warning("job %s (%s #%d) waited too long for #%d to finish: answering it now", job.id,
                            job.thread, job.seq, done + 1)  # fmt: skip
                return
            await self._queue.moved_on(job.thread, pause)
            pause = min(pause * 2, longest)

    async def _give_up(self, job: Job, handler: JobHandler, reason: str) -> None:
        """A dead letter: its thread moves on, and the notice replaces the reply its attempts began (if any)."""
        log.error("job %s (%s) is a dead letter: %s", job.id, job.thread, reason)
        try:
            job = replace(job, replies=await self._queue.replies(job))
            await self._queue.dead_letter(job, reason)
        except (RedisError, OSError) as error:
            log.warning("could not move job %s to the dead letters (%s): it stays queued", job.id, error)
            return
        self._conversation.metrics.message(job.thread.platform, "failed")
        # No longer this worker's: its heartbeat must not take the job's absence for a takeover and cancel the notice.
        self._running.pop((job.shard, job.id), None)
        try:
            await handler.tell(job, GAVE_UP)
        except Exception:
            log.exception("could not tell %s that job %s failed", job.thread, job.id)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._config.reclaim_after / 3)
            held = [job for job, task in self._running.values() if not task.done()]
            if not held:
                continue
            try:
                lost = await self._queue.heartbeat(self.consumer, held)
            except (RedisError, OSError) as error:
                log.warning("worker %s could not show life on its jobs: %s", self.consumer, error)
                continue
            for job in lost:
                log.warning("job %s was taken over by another worker: stopping it here", job.id)
                found = self._running.get((job.shard, job.id))
                if found is not None:
                    found[1].cancel()

    async def _drain(self) -> None:
        tasks = [task for _, task in self._running.values()]
        if not tasks:
            return
        log.info(
            "worker %s: %d jobs in hand get %.0fs to finish", self.consumer, len(tasks), self._config.drain_seconds
        )
        _, unfinished = await asyncio.wait(tasks, timeout=self._config.drain_seconds)
        for task in unfinished:
            task.cancel()
        if unfinished:
            log.warning("worker %s: %d jobs left unfinished for another worker", self.consumer, len(unfinished))
            await asyncio.gather(*unfinished, return_exceptions=True)
