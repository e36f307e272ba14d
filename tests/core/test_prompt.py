"""Building the prompt: what is kept, what is dropped first, and when a message is simply too long."""

from __future__ import annotations

import socket

import pytest

from bot.messages import ChatMessage
from bot.prompt import (
    MESSAGE_OVERHEAD,
    REPLY_PRIMING,
    PromptTooLong,
    build_prompt,
    estimate_tokens,
    group_turns,
    message_tokens,
)

SYSTEM = "You are a helpful assistant."


def history(turns: int, size: int = 40) -> list[ChatMessage]:
    """``turns`` earlier exchanges; every message is ``size`` ASCII characters and names its turn."""
    messages: list[ChatMessage] = []
    for n in range(turns):
        messages.append(ChatMessage("user", f"question {n:03} ".ljust(size, "q")))
        messages.append(ChatMessage("assistant", f"answer {n:03} ".ljust(size, "a")))
    return messages


def turn_cost(size: int = 40) -> int:
    return 2 * (estimate_tokens("x" * size) + MESSAGE_OVERHEAD)


def fixed_cost(system: str, user: str) -> int:
    return estimate_tokens(system) + estimate_tokens(user) + 2 * MESSAGE_OVERHEAD + REPLY_PRIMING


def kept_turn_numbers(messages: list[ChatMessage]) -> list[int]:
    return [int(m.content.split()[1]) for m in messages if m.role == "user" and m.content.startswith("question")]


def build(
    past: list[ChatMessage],
    user: str = "What now?",
    *,
    context_window: int = 100_000,
    max_tokens: int = 1000,
    history_turns: int = 1000,
    history_tokens: int | None = None,
    system: str = SYSTEM,
) -> tuple[list[ChatMessage], int, int]:
    prompt = build_prompt(
        system,
        past,
        user,
        context_window=context_window,
        max_tokens=max_tokens,
        history_turns=history_turns,
        history_tokens=history_tokens,
    )
    return prompt.messages, prompt.tokens, prompt.dropped_turns


# --- what is always there ------------------------------------------------------------------------


def test_everything_fits_system_history_then_new_message() -> None:
    past = history(3)
    messages, tokens, dropped = build(past, "And the next step?")
    assert messages[0] == ChatMessage("system", SYSTEM)
    assert messages[1:-1] == past
    assert messages[-1] == ChatMessage("user", "And the next step?")
    assert dropped == 0
    assert tokens == sum(message_tokens(m) for m in messages) + REPLY_PRIMING


def test_no_history_gives_system_and_user_only() -> None:
    messages, _, dropped = build([], "Hi")
    assert messages == [ChatMessage("system", SYSTEM), ChatMessage("user", "Hi")]
    assert dropped == 0


@pytest.mark.parametrize("system", ["", "   ", "\n"])
def test_a_blank_system_prompt_is_left_out(system: str) -> None:
    messages, _, _ = build(history(1), "Hi", system=system)
    assert all(m.role != "system" for m in messages)
    assert messages[-1] == ChatMessage("user", "Hi")


# --- what is dropped, and in which order ----------------------------------------------------------


@pytest.mark.parametrize("fitting", [0, 1, 4, 9])
def test_oldest_turns_are_dropped_first_to_fit_the_budget(fitting: int) -> None:
    past = history(10)
    user = "What now?"
    budget = fixed_cost(SYSTEM, user) + fitting * turn_cost()
    max_tokens = 500
    messages, tokens, dropped = build(past, user, context_window=budget + max_tokens, max_tokens=max_tokens)
    assert kept_turn_numbers(messages) == list(range(10 - fitting, 10)), "the newest turns, in order"
    assert dropped == 10 - fitting
    assert tokens <= budget
    assert messages[0].role == "system" and messages[-1] == ChatMessage("user", user)


def test_the_budget_is_the_context_window_less_the_reply() -> None:
    past = history(10)
    room_for_five = fixed_cost(SYSTEM, "What now?") + 5 * turn_cost()
    wide, _, _ = build(past, context_window=room_for_five + 100, max_tokens=100)
    narrow, _, _ = build(past, context_window=room_for_five + 100, max_tokens=100 + turn_cost() * 2)
    assert kept_turn_numbers(wide) == [5, 6, 7, 8, 9]
    assert kept_turn_numbers(narrow) == [7, 8, 9], "reserving more for the reply leaves room for fewer turns"


def test_one_token_short_drops_the_turn() -> None:
    past = history(2)
    exact = fixed_cost(SYSTEM, "What now?") + 2 * turn_cost()
    kept, tokens, _ = build(past, context_window=exact + 10, max_tokens=10)
    assert kept_turn_numbers(kept) == [0, 1]
    assert tokens == exact, "a prompt may use the whole budget"
    short, _, dropped = build(past, context_window=exact + 9, max_tokens=10)
    assert kept_turn_numbers(short) == [1]
    assert dropped == 1


