"""The configuration ``parley`` runs with: the core's keys plus every adapter's own table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from adapters.discord.config import DiscordConfig
from adapters.slack.config import SlackConfig
from bot.api import Config, load_config

ParleyConfig = Config.with_tables(SlackConfig, DiscordConfig)
"""``Config`` with ``[slack]`` and ``[discord]``; what ``load`` returns, and what tests build directly."""


def load(path: Path | None, environ: Mapping[str, str]) -> Config:
    """The file (if any) and ``environ``'s PARLEY_* variables, every table checked; ConfigError says what is wrong."""
    return load_config(path, environ, ParleyConfig)
