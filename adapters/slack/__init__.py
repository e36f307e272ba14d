"""The Slack adapter (slack_bolt): ``parley run slack``.

Modules: ``env`` (tokens from the environment), ``app`` (the Bolt app and its
listeners), ``events`` (pure: which messages are answered, as what),
``sink`` (streaming replies), ``mrkdwn`` (Markdown to Slack's format),
``slash`` (/parley), ``assistant`` (the AI app view), ``people`` (users.info),
``oauth`` (installation in several workspaces), ``redact`` (tokens out of logs),
``inflight`` (replies finished at shutdown).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.platform import PlatformAdapter
from adapters.slack.app import SlackAdapter
from adapters.slack.env import SlackEnv
from bot.api import Conversation


def create(conversation: Conversation, environ: Mapping[str, str]) -> PlatformAdapter:
    """The Slack adapter for ``parley run``; ConfigError if its environment is incomplete."""
    return SlackAdapter(conversation, SlackEnv.read(environ))
