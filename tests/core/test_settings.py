"""Per-channel settings: how layers resolve, how chat values are read, and what is refused (and how)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import (
    BUILT_IN,
    KEYS,
    ChannelSettings,
    Layer,
    SettingError,
    format_value,
    parse_value,
    resolve,
    validate_patch,
)

DEFAULT = ChannelSettings()


# --- resolution ---------------------------------------------------------------------------------


def test_no_layers_gives_built_in_defaults_from_built_in() -> None:
    resolved = resolve([])
    assert resolved.settings == DEFAULT
    assert set(resolved.sources) == set(KEYS)
    assert all(source == BUILT_IN for source in resolved.sources.values())


def test_later_layers_win_and_sources_name_each_layer() -> None:
    layers = [
        Layer("[defaults]", {"temperature": 0.2, "max_tokens": 500, "trigger": "mention", "model": "m-default"}),
        Layer("channel rule 1 (slack:*)", {"temperature": 0.4, "max_tokens": 600}),
        Layer("channel rule 3 (slack:T1/*)", {"temperature": 0.6}),
        Layer("override", {"model": "m-override"}),
    ]
    resolved = resolve(layers)
    settings = resolved.settings
    assert settings.temperature == 0.6
    assert settings.max_tokens == 600
    assert settings.trigger == "mention"
    assert settings.model == "m-override"
    assert settings.history_turns == DEFAULT.history_turns
    assert resolved.sources["temperature"] == "channel rule 3 (slack:T1/*)"
    assert resolved.sources["max_tokens"] == "channel rule 1 (slack:*)"
    assert resolved.sources["trigger"] == "[defaults]"
    assert resolved.sources["model"] == "override"
    assert resolved.sources["history_turns"] == BUILT_IN


def test_channel_rules_apply_in_file_order() -> None:
    first = Layer("channel rule 1 (a)", {"temperature": 1.0})
    second = Layer("channel rule 2 (b)", {"temperature": 0.0})
    assert resolve([first, second]).settings.temperature == 0.0
    assert resolve([second, first]).settings.temperature == 1.0
    assert resolve([first, second]).sources["temperature"] == "channel rule 2 (b)"


def test_an_override_back_to_none_still_wins() -> None:
    resolved = resolve([Layer("[defaults]", {"temperature": 0.5}), Layer("override", {"temperature": None})])
    assert resolved.settings.temperature is None
    assert resolved.sources["temperature"] == "override"


def test_resolve_does_not_change_the_layers() -> None:
    values = {"temperature": 0.3}
    resolve([Layer("[defaults]", values)])
    assert values == {"temperature": 0.3}


# --- parse_value: what a user can type in chat ---------------------------------------------------


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("temperature", "0.3", 0.3),
        ("temperature", " 1.5 ", 1.5),
        ("temperature", "0", 0.0),
        ("temperature", "2", 2.0),
        ("top_p", "1", 1.0),
        ("top_p", "0.05", 0.05),
        ("presence_penalty", "-2", -2.0),
        ("frequency_penalty", "1.25", 1.25),
        ("max_tokens", "512", 512),
        ("history_turns", "0", 0),
        ("history_turns", "1000", 1000),
        ("history_tokens", "4000", 4000),
        ("model", "gpt-4o", "gpt-4o"),
        ("backend", "local", "local"),
        ("system_prompt", "You are terse.  Answer in French.", "You are terse.  Answer in French."),
        ("trigger", "mention", "mention"),
        ("trigger", "thread", "thread"),
    ],
)
def test_parse_value_reads_typed_values(key: str, raw: str, expected: Any) -> None:
    value = parse_value(key, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("on", True),
        ("off", False),
        ("true", True),
        ("false", False),
        ("True", True),
        ("OFF", False),
        ("yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
    ],
)
@pytest.mark.parametrize("key", ["stream", "enabled"])
def test_parse_value_reads_booleans(key: str, raw: str, expected: bool) -> None:
    assert parse_value(key, raw) is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("END", ["END"]),
        ("  ### ", ["###"]),
        ("two words", ["two words"]),
        ('["END", "###"]', ["END", "###"]),
        ('["a", "b", "c", "d"]', ["a", "b", "c", "d"]),
        ("[]", []),
    ],
)
def test_parse_value_reads_stop_as_one_string_or_a_json_list(raw: str, expected: list[str]) -> None:
    assert parse_value("stop", raw) == expected


@pytest.mark.parametrize("raw", ["none", "None", "NONE", "null", " none "])
@pytest.mark.parametrize(
    "key", ["temperature", "top_p", "presence_penalty", "frequency_penalty", "history_tokens", "model", "backend"]
)
def test_none_resets_a_nullable_key(key: str, raw: str) -> None:
    assert parse_value(key, raw) is None


@pytest.mark.parametrize("key", ["max_tokens", "history_turns", "stream", "enabled", "trigger"])
def test_none_is_refused_for_a_key_that_needs_a_value(key: str) -> None:
    with pytest.raises(SettingError, match=key):
        parse_value(key, "none")


# --- what is refused, and what the refusal says ---------------------------------------------------


def test_temperature_out_of_range_names_the_allowed_range() -> None:
    with pytest.raises(SettingError) as error:
        parse_value("temperature", "7")
    message = str(error.value)
    assert "temperature" in message
    assert "0 to 2" in message
    assert "'7'" in message, "the message shows what was typed"


def test_unknown_key_lists_every_allowed_key() -> None:
    with pytest.raises(SettingError) as error:
        parse_value("temprature", "0.5")
    message = str(error.value)
    assert "'temprature'" in message
    for key in KEYS:
        assert key in message


@pytest.mark.parametrize("raw", ["always", "mentions", "", "both", "thread,mention"])
def test_trigger_must_be_mention_or_thread(raw: str) -> None:
    with pytest.raises(SettingError) as error:
        parse_value("trigger", raw)
    assert "mention" in str(error.value) and "thread" in str(error.value)


@pytest.mark.parametrize(
    ("key", "raw", "hint"),
    [
        ("temperature", "-0.1", "0 to 2"),
        ("temperature", "2.01", "0 to 2"),
        ("temperature", "warm", "0 to 2"),
        ("temperature", "nan", "0 to 2"),
        ("temperature", "inf", "0 to 2"),
        ("temperature", "", "0 to 2"),
        ("top_p", "0", "above 0"),
        ("top_p", "1.5", "at most 1"),
        ("presence_penalty", "3", "-2 to 2"),
        ("frequency_penalty", "-2.5", "-2 to 2"),
        ("max_tokens", "0", "1 or more"),
        ("max_tokens", "1.5", "whole number"),
        ("max_tokens", "lots", "whole number"),
        ("history_turns", "-1", "0 to 1000"),
        ("history_turns", "1001", "0 to 1000"),
        ("history_tokens", "0", "token budget"),
        ("stream", "maybe", "true or false"),
        ("enabled", "2", "true or false"),
        ("stop", '["a", "b", "c", "d", "e"]', "up to 4"),
        ("stop", "[1, 2]", "up to 4"),
        ("stop", '["unclosed"', "JSON list"),
    ],
)
def test_bad_values_are_refused_with_what_is_allowed(key: str, raw: str, hint: str) -> None:
    with pytest.raises(SettingError) as error:
        parse_value(key, raw)
    message = str(error.value)
    assert message.startswith(f"{key}:")
    assert hint in message
    assert "Allowed:" in message


def test_unparseable_json_stop_says_so() -> None:
    with pytest.raises(SettingError, match="not a JSON list"):
        parse_value("stop", "[END")


# --- validate_patch: tables from the config file -------------------------------------------------


def test_validate_patch_returns_only_the_given_keys_typed() -> None:
    assert validate_patch({"temperature": 1, "max_tokens": 100.0, "trigger": "mention"}) == {
        "temperature": 1.0,
        "max_tokens": 100,
        "trigger": "mention",
    }
    assert validate_patch({}) == {}


def test_validate_patch_accepts_stop_as_one_string() -> None:
    # The description promises "one string, or a JSON list" -- in the file and in PARLEY_DEFAULTS__STOP too.
    assert validate_patch({"stop": "END"}) == {"stop": ["END"]}
    assert validate_patch({"stop": '["END", "###"]'}) == {"stop": ["END", "###"]}
    assert validate_patch({"stop": ["END", "###"]}) == {"stop": ["END", "###"]}


def test_validate_patch_refuses_unknown_keys_listing_allowed_ones() -> None:
    with pytest.raises(SettingError) as error:
        validate_patch({"temperature": 0.5, "colour": "blue"})
    assert "'colour'" in str(error.value)
    assert all(key in str(error.value) for key in KEYS)


def test_validate_patch_reports_each_bad_key_with_its_own_value() -> None:
    with pytest.raises(SettingError) as error:
        validate_patch({"temperature": 7, "top_p": 5})
    message = str(error.value)
    assert "temperature:" in message and "(got 7)" in message
    assert "top_p:" in message and "(got 5)" in message


def test_validate_patch_refuses_a_bad_trigger() -> None:
    with pytest.raises(SettingError, match="trigger"):
        validate_patch({"trigger": "always"})


def test_settings_are_frozen_and_closed() -> None:
    with pytest.raises(ValueError):
        ChannelSettings.model_validate({"colour": "blue"})
    with pytest.raises(ValueError):
        DEFAULT.temperature = 1.0  # type: ignore[misc]


# --- format_value --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "(not set)"),
        (True, "true"),
        (False, "false"),
        (["END", "###"], '["END", "###"]'),
        ([], "[]"),
        (0.5, "0.5"),
        (1024, "1024"),
        ("mention", "mention"),
    ],
)
def test_format_value(value: Any, shown: str) -> None:
    assert format_value(value) == shown


def test_a_parsed_value_shows_the_way_it_can_be_typed_back() -> None:
    for key, raw in [("stop", '["END", "###"]'), ("stream", "false"), ("temperature", "0.3"), ("model", "m")]:
        assert parse_value(key, format_value(parse_value(key, raw))) == parse_value(key, raw)


def test_chat_spellings_of_stop_and_trigger() -> None:
    assert parse_value("stop", '"###"') == ["###"]
    assert parse_value("stop", "none") == []
    assert parse_value("trigger", "Mention") == "mention"
