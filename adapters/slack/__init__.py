"""The Slack adapter (slack_bolt): ``parley run slack``.

Modules: ``env`` (tokens from the environment), ``app`` (the Bolt app and its
listeners), ``events`` (pure: which messages are answered, as what),
``sink`` (streaming replies), ``mrkdwn`` (Markdown to Slack's format),
``slash`` (/parley), ``assistant`` (the AI app view), ``people`` (users.info),
``oauth`` (installation in several workspaces), ``redact`` (tokens out of logs),
``inflight`` (replies finished at shutdown), ``ingress`` (message events queued before
the ack), ``queued`` (what the queue carries), ``worker`` (queued events answered),
``workspaces`` (Web API clients per workspace).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.slack.app import SlackAdapter
from adapters.slack.config import SlackConfig
from adapters.slack.env import SlackEnv
from adapters.slack.oauth import RedisInstallationStore
from adapters.slack.pacing import SlackPaces
from adapters.slack.state import NAMESPACE, SlackState
from adapters.slack.worker import SlackWorker
from adapters.slack.workspaces import Workspaces
from bot.api import Conversation, JobHandler


def create(conversation: Conversation, environ: Mapping[str, str]) -> SlackAdapter:
    """The Slack adapter (a ``PlatformAdapter``) for ``parley run``, its worker side as ``worker``;
    ConfigError if its environment is incomplete."""
    return SlackAdapter(conversation, SlackEnv.read(environ))


def create_handler(conversation: Conversation, environ: Mapping[str, str]) -> JobHandler:
    """The Slack worker side for ``parley worker``: answers queued Slack events through the Web API, with
    SLACK_BOT_TOKEN (or, with OAuth, each workspace's installation); it takes no events itself."""
    env = SlackEnv.read(environ, receiving=False)
    config = conversation.config.table(SlackConfig)
    paces = SlackPaces(config.edit_interval, config.updates_per_minute, book=conversation.pace_book())
    state = SlackState(conversation.state(NAMESPACE))
    installations = RedisInstallationStore(state) if env.oauth else None
    return SlackWorker(
        conversation, state=state, workspaces=Workspaces(env, paces, installations, conversation.metrics), paces=paces
    )
