"""Rate budgets shared by a channel's replies, and a reply's last edit sent at once: on a fake clock.

Nothing here is timed: a fake clock's ``sleep`` records how long the streamer waited and moves the
clock on, so "the last edit went out before any sleep" is an assertion about calls, not wall time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from bot.pacing import Pace, PaceBook, TokenBucket
from bot.sink import SinkLimits
from bot.streaming import ReplyStreamer
from tests.core.test_streaming import PLACEHOLDER, FakeClock, MemorySink


@dataclass
class SharedSink(MemorySink):
    """A sink whose writes take from a pace shared with other replies (a channel's)."""

    shared: Pace = field(default_factory=Pace)

    def pace(self) -> Pace:
        return self.shared


@dataclass
class StatusMemorySink(MemorySink):
    status: list[str] = field(default_factory=list)

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        self.status.append("on")
        try:
            yield
        finally:
            self.status.append("off")


class GateClock(FakeClock):
    """A fake clock whose sleeps wait for the test to ``release`` them (the grace timer)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await self.gate.wait()
        self.now += seconds

    async def release(self) -> None:
        self.gate.set()
        for _ in range(10):
            await asyncio.sleep(0)


# --- the buckets ---------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(per_second=2.0, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.wait() == 0
        bucket.take()
    assert bucket.wait() == pytest.approx(0.5)
    clock.advance(0.5)
    assert bucket.wait() == 0
    clock.advance(100)
    assert bucket.tokens() == 3, "never more than the burst"


def test_a_pause_empties_the_bucket_until_retry_after_has_passed() -> None:
    clock = FakeClock()
    bucket = TokenBucket(per_second=1.0, burst=3, clock=clock)
    bucket.pause(5)
    assert bucket.tokens() == 0
    assert bucket.wait() == pytest.approx(6.0), "5 s of Retry-After, then 1 s to refill one write"
    clock.advance(5)
    assert bucket.wait() == pytest.approx(1.0)


def test_a_zero_interval_is_no_limit() -> None:
    pace = Pace.every(0.0, 3, FakeClock())
    assert all(pace.try_take("edit", keep=1) for _ in range(1000))


def test_a_book_shares_buckets_by_name_and_forgets_full_ones() -> None:
    clock = FakeClock()
    book = PaceBook(clock, size=2)
    first = book.bucket("slack:C1", per_second=1, burst=2)
    assert book.bucket("slack:C1", per_second=1, burst=2) is first
    first.take()
    book.bucket("slack:C2", per_second=1, burst=2)
    book.bucket("slack:C3", per_second=1, burst=2)  # over size: C2 (full) is forgotten, C1 (in use) kept
    assert book.bucket("slack:C1", per_second=1, burst=2) is first
    book.pause("slack:C1", 3)
    assert first.tokens() == 0
    book.pause("slack:nowhere", 3)  # nothing writes there: nothing to slow


def test_edits_take_from_the_edit_budgets_too_posts_do_not() -> None:
    clock = FakeClock()
    channel = TokenBucket(per_second=1, burst=5, clock=clock)
    workspace = TokenBucket(per_second=1, burst=1, clock=clock)
    pace = Pace([channel], edits=[workspace])
    assert pace.try_take("edit")
    assert not pace.try_take("edit"), "the workspace's chat.update budget is spent"
    assert pace.try_take("post"), "a post is not a chat.update"


# --- the streamer --------------------------------------------------------------------------


async def test_the_last_edit_goes_out_at_once_when_the_budget_has_room() -> None:
    clock = FakeClock()
    sink = MemorySink(SinkLimits(2000, 1.0, None, edit_burst=3), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.feed("Hello")
    clock.advance(0.25)
    await streamer.feed(" world")
    assert sink.texts == ["Hello"], "mid-stream, edits keep edit_interval apart"
    await streamer.finish()
    assert clock.sleeps == [], "no sleep of edit_interval before the last edit"
    assert [(w.kind, w.text, w.at) for w in sink.writes] == [("post", "Hello", 0.0), ("edit", "Hello world", 0.25)]


async def test_the_last_edit_waits_only_when_the_channels_budget_is_spent() -> None:
    clock = FakeClock()
    shared = Pace.every(1.0, 2, clock)  # one channel: two writes at once, then one a second
    sinks = [SharedSink(SinkLimits(2000, 1.0, None), clock, shared=shared) for _ in range(2)]
    streamers = [ReplyStreamer(sink, clock=clock, sleep=clock.sleep) for sink in sinks]
    for streamer in streamers:
        await streamer.start()
        await streamer.feed("Hi")  # each reply's first post: the two writes of the burst
    clock.advance(0.25)
    for streamer in streamers:
        await streamer.feed(" there")
    await streamers[0].finish()
    assert clock.sleeps == [pytest.approx(0.75)], "spent: the first last edit waits for a write to refill"
    await streamers[1].finish()
    assert clock.sleeps[1] == pytest.approx(1.0), "and the second for the next one"
    assert [sink.texts for sink in sinks] == [["Hi there"], ["Hi there"]]


async def test_mid_stream_edits_keep_a_write_for_the_last_edit() -> None:
    clock = FakeClock()
    shared = Pace.every(1.0, 2, clock)
    sink = SharedSink(SinkLimits(2000, 0.0, None), clock, shared=shared)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    for piece in ["a", "b", "c", "d"]:
        await streamer.feed(piece)
    assert [w.text for w in sink.writes] == ["a"], "the second write of the burst is kept"
    await streamer.finish()
    assert clock.sleeps == []
    assert [w.text for w in sink.writes] == ["a", "abcd"]


async def test_a_429_slows_the_channel_for_its_retry_after() -> None:
    clock = FakeClock()
    book = PaceBook(clock)
    bucket = book.bucket("C1", per_second=1.0, burst=3)
    sink = SharedSink(SinkLimits(2000, 1.0, None), clock, shared=Pace([bucket]))
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.feed("Hello")
    book.pause("C1", 4.0)  # what the sink's client saw: 429 with Retry-After: 4
    clock.advance(2)
    await streamer.feed(" world")
    assert sink.texts == ["Hello"], "nothing more in the channel while it is slowed down"
    await streamer.finish()
    assert sum(clock.sleeps) == pytest.approx(3.0), "until 4 s after the 429, and one write's refill"
    assert sink.texts == ["Hello world"]


async def test_a_fast_answer_needs_no_placeholder_and_no_status() -> None:
    clock = GateClock()
    sink = StatusMemorySink(SinkLimits(2000, 1.0, PLACEHOLDER, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.feed("Quick answer.")
    assert await streamer.finish() == "Quick answer."
    await streamer.aclose()
    assert [(w.kind, w.text) for w in sink.writes] == [("post", "Quick answer.")]
    assert sink.status == [], "no status shown, none to clear"


async def test_after_the_grace_the_status_and_placeholder_are_shown() -> None:
    clock = GateClock()
    sink = StatusMemorySink(SinkLimits(2000, 1.0, PLACEHOLDER, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    assert sink.writes == [] and sink.status == []
    await clock.release()  # the grace passes with no text
    assert [(w.kind, w.text) for w in sink.writes] == [("post", PLACEHOLDER)]
    assert sink.status == ["on"]
    await streamer.feed("Slow answer.")
    await streamer.finish()
    assert [(w.kind, w.text) for w in sink.writes] == [("post", PLACEHOLDER), ("edit", "Slow answer.")]
    assert sink.status == ["on", "off"]
    assert clock.sleeps == [0.5]


async def test_a_failure_within_the_grace_posts_only_the_notice() -> None:
    clock = GateClock()
    sink = StatusMemorySink(SinkLimits(2000, 1.0, PLACEHOLDER, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.fail("The model is unavailable.")
    await streamer.aclose()
    assert sink.texts == ["The model is unavailable."] and sink.status == []


@dataclass
class CompleteMemorySink(MemorySink):
    """A sink that posts a complete message more cheaply (as Slack's one chat.postMessage beside a native stream)."""

    async def post_complete(self, text: str) -> str:
        message_id = f"m{len(self.messages) + 1}"
        self._record("complete", message_id, text)
        return message_id


async def test_a_reply_that_ends_within_the_grace_is_one_complete_post() -> None:
    clock = GateClock()
    sink = CompleteMemorySink(SinkLimits(2000, 1.0, None, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    for token in ["A quick ", "answer, ", "in three chunks."]:
        await streamer.feed(token)
    assert sink.writes == [], "the text waits for the grace (or the end)"
    assert await streamer.finish() == "A quick answer, in three chunks."
    await streamer.aclose()
    assert [(w.kind, w.text) for w in sink.writes] == [("complete", "A quick answer, in three chunks.")]


async def test_a_reply_still_written_when_the_grace_ends_is_shown_from_then_on() -> None:
    clock = GateClock()
    sink = CompleteMemorySink(SinkLimits(2000, 1.0, PLACEHOLDER, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.feed("A slow ")
    assert sink.writes == []
    await clock.release()  # the grace passes while the reply is written: its text so far, not the placeholder
    assert [(w.kind, w.text) for w in sink.writes] == [("post", "A slow ")]
    await streamer.feed("answer.")
    assert await streamer.finish() == "A slow answer."
    assert [(w.kind, w.text) for w in sink.writes] == [("post", "A slow "), ("edit", "A slow answer.")]


@dataclass
class GatedPostSink(CompleteMemorySink):
    """Its first post waits for the test: text keeps coming while the post is on its way."""

    posting: asyncio.Event = field(default_factory=asyncio.Event)

    async def post(self, text: str) -> str:
        await self.posting.wait()
        return await super().post(text)


async def test_text_that_comes_while_the_graces_post_is_on_its_way_waits_for_it() -> None:
    clock = GateClock()
    sink = GatedPostSink(SinkLimits(2000, 1.0, None, grace=0.5, edit_burst=3), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await streamer.feed("A slow ")
    await clock.release()  # the grace ends: the text so far is being posted
    async with asyncio.timeout(10):  # a feed that waited for the post would hang here
        await streamer.feed("answer, ")
        await streamer.feed("at last.")
    assert sink.writes == [], "no edit races the post"
    sink.posting.set()
    assert await streamer.finish() == "A slow answer, at last."
    assert [(w.kind, w.text) for w in sink.writes] == [("post", "A slow "), ("edit", "A slow answer, at last.")]


async def test_a_sink_that_posts_complete_messages_still_gets_the_placeholder_when_no_text_came() -> None:
    clock = GateClock()
    sink = CompleteMemorySink(SinkLimits(2000, 1.0, PLACEHOLDER, grace=0.5), clock)
    streamer = ReplyStreamer(sink, clock=clock, sleep=clock.sleep)
    await streamer.start()
    await clock.release()
    await streamer.feed("Slow answer.")
    await streamer.finish()
    assert [(w.kind, w.text) for w in sink.writes] == [("post", PLACEHOLDER), ("edit", "Slow answer.")]


def test_the_budgets_rate_is_one_write_per_edit_interval() -> None:
    clock = FakeClock()
    pace = Pace.every(1.5, 3, clock)
    assert [pace.try_take("edit") for _ in range(4)] == [True, True, True, False]
    clock.advance(1.5)
    assert pace.try_take("edit") and not pace.try_take("edit")