def test_turns_are_kept_whole() -> None:
    past = history(6)
    budget = fixed_cost(SYSTEM, "What now?") + 3 * turn_cost() + turn_cost() // 2  # three and a half turns
    messages, _, _ = build(past, context_window=budget + 100, max_tokens=100)
    middle = messages[1:-1]
    assert [m.role for m in middle] == ["user", "assistant"] * 3
    assert kept_turn_numbers(messages) == [3, 4, 5]


def test_kept_history_has_no_gap() -> None:
    # A big turn in the middle stops the walk back: an older small turn is not pulled in past it.
    past = [*history(1), ChatMessage("user", "question 001 " + "z" * 4000), ChatMessage("assistant", "ok")]
    past += history(3)[4:]  # turn 002
    budget = fixed_cost(SYSTEM, "What now?") + 2 * turn_cost()
    messages, _, dropped = build(past, context_window=budget + 100, max_tokens=100)
    assert kept_turn_numbers(messages) == [2]
    assert dropped == 2


def test_history_turns_limits_the_number_of_turns() -> None:
    past = history(10)
    messages, _, dropped = build(past, history_turns=3)
    assert kept_turn_numbers(messages) == [7, 8, 9]
    assert dropped == 7


def test_history_turns_zero_sends_no_history() -> None:
    messages, _, dropped = build(history(5), "Hi", history_turns=0)
    assert messages == [ChatMessage("system", SYSTEM), ChatMessage("user", "Hi")]
    assert dropped == 5


def test_history_tokens_limits_the_tokens_spent_on_history() -> None:
    past = history(10)
    messages, tokens, dropped = build(past, history_tokens=4 * turn_cost() + 1)
    assert kept_turn_numbers(messages) == [6, 7, 8, 9]
    assert dropped == 6
    assert tokens - fixed_cost(SYSTEM, "What now?") <= 4 * turn_cost() + 1


def test_the_tighter_of_history_tokens_and_the_budget_applies() -> None:
    past = history(10)
    budget = fixed_cost(SYSTEM, "What now?") + 2 * turn_cost()
    messages, _, _ = build(past, context_window=budget + 100, max_tokens=100, history_tokens=8 * turn_cost())
    assert kept_turn_numbers(messages) == [8, 9]


def test_history_that_starts_with_an_answer_is_grouped_sensibly() -> None:
    past = [ChatMessage("assistant", "welcome"), *history(2)]
    assert [len(turn) for turn in group_turns(past)] == [1, 2, 2]
    assert group_turns([]) == []


# --- too long ------------------------------------------------------------------------------------


def test_a_message_over_the_budget_raises_with_tokens_and_budget() -> None:
    user = "word " * 2000  # about 2,500 tokens
    with pytest.raises(PromptTooLong) as error:
        build(history(3), user, context_window=2048, max_tokens=512)
    assert error.value.budget == 2048 - 512
    assert error.value.tokens == fixed_cost(SYSTEM, user)
    assert error.value.tokens > error.value.budget
    assert str(error.value.tokens) in str(error.value) and str(error.value.budget) in str(error.value)


def test_a_long_system_prompt_counts_against_the_budget_too() -> None:
    with pytest.raises(PromptTooLong):
        build([], "Hi", system="rule " * 1000, context_window=1024, max_tokens=256)


def test_max_tokens_as_large_as_the_window_leaves_no_budget() -> None:
    with pytest.raises(PromptTooLong) as error:
        build([], "Hi", context_window=4096, max_tokens=4096)
    assert error.value.budget == 0


def test_history_never_causes_prompt_too_long() -> None:
    messages, _, dropped = build(history(50, size=2000), "Hi", context_window=1024, max_tokens=256)
    assert dropped == 50
    assert len(messages) == 2


# --- the estimate ----------------------------------------------------------------------------------


def test_estimate_works_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the token estimate must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert estimate_tokens("Hello, world! This needs no tokenizer download.") > 0


def test_estimate_of_nothing_is_zero() -> None:
    assert estimate_tokens("") == 0


def test_estimate_for_english_is_about_four_characters_a_token() -> None:
    text = (
        "The quick brown fox jumps over the lazy dog. Parley puts a language model where your team "
        "already talks, and answers in the thread it was asked in. "
    ) * 10
    words = len(text.split())
    estimate = estimate_tokens(text)
    assert estimate == -(-len(text) // 4)
    # Real tokenizers give roughly 1.3 tokens per English word; the estimate should be in that region.
    assert words <= estimate <= 2 * words


def test_estimate_for_cjk_is_about_one_token_a_character() -> None:
    text = "你好世界。我们今天讨论一下这个项目的进度和下一步的计划。" * 5
    estimate = estimate_tokens(text)
    assert len(text) * 0.7 <= estimate <= len(text) * 2
    assert estimate > estimate_tokens("x" * len(text)), "CJK text costs more per character than ASCII"


def test_estimate_of_mixed_text_adds_up() -> None:
    assert estimate_tokens("abcd" * 10 + "日本語") == 10 + 3
    assert estimate_tokens("a") == 1, "a partial token still counts"


def test_message_tokens_adds_the_framing() -> None:
    assert message_tokens(ChatMessage("user", "abcd" * 5)) == 5 + MESSAGE_OVERHEAD
