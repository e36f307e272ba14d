"""The command line's rough edges: flags on either side of the command, patterns refused, a hint fit to paste."""

from __future__ import annotations

import shlex

import pytest

from adapters.cli import build_parser, parse_args
from tests.support.fake_openai import FakeOpenAI
from tests.support.parley_process import env, parley

__all__ = ["env"]


@pytest.mark.parametrize(
    ("argv", "config", "verbose"),
    [
        (["-v", "chat"], None, 1),
        (["chat", "-v"], None, 1),
        (["-v", "chat", "-v"], None, 2),
        (["-vv", "usage"], None, 2),
        (["--config", "a.toml", "chat"], "a.toml", 0),
        (["chat", "--config", "b.toml"], "b.toml", 0),
        (["--config", "a.toml", "-v", "channel", "show", "slack:T1/C1", "--config", "b.toml"], "b.toml", 1),
        (["--config", "a.toml", "config", "check"], "a.toml", 0),
        (["backends", "check"], None, 0),
    ],
)
def test_config_and_verbose_go_before_or_after_the_command(argv: list[str], config: str | None, verbose: int) -> None:
    args = parse_args(argv)
    assert (args.config, args.verbose) == (config, verbose)


def test_the_top_level_help_shows_config_and_verbose() -> None:
    text = build_parser().format_help()
    assert "--config PATH" in text and "-v, --verbose" in text


@pytest.mark.parametrize("pattern", ["slack:T1/*", "slack:T1/C?", "discord:*/1234", "slack:T1/C[12]"])
async def test_a_pattern_is_refused_where_one_channel_is_meant(env: dict[str, str], pattern: str) -> None:
    code, out, err = await parley("channel", "set", pattern, "temperature", "0.3", env=env)
    assert code == 2 and out == ""
    assert "is a pattern, not a channel" in err and "[[channels]]" in err and "Traceback" not in err
    code, out, err = await parley("channel", "show", "slack:T1/C1", env=env)
    assert code == 0 and "override" not in out, "nothing was stored"
    code, _, err = await parley("channel", "unset", pattern, "temperature", env=env)
    assert code == 2 and "is a pattern, not a channel" in err


async def test_the_continue_hint_is_quoted_for_the_shell(env: dict[str, str], fake: FakeOpenAI) -> None:
    code, _, err = await parley("chat", "--thread", "release notes's draft", env=env, stdin="hi\n")
    assert code == 0, err
    hint = err.split("continue it later: ", 1)[1].split(")", 1)[0]
    assert shlex.split(hint) == ["parley", "chat", "--thread", "release notes's draft"]
    code, _, err = await parley("chat", "--thread", "plain", env=env, stdin="hi\n")
    assert "continue it later: parley chat --thread plain)" in err
