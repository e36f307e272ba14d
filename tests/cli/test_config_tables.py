"""The composed configuration: each adapter's table registered with the core's keys, read from the environment
handed in (never the process's own), and the platforms' secrets masked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.config import ParleyConfig, load
from adapters.discord.config import DiscordConfig
from adapters.slack.config import SlackConfig
from bot.config import Config, ConfigError, load_config


def test_the_tables_come_from_the_environment_handed_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_SLACK__EDIT_INTERVAL", "9")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-process")
    environ = {
        "PARLEY_SLACK__EDIT_INTERVAL": "3",
        "PARLEY_DISCORD__GUILDS": '["42"]',
        "PARLEY_HISTORY__MAX_TURNS": "7",
        "OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
    }
    config = load(None, environ)
    assert config.table(SlackConfig).edit_interval == 3
    assert config.table(DiscordConfig).guilds == ["42"]
    assert config.history.max_turns == 7
    assert config.backends["openai"].base_url == "http://127.0.0.1:1/v1"
    assert config.backends["openai"].api_key_env is None, "OPENAI_API_KEY of the process is not read"
    assert load(None, {}).backends == {}


def test_file_values_and_environment_overrides_of_a_table(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text('[slack]\nplaceholder = ""\nedit_interval = 2\n[discord]\nanswer_bots = true\n')
    config = load(path, {"PARLEY_SLACK__EDIT_INTERVAL": "0.5"})
    slack = config.table(SlackConfig)
    assert (slack.placeholder, slack.edit_interval) == ("", 0.5)
    assert config.table(DiscordConfig).answer_bots


def test_the_platforms_secrets_are_masked_with_the_backends_keys() -> None:
    config = ParleyConfig(backends={"a": {"api_key_env": "A_KEY"}})
    environ = {
        "A_KEY": "sk-a",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_APP_TOKEN": "",
        "SLACK_CLIENT_SECRET": "client",
        "DISCORD_BOT_TOKEN": " discord-token\n",
    }
    assert config.secrets(environ) == ["sk-a", "xoxb-1", "signing", "client", " discord-token\n", "discord-token"]


def test_the_core_alone_knows_no_adapter_table(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[slack]\nedit_interval = 2\n")
    with pytest.raises(ConfigError, match="slack: unknown key; allowed here: redis_url"):
        load_config(path, os.environ)
    assert load(path, os.environ).table(SlackConfig).edit_interval == 2
    with pytest.raises(LookupError, match=r"\[slack\]"):
        Config().table(SlackConfig)


def test_the_tables_sit_after_history_in_the_keys_order() -> None:
    keys = list(ParleyConfig.model_fields)
    assert keys[keys.index("history") :][:3] == ["history", "slack", "discord"]
    assert keys[-3:] == ["backends", "defaults", "channels"]
    assert ParleyConfig.tables() == (SlackConfig, DiscordConfig)
