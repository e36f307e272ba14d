"""Streaming a reply into a sink (pacing, splitting, failures), and keeping the turns of a thread in order.

The sink here is an in-memory stand-in for an adapter; time is a fake clock whose ``sleep`` only moves it on.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from dataclasses import dataclass, field

import pytest

from bot.ordering import ArrivalOrder
from bot.sink import SinkLimits
from bot.split import open_fence, split
from bot.streaming import ReplyStreamer
from bot.threads import ThreadKey

PLACEHOLDER = "…"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Write:
    kind: str
    message_id: str
    text: str
    at: float


@dataclass
class MemorySink:
    limits: SinkLimits
    clock: FakeClock
    messages: dict[str, str] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)

    def _record(self, kind: str, message_id: str, text: str) -> None:
        assert text.strip(), f"{kind} of an empty message"
        assert len(text) <= self.limits.max_chars, f"{kind} of {len(text)} characters"
        assert len(self.writes) < 1000, "runaway: far too many writes"
        self.messages[message_id] = text
        self.writes.append(Write(kind, message_id, text, self.clock.now))

    async def post(self, text: str) -> str:
        message_id = f"m{len(self.messages) + 1}"
        self._record("post", message_id, text)
        return message_id

    async def edit(self, message_id: str, text: str) -> None:
        assert message_id in self.messages, "edit of a message never posted"
        self._record("edit", message_id, text)

    @property
    def texts(self) -> list[str]:
        return list(self.messages.values())


def make(
    max_chars: int = 2000, edit_interval: float = 1.0, placeholder: str | None = PLACEHOLDER, edit_burst: int = 1
) -> tuple[ReplyStreamer, MemorySink, FakeClock]:
    """A streamer on a fake clock; its budget holds one write (every write waits out the interval) unless told."""
    clock = FakeClock()
    sink = MemorySink(SinkLimits(max_chars, edit_interval, placeholder, edit_burst=edit_burst), clock)
    return ReplyStreamer(sink, clock=clock, sleep=clock.sleep), sink, clock


def tokens(text: str, rng: random.Random) -> list[str]:
    out, at = [], 0
    while at < len(text):
        step = rng.randint(1, 8)
        out.append(text[at : at + step])
        at += step
    return out


async def stream(streamer: ReplyStreamer, clock: FakeClock, pieces: list[str], gap: float) -> str:
    await streamer.start()
    for piece in pieces:
        clock.advance(gap)
        await streamer.feed(piece)
    return await streamer.finish()


def assert_paced(sink: MemorySink, interval: float) -> None:
    edits = [w for w in sink.writes if w.kind == "edit"]
    for before, after in itertools.pairwise(edits):
        assert after.at - before.at >= interval - 1e-9, f"edits {after.at - before.at:.3f}s apart"
    for message_id in sink.messages:
        times = [w.at for w in sink.writes if w.message_id == message_id]
        for before_at, after_at in itertools.pairwise(times):
            assert after_at - before_at >= interval - 1e-9, f"{message_id} written {after_at - before_at:.3f}s apart"


def words(text: str) -> list[str]:
    return [w for w in re.split(r"\s+", text) if w and not re.fullmatch(r"(`{3,}|~{3,})\w*", w)]


REPLY = "\n\n".join(" ".join(f"p{p}w{w}" for w in range(random.Random(p).randint(5, 40))) for p in range(30))


# --- one message -------------------------------------------------------------------------------


async def test_placeholder_is_posted_first_and_replaced_by_the_reply() -> None:
    streamer, sink, clock = make()
    await streamer.start()
    assert [(w.kind, w.text) for w in sink.writes] == [("post", PLACEHOLDER)]
    for piece in ["Hello", ", ", "world", "!"]:
        clock.advance(0.4)
        await streamer.feed(piece)
    assert await streamer.finish() == "Hello, world!"
    assert sink.texts == ["Hello, world!"]
    assert [w.kind for w in sink.writes].count("post") == 1
    assert sink.writes[-1] == Write("edit", "m1", "Hello, world!", sink.writes[-1].at)


async def test_without_placeholder_the_first_text_is_posted() -> None:
    streamer, sink, clock = make(placeholder=None)
    await streamer.start()
    assert sink.writes == []
    await streamer.feed("Hi")
    assert [(w.kind, w.text) for w in sink.writes] == [("post", "Hi")]
    clock.advance(2)
    await streamer.feed(" there")
    await streamer.finish()
    assert sink.texts == ["Hi there"]


async def test_edits_are_never_closer_than_the_interval() -> None:
    streamer, sink, clock = make(edit_interval=1.0)
    pieces = tokens(REPLY[:1500], random.Random(1))
    full = await stream(streamer, clock, pieces, gap=0.07)
    assert full == REPLY[:1500]
    assert_paced(sink, 1.0)
    assert len([w for w in sink.writes if w.kind == "edit"]) >= 5, "the reply is shown while it is written"
    assert sink.texts == [REPLY[:1500]]


async def test_finish_waits_out_the_interval_before_the_last_edit() -> None:
    streamer, sink, clock = make(edit_interval=1.0, placeholder=None)
    await streamer.start()
    await streamer.feed("Hello")
    clock.advance(0.25)
    await streamer.feed(" world")
    assert sink.texts == ["Hello"], "too soon for an edit"
    await streamer.finish()
    assert clock.sleeps == [pytest.approx(0.75)]
    assert sink.writes[-1].at == pytest.approx(1.0)
    assert sink.texts == ["Hello world"]


async def test_no_wait_when_the_interval_has_passed() -> None:
    streamer, _, clock = make(edit_interval=1.0, placeholder=None)
    await streamer.start()
    await streamer.feed("Hello")
    clock.advance(5)
    await streamer.finish()
    assert clock.sleeps == []


async def test_zero_interval_edits_on_every_token() -> None:
    streamer, sink, clock = make(edit_interval=0.0)
    await stream(streamer, clock, ["a", "b", "c", "d"], gap=0.0)
    assert [w.text for w in sink.writes] == [PLACEHOLDER, "a", "ab", "abc", "abcd"]


async def test_unchanged_text_is_not_edited_again() -> None:
    streamer, sink, clock = make(edit_interval=0.0, placeholder=None)
    await stream(streamer, clock, ["a", "", "b"], gap=1.0)
    assert [w.text for w in sink.writes] == ["a", "ab"]


# --- long replies ------------------------------------------------------------------------------


@pytest.mark.parametrize("placeholder", [PLACEHOLDER, None])
async def test_a_long_reply_becomes_several_messages_within_the_limit(placeholder: str | None) -> None:
    streamer, sink, clock = make(max_chars=200, edit_interval=0.5, placeholder=placeholder)
    full = await stream(streamer, clock, tokens(REPLY, random.Random(2)), gap=0.05)
    assert full == REPLY, "finish returns the reply exactly as written"
    assert len(sink.texts) >= len(REPLY) // 200
    assert all(text.strip() and len(text) <= 200 for text in sink.texts)
    assert PLACEHOLDER not in sink.texts
    assert words(" ".join(sink.texts)) == words(REPLY), "every word shown once, in order"
    assert_paced(sink, 0.5)


async def test_one_huge_delta_is_split_too() -> None:
    streamer, sink, clock = make(max_chars=300, edit_interval=1.0)
    full = await stream(streamer, clock, [REPLY], gap=0.0)
    assert full == REPLY
    assert all(len(text) <= 300 for text in sink.texts)
    assert words(" ".join(sink.texts)) == words(REPLY)
    assert_paced(sink, 1.0)


async def test_a_long_code_block_is_split_with_closed_fences() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # line {i}" for i in range(60))
    reply = f"Here you go:\n\n```python\ndef main():\n{code}\n```\n\nDone."
    streamer, sink, clock = make(max_chars=400, edit_interval=0.3)
    await stream(streamer, clock, tokens(reply, random.Random(3)), gap=0.02)
    assert len(sink.texts) > 3
    assert all(open_fence(text) is None for text in sink.texts), sink.texts
    assert all(text.startswith("```python\n") for text in sink.texts[1:-1])
    assert words(" ".join(sink.texts)) == words(reply)
    shown_code = [line for text in sink.texts for line in text.split("\n") if "value_" in line]
    assert shown_code == [line for line in reply.split("\n") if "value_" in line], "indentation kept"


async def test_leading_blank_lines_longer_than_a_message_do_not_strand_the_placeholder() -> None:
    streamer, sink, clock = make(max_chars=100, edit_interval=0.0)
    await stream(streamer, clock, ["\n" * 150, "Hello there"], gap=1.0)
    assert sink.texts == ["Hello there"]
    assert [w.kind for w in sink.writes] == ["post", "edit"]


async def test_a_pathological_code_fence_still_finishes() -> None:
    streamer, sink, clock = make(max_chars=40, edit_interval=0.0)
    reply = "```python title=demo.py\n" + "x" * 200
    await asyncio.wait_for(stream(streamer, clock, [reply], gap=0.0), timeout=2)
    assert "".join(sink.texts).count("x") == 200


# --- failures and empty replies ----------------------------------------------------------------


async def test_fail_replaces_a_bare_placeholder() -> None:
    streamer, sink, clock = make(edit_interval=1.0)
    await streamer.start()
    clock.advance(0.1)
    await streamer.fail("The model is unavailable.")
    assert sink.texts == ["The model is unavailable."]
    assert [w.kind for w in sink.writes] == ["post", "edit"]
    assert sink.writes[-1].at >= 1.0, "the replacing edit respects the interval too"


async def test_fail_after_partial_text_posts_a_new_message() -> None:
    streamer, sink, clock = make(edit_interval=1.0)
    await streamer.start()
    clock.advance(2)
    await streamer.feed("The answer starts")
    await streamer.fail("The reply was cut off.")
    assert sink.texts == ["The answer starts", "The reply was cut off."]


async def test_fail_first_shows_all_the_text_received() -> None:
    streamer, sink, clock = make(edit_interval=1.0)
    await streamer.start()
    clock.advance(0.1)
    await streamer.feed("Text that came before the next edit was due")
    await streamer.fail("The reply was cut off.")
    assert sink.texts == ["Text that came before the next edit was due", "The reply was cut off."]


async def test_fail_without_placeholder_posts_the_notice() -> None:
    streamer, sink, _ = make(placeholder=None)
    await streamer.start()
    await streamer.fail("Sorry.")
    assert sink.texts == ["Sorry."]


async def test_fail_after_a_split_posts_a_new_message() -> None:
    streamer, sink, clock = make(max_chars=200, edit_interval=0.0)
    await stream(streamer, clock, [REPLY[:500]], gap=1.0)
    before = list(sink.texts)
    await streamer.fail("Cut off.")
    assert sink.texts == [*before, "Cut off."]


@pytest.mark.parametrize("pieces", [[], [""], ["", "  ", "\n\n"]])
async def test_nothing_is_posted_for_an_empty_reply(pieces: list[str]) -> None:
    streamer, sink, clock = make(placeholder=None)
    full = await stream(streamer, clock, pieces, gap=1.0)
    assert full == "".join(pieces)
    assert sink.writes == []


async def test_an_empty_reply_leaves_the_placeholder_for_fail_to_replace() -> None:
    streamer, sink, clock = make()
    assert await stream(streamer, clock, ["", " "], gap=1.0) == " "
    assert sink.texts == [PLACEHOLDER]
    await streamer.fail("The model returned an empty answer.")
    assert sink.texts == ["The model returned an empty answer."]


# --- ArrivalOrder: the turns of one thread run one at a time, in arrival order -----------------------

THREAD = ThreadKey("slack", "T1", "C1", "100.1")
OTHER = ThreadKey("slack", "T1", "C1", "200.2")


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_later_turn_waits_even_if_its_wait_starts_first() -> None:
    order = ArrivalOrder()
    first, second = order.reserve(THREAD), order.reserve(THREAD)
    log: list[str] = []
    go = asyncio.Event()

    async def run_second() -> None:
        await second.wait()
        log.append("second")
        second.release()

    async def run_first() -> None:
        await first.wait()
        log.append("first starts")
        await go.wait()
        log.append("first ends")
        first.release()

    second_task = asyncio.create_task(run_second())
    await settle()
    first_task = asyncio.create_task(run_first())
    await settle()
    assert log == ["first starts"]
    go.set()
    await asyncio.wait_for(asyncio.gather(first_task, second_task), timeout=1)
    assert log == ["first starts", "first ends", "second"]
    assert len(order) == 0, "nothing is kept once every turn is done"


async def test_a_slot_released_early_does_not_let_the_next_overtake() -> None:
    order = ArrivalOrder()
    first, duplicate, third = order.reserve(THREAD), order.reserve(THREAD), order.reserve(THREAD)
    duplicate.release()  # a redelivery: it gives up its place without running
    started = asyncio.Event()

    async def run_third() -> None:
        await third.wait()
        started.set()
        third.release()

    task = asyncio.create_task(run_third())
    await settle()
    assert not started.is_set(), "the first turn has not finished"
    await first.wait()
    first.release()
    await asyncio.wait_for(task, timeout=1)
    assert started.is_set()
    assert len(order) == 0


async def test_turns_run_in_reservation_order() -> None:
    order = ArrivalOrder()
    slots = [order.reserve(THREAD) for _ in range(6)]
    log: list[int] = []

    async def run(n: int) -> None:
        await slots[n].wait()
        log.append(n)
        await asyncio.sleep(0)
        slots[n].release()

    tasks = [asyncio.create_task(run(n)) for n in reversed(range(6))]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=1)
    assert log == list(range(6))


async def test_different_threads_do_not_block_each_other() -> None:
    order = ArrivalOrder()
    busy = order.reserve(THREAD)
    await busy.wait()
    other = order.reserve(OTHER)
    await asyncio.wait_for(other.wait(), timeout=1)
    other.release()
    assert len(order) == 1
    busy.release()
    assert len(order) == 0


async def test_first_turn_of_a_thread_does_not_wait() -> None:
    order = ArrivalOrder()
    slot = order.reserve(THREAD)
    await asyncio.wait_for(slot.wait(), timeout=1)
    slot.release()
    slot.release()  # releasing twice is harmless
    again = order.reserve(THREAD)
    await asyncio.wait_for(again.wait(), timeout=1)
    again.release()
    assert len(order) == 0


async def test_a_fence_marker_arriving_in_pieces_is_not_cut_apart() -> None:
    """Fed one character at a time, the messages are those that split() makes of the whole text."""
    text = (
        "intro line\n" + "w" * 20 + " and ```js is a fence marker here to pad it\nmore text\n```python\nx = 1\n```\nend"
    )
    streamer, sink, clock = make(max_chars=40, edit_interval=0.0, placeholder=None)
    assert await stream(streamer, clock, list(text), gap=0.01) == text
    assert sink.texts == split(text, 40)


async def test_streamed_messages_match_split_of_the_whole_reply() -> None:
    rng = random.Random(7)
    lines = ["plain words here", "```python", "    code()", "```", "", "x ``` y", "~~~", "end."]
    for _ in range(200):
        text = "\n".join(rng.choice(lines) for _ in range(rng.randint(5, 40)))
        streamer, sink, clock = make(max_chars=60, edit_interval=0.0, placeholder=None)
        await stream(streamer, clock, tokens(text, rng), gap=0.01)
        assert sink.texts == split(text, 60), text
