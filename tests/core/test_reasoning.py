"""The think-block filter and the quoted view of reasoning: pure, so every way of cutting the stream is tried."""

from __future__ import annotations

import pytest

from bot.reasoning import QUOTE_HEADER, Piece, ReasoningQuote, ThinkFilter, strip_reasoning


def run(chunks: list[str]) -> tuple[str, str]:
    """(answer, reasoning) after feeding the chunks one by one."""
    think = ThinkFilter()
    pieces: list[Piece] = []
    for chunk in chunks:
        pieces += think.feed(chunk)
    pieces += think.flush()
    answer = "".join(p.text for p in pieces if not p.reasoning)
    reasoning = "".join(p.text for p in pieces if p.reasoning)
    return answer, reasoning


def every_split(text: str) -> list[list[str]]:
    """The text cut into two and into three pieces at every position, and one character at a time."""
    cuts = [[text[:i], text[i:]] for i in range(len(text) + 1)]
    cuts += [[text[:i], text[i:j], text[j:]] for i in range(0, len(text), 3) for j in range(i, len(text), 5)]
    return [*cuts, list(text)]


TEXT = "<think>The user wants a name.\nKestrel is short.</think>\n\nKestrel."


@pytest.mark.parametrize("chunks", every_split(TEXT))
def test_a_think_block_is_split_off_however_the_stream_is_cut(chunks: list[str]) -> None:
    assert run(chunks) == ("Kestrel.", "The user wants a name.\nKestrel is short.")


def test_text_without_a_block_passes_unchanged_and_at_once() -> None:
    think = ThinkFilter()
    assert think.feed("Hello") == [Piece("Hello", False)]
    assert think.feed(" <think>not a block</think> here") == [Piece(" <think>not a block</think> here", False)]
    assert think.flush() == []


def test_leading_whitespace_of_a_plain_answer_is_kept() -> None:
    assert run(["    indented code\n", "more"]) == ("    indented code\nmore", "")


@pytest.mark.parametrize("chunks", [["<", "b>bold</b>"], ["<thi", "s is html"], ["<thinking about it>"]])
def test_something_that_only_looks_like_a_tag_is_answer_text(chunks: list[str]) -> None:
    assert run(chunks) == ("".join(chunks), "")


def test_a_half_tag_at_the_very_end_is_plain_text() -> None:
    assert run(["answer is <thi"]) == ("answer is <thi", "")
    assert run(["<thi"]) == ("<thi", "")


def test_an_unclosed_block_is_all_reasoning() -> None:
    assert run(["<think>still thinking when max_tokens ran out </th"]) == (
        "",
        "still thinking when max_tokens ran out </th",
    )


def test_tags_are_recognised_in_any_case_and_after_whitespace() -> None:
    assert run(["\n <THINK>hm</Think>ok"]) == ("ok", "hm")


def test_two_blocks_before_the_answer() -> None:
    assert run(["<think>a</think> <think>b</think>\n answer"]) == ("answer", "ab")


def test_reasoning_is_released_while_the_block_is_still_open() -> None:
    think = ThinkFilter()
    assert think.feed("<think>first thoughts") == [Piece("first thoughts", True)]
    assert think.feed(" and more</") == [Piece(" and more", True)]
    assert think.feed("think>Answer") == [Piece("Answer", False)]


def test_strip_reasoning_of_a_whole_text() -> None:
    assert strip_reasoning(TEXT) == "Kestrel."
    assert strip_reasoning("plain") == "plain"


def test_shown_reasoning_is_a_quote_before_the_answer() -> None:
    quote = ReasoningQuote()
    shown = quote.reasoning("step one\nstep two") + quote.reasoning(" and three") + quote.answer("The answer.")
    assert shown == f"{QUOTE_HEADER}step one\n> step two and three\n\nThe answer."
    assert all(line.startswith(">") for line in shown.split("\n\n")[0].splitlines())
    assert quote.reasoning("late thoughts") == "", "reasoning after the answer began is not shown"


def test_an_answer_without_reasoning_has_no_quote() -> None:
    quote = ReasoningQuote()
    assert quote.answer("Just this.") == "Just this."
