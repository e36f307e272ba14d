"""The first-token timeout and the reply cap on a stream, and the order of a channel's backends: pure logic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.deadlines import ReplyCapped, timed
from bot.fallback import Target, falls_back, parse_target, targets
from bot.llm.base import BackendError, Reasoning


async def slow(first_after: float, then_every: float, count: int, closed: list[bool]) -> AsyncIterator[str]:
    try:
        await asyncio.sleep(first_after)
        for n in range(count):
            yield f"t{n} "
            await asyncio.sleep(then_every)
    finally:
        closed.append(True)


async def collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for item in stream:
        into.append(item)


async def test_items_pass_through_when_in_time() -> None:
    got: list[str] = []
    loop = asyncio.get_running_loop()
    await collect(timed(slow(0, 0, 3, []), first_within=5, deadline=loop.time() + 30), got)
    assert got == ["t0 ", "t1 ", "t2 "]


async def test_no_first_item_in_time_is_a_timeout_and_stops_the_stream() -> None:
    closed: list[bool] = []
    with pytest.raises(BackendError) as raised:
        await collect(timed(slow(30, 0, 3, closed), first_within=0.2, deadline=None), [])
    assert raised.value.kind == "timeout" and "no first token within 0.2s" in raised.value.detail
    assert closed == [True], "the waiting stream was cancelled"


async def test_the_first_token_timeout_applies_to_the_first_item_only() -> None:
    got: list[str] = []
    await collect(timed(slow(0, 0.3, 3, []), first_within=0.2, deadline=None), got)
    assert got == ["t0 ", "t1 ", "t2 "]


async def test_the_cap_ends_a_runaway_stream_after_what_came() -> None:
    got: list[str] = []
    closed: list[bool] = []
    deadline = asyncio.get_running_loop().time() + 0.5
    with pytest.raises(ReplyCapped):
        await collect(timed(slow(0, 0.1, 1000, closed), first_within=None, deadline=deadline), got)
    assert 1 <= len(got) < 1000
    assert closed == [True]


async def test_a_cap_sooner_than_the_first_token_timeout_wins() -> None:
    deadline = asyncio.get_running_loop().time() + 0.1
    with pytest.raises(ReplyCapped):
        await collect(timed(slow(30, 0, 1, []), first_within=20, deadline=deadline), [])


def test_targets_are_the_primary_then_each_fallback_once() -> None:
    assert targets("main", "gpt-4o", ["local", "main:gpt-4o", "local", "cloud:llama3.2:1b"]) == [
        Target("main", "gpt-4o"), Target("local"), Target("cloud", "llama3.2:1b"),
    ]  # fmt: skip
    assert parse_target("local:llama3.2:1b") == Target("local", "llama3.2:1b")
    assert str(Target("local")) == "local" and str(Target("a", "b")) == "a:b"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("unavailable", True), ("rate_limited", True), ("timeout", True), ("auth", True), ("unknown_model", True),
     ("interrupted", True), ("rejected", False), ("context", False), ("empty", False)],
)  # fmt: skip
def test_which_failures_fall_back(kind: str, expected: bool) -> None:
    assert falls_back(kind) is expected  # type: ignore[arg-type]


async def test_thinking_counts_as_the_first_token() -> None:
    async def thinks_then_answers() -> AsyncIterator[Reasoning | str]:
        yield Reasoning("let me see")
        await asyncio.sleep(0.3)
        yield "the answer"

    got: list[Reasoning | str] = []
    async for item in timed(thinks_then_answers(), first_within=0.2, deadline=None):
        got.append(item)
    assert got[-1] == "the answer" and isinstance(got[0], Reasoning)
