"""Cutting long replies into messages: sizes, preferred cut points, and code fences that survive the cut."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from bot.split import MIN_LIMIT, Fence, cut, open_fence, split

FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})[A-Za-z]*\s*$")


def content(text: str) -> str:
    """The text without fence lines and whitespace: what must survive splitting unchanged."""
    return "".join(re.sub(r"\s+", "", line) for line in text.split("\n") if not FENCE_LINE.match(line))


def check_parts(text: str, parts: list[str], limit: int) -> None:
    assert all(len(part) <= limit for part in parts), [len(part) for part in parts]
    assert all(part.strip() for part in parts), "no part is empty or blank"
    if open_fence(text) is None:
        assert [open_fence(part) for part in parts] == [None] * len(parts), "every part closes its fences"
    assert content("\n".join(parts)) == content(text), "nothing is lost, duplicated or reordered"


def paragraph(words: int, word: str = "word") -> str:
    return " ".join(f"{word}{i}" for i in range(words))


# --- basics ------------------------------------------------------------------------------------


def test_short_text_is_one_part_unchanged() -> None:
    text = "Hello!\n\n```python\nprint('hi')\n```"
    assert split(text, 100) == [text]
    assert cut(text, 100) == (text, "")


def test_text_exactly_at_the_limit_is_not_cut() -> None:
    text = "x" * 50
    assert split(text, 50) == [text]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", " \n \t\n"])
def test_nothing_to_send_gives_no_parts(text: str) -> None:
    assert split(text, 100) == []


def test_limit_below_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match=str(MIN_LIMIT)):
        split("x" * 100, MIN_LIMIT - 1)
    with pytest.raises(ValueError):
        cut("x" * 100, 10)


def test_every_part_within_limit_and_text_preserved() -> None:
    text = "\n\n".join(paragraph(30, f"p{n}w") for n in range(10))
    parts = split(text, 200)
    assert len(parts) > 5
    check_parts(text, parts, 200)
    # Prose cut at spaces and paragraph breaks: re-joining with single spaces gives the words back in order.
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


# --- where to cut ------------------------------------------------------------------------------


def test_prefers_a_paragraph_break() -> None:
    first = "First paragraph.\nIt has two lines and some words in it."
    second = "Second paragraph with quite a few more words " * 3
    parts = split(f"{first}\n\n{second}", 100)
    assert parts[0] == first


def test_prefers_a_line_break_over_a_space() -> None:
    lines = ["line one has words", "line two has words", "line three has words", "line four has words here"]
    text = "\n".join(lines * 3)
    head, rest = cut(text, 60)
    assert len(head) <= 60
    assert head.split("\n") == lines[: len(head.split("\n"))], "the cut falls between whole lines"
    assert rest.startswith("line "), "the next part starts at the beginning of a line"


def test_falls_back_to_a_space_between_words() -> None:
    text = paragraph(40)
    head, rest = cut(text, 60)
    assert len(head) <= 60
    assert not head.endswith(" ") and not rest.startswith(" ")
    assert text == f"{head} {rest}", "cut at one space, no word broken"


def test_a_break_too_early_in_the_window_is_not_used() -> None:
    # A paragraph break in the first few characters would make a uselessly short part.
    text = "Hi.\n\n" + paragraph(40)
    head, _ = cut(text, 100)
    assert len(head) > 50


def test_a_single_unbroken_word_is_hard_cut() -> None:
    word = "".join(random.Random(3).choice("abcdefghij") for _ in range(5000))
    parts = split(word, 2000)
    assert [len(part) for part in parts] == [2000, 2000, 1000]
    assert "".join(parts) == word


def test_long_word_after_prose() -> None:
    text = "Here is the hash: " + "f" * 300 + " and that is all."
    parts = split(text, 100)
    check_parts(text, parts, 100)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


# --- code fences -------------------------------------------------------------------------------


def python_block(lines: int) -> str:
    body = "\n".join(f"    total = total + {i}  # step {i}" for i in range(lines))
    return f"```python\ndef add():\n    total = 0\n{body}\n    return total\n```"


def test_cut_inside_python_fence_closes_and_reopens_it() -> None:
    text = "Here is the code:\n\n" + python_block(40) + "\n\nThat is all."
    parts = split(text, 400)
    assert len(parts) >= 3
    check_parts(text, parts, 400)
    assert parts[0].endswith("\n```")
    for before, after in itertools.pairwise(parts):
        if before.endswith("\n```") and after.startswith("```python\n"):
            continue
        assert after == parts[-1], "only the last part may start outside the block"
    assert parts[-1].endswith("That is all.")
    for part in parts[1:-1]:
        assert part.startswith("```python\n") and part.endswith("\n```")


def test_indentation_inside_code_is_preserved_at_the_cut() -> None:
    text = python_block(60)
    parts = split(text, 300)
    assert len(parts) > 2
    for part in parts[1:]:
        first_code_line = part.split("\n")[1]
        assert first_code_line.startswith("    "), f"indentation lost: {first_code_line!r}"
    code_lines = [line for part in parts for line in part.split("\n") if not FENCE_LINE.match(line)]
    original = [line for line in text.split("\n") if not FENCE_LINE.match(line)]
    assert code_lines == original, "every code line arrives whole, in order, with its indentation"


def test_tilde_fence_is_closed_and_reopened_with_tildes() -> None:
    body = "\n".join(f"row {i}: value" for i in range(40))
    text = f"~~~sql\n{body}\n~~~"
    parts = split(text, 200)
    check_parts(text, parts, 200)
    assert parts[0].endswith("\n~~~")
    assert all(part.startswith("~~~sql\n") for part in parts[1:])


def test_longer_backtick_fence_is_closed_with_its_own_length() -> None:
    body = "\n".join(f"```inner {i}" for i in range(30))  # lines that look like fences but are content
    text = f"````markdown\n{body}\n````"
    parts = split(text, 150)
    check_parts(text, parts, 150)
    assert parts[0].endswith("\n````")
    assert all(part.startswith("````markdown\n") for part in parts[1:])


def test_cut_right_before_the_closing_fence_leaves_no_empty_block() -> None:
    code = "x = 1\n" * 10
    block = f"```python\n{code}```"
    text = block + "\n" + paragraph(20)
    limit = len(block)  # the closing fence ends exactly at the limit
    parts = split(text, limit)
    check_parts(text, parts, limit)
    assert not any(re.search(r"```python\n```", part) for part in parts), parts


def test_a_cut_in_a_line_does_not_turn_inline_backticks_into_a_fence() -> None:
    text = ("Use the ``` marker to start a block, or ~~~ if you prefer tildes. " * 12).strip()
    for limit in range(MIN_LIMIT, 120):
        parts = split(text, limit)
        check_parts(text, parts, limit)
        assert all(open_fence(part) is None for part in parts)


def test_hard_cut_next_to_backticks_does_not_open_a_fence() -> None:
    text = "y" * 120 + "````\n````\n~~~\n\n~~~\n"
    text = "~~~\n~~~\n\n```\n````\n\n````\n" + text
    parts = split(text, 40)
    check_parts(text, parts, 40)


def test_block_with_a_very_long_opening_line_still_splits_and_ends() -> None:
    text = "```python title=demo.py\n" + "x" * 200
    parts = split(text, 40)
    assert all(len(part) <= 40 and part.strip() for part in parts)
    assert all(open_fence(part) is None for part in parts[:-1])
    assert "".join(parts).count("x") == 200
    head, rest = cut(text, 40)
    assert "x" in head, "the first part carries code, not just an empty block"
    assert len(rest) < len(text)


def test_fence_line_too_long_to_close_falls_back_to_a_bare_cut() -> None:
    text = "`" * 60 + "\n" + "code " * 30
    parts = split(text, 40)
    assert all(len(part) <= 40 and part.strip() for part in parts)


def test_cut_always_makes_progress() -> None:
    rng = random.Random(11)
    pieces = ["```python title=a_rather_long_title.py\n", "```\n", "~~~\n", "word ", "\n", "\n\n", "`" * 5, "z" * 50]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        limit = rng.randint(MIN_LIMIT, 90)
        head, rest = cut(text, limit)
        assert len(head) <= limit
        assert len(rest) < len(text) or not text


# --- open_fence ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", None),
        ("```python\nx = 1", Fence("```", "python")),
        ("```python\nx = 1\n```", None),
        ("~~~\nx\n```", Fence("~~~", "")),  # backticks do not close tildes
        ("````\nx\n```", Fence("````", "")),  # a shorter fence does not close a longer one
        ("```\nx\n`````", None),  # a longer one does
        ("```\nx\n```python", Fence("```", "")),  # a fence line with info never closes
        ("   ```js\nx", Fence("```", "js")),  # up to three spaces of indentation
        ("    ```js\nx", None),  # four is indented code, not a fence
        ("text ``` inline", None),
    ],
)
def test_open_fence(text: str, expected: Fence | None) -> None:
    assert open_fence(text) == expected


# --- randomized: the properties hold for many shapes of text -------------------------------------


def random_reply(rng: random.Random) -> str:
    lines: list[str] = []
    fence: str | None = None
    for _ in range(rng.randint(1, 60)):
        kind = rng.random()
        if kind < 0.12:
            if fence is None:
                fence = rng.choice(["```", "~~~", "````"])
                lines.append(fence + rng.choice(["", "python", "js"]))
            else:
                lines.append(fence + rng.choice(["", "`" if fence[0] == "`" else "~"]))
                fence = None
        elif kind < 0.25:
            lines.append("")
        elif kind < 0.3:
            lines.append("q" * rng.randint(50, 400))
        elif kind < 0.35:
            lines.append("inline ``` and ~~~ markers " * rng.randint(1, 4))
        elif fence is not None:
            lines.append(
                " " * rng.choice([0, 4, 8]) + " ".join(f"c{rng.randint(0, 99)}" for _ in range(rng.randint(1, 12)))
            )
        else:
            lines.append(" ".join(f"w{rng.randint(0, 999)}" for _ in range(rng.randint(1, 40))))
    if fence is not None:
        lines.append(fence)
    return "\n".join(lines)


def test_randomized_replies_split_cleanly() -> None:
    rng = random.Random(20251126)
    for _ in range(400):
        text = random_reply(rng)
        limit = rng.randint(MIN_LIMIT, 300)
        check_parts(text, split(text, limit), limit)
