"""The README's Discord set-up is part of the interface: its invite URL and config keys must be right."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import discord
import pytest

from adapters.config import load
from adapters.discord.config import DiscordConfig
from bot.config import ConfigError

README = (Path(__file__).parents[2] / "README.md").read_text()
NEEDED = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    create_public_threads=True,
    send_messages_in_threads=True,
)


def test_the_invite_url_asks_for_both_scopes_and_exactly_the_needed_permissions() -> None:
    url = re.search(r"https://discord\.com/oauth2/authorize\?\S+", README)
    assert url is not None
    assert "scope=bot+applications.commands" in url.group(0)
    assert f"permissions={NEEDED.value}" in url.group(0)
    table = re.findall(r"\| 1 << (\d+) \| (\d+) \|", README)
    assert sum(int(value) for _, value in table) == NEEDED.value
    assert all(1 << int(bit) == int(value) for bit, value in table)
    assert not discord.Permissions(NEEDED.value).mention_everyone


def test_every_discord_key_is_documented_and_the_example_loads() -> None:
    for key in DiscordConfig.model_fields:
        assert f"| `{key}` |" in README, f"[discord] {key} is missing from the README"
    example = re.search(r"```toml\n(\[discord\]\n.*?)```", README, re.S)
    assert example is not None
    DiscordConfig(**tomllib.loads(example.group(1))["discord"])


def test_a_server_id_must_be_digits(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text('[discord]\nguilds = ["my-server"]\n')
    with pytest.raises(ConfigError, match=r"\[discord\] guilds: 'my-server' is not a Discord server id"):
        load(path, os.environ)


def test_a_server_id_may_be_written_as_a_number(tmp_path: Path) -> None:
    path = tmp_path / "parley.toml"
    path.write_text("[discord]\nguilds = [1234567890123456789]\n")
    assert load(path, os.environ).table(DiscordConfig).guilds == ["1234567890123456789"]
