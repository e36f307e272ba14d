"""The README is part of the interface: its example config must load and its tables must be complete."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from adapters.config import ParleyConfig, load
from bot.config import HistoryConfig, QueueConfig
from bot.settings import KEYS
from tests.support.browser import CHROMIUM

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_two_commands_come_first() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    assert "uv run parley chat" in blocks[0]
    assert blocks[1].strip() == "uv run pytest"
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "\nuv run pytest\n" in ci, "CI runs exactly the README's test command"


def test_the_quick_start_names_what_the_test_suite_needs_installed() -> None:
    """The browser tests fail without Chromium: the paragraph after the two commands may not say nothing is needed."""
    start = README.index("The second command runs the test suite.")
    paragraph = README[start : README.index("\n\n", start)]
    assert "Nothing else needs to be installed" not in paragraph
    assert "Chromium" in paragraph and "apt-get install chromium" in paragraph and f"`{CHROMIUM}`" in paragraph


def test_the_example_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    example = re.search(r"```toml\n(# parley.toml\n.*?)```", README, re.S)
    assert example is not None
    path = tmp_path / "parley.toml"
    path.write_text(example.group(1))
    config = load(path, os.environ)
    assert list(config.backends) == ["openai", "local"]
    assert [rule.match for rule in config.channels] == [
        "slack:T0123ABCD/*",
        "slack:T0123ABCD/C0HELPDESK",
        "console:*",
    ]
    assert config.defaults["temperature"] == 0.5


def test_every_setting_and_config_key_is_documented() -> None:
    for key in KEYS:
        assert f"| `{key}` |" in README, f"setting {key} is missing from the README's table"
    for key in ParleyConfig.model_fields:
        assert f"`{key}`" in README or f"[{key}" in README, f"config key {key} is undocumented"
    for key in HistoryConfig.model_fields:
        assert f"`{key}`" in README
    for key in QueueConfig.model_fields:
        assert f"`{key}`" in README
