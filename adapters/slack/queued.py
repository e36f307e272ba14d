"""A Slack message event as the queue carries it from the ingress to a worker (JSON).

The ingress writes what it knew when it accepted the event and a worker cannot learn again
cheaply: the event itself, its workspace (and Enterprise Grid org, for OAuth installations),
parley's identity there (``auth.test``, which Bolt looked up) and whether the message came
in Slack's assistant view. The worker classifies the event again (pure) and reads the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.slack.events import BotIdentity

VERSION = 1


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    event: Mapping[str, Any]
    team: str
    enterprise: str | None
    org_install: bool
    """An Enterprise Grid org-wide installation: its bot token is found by the org, not the workspace."""
    bot: BotIdentity
    assistant: bool
    """A user's message in an assistant view thread (status while thinking, thread title, viewed channel)."""

    def payload(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "event": dict(self.event),
            "team": self.team,
            "enterprise": self.enterprise,
            "org_install": self.org_install,
            "bot": {"user_id": self.bot.user_id, "bot_id": self.bot.bot_id},
            "assistant": self.assistant,
        }

    @classmethod
    def read(cls, payload: Mapping[str, Any]) -> QueuedEvent:
        """The event back from a job's payload; ValueError for one no ingress of this version wrote."""
        event, bot = payload.get("event"), payload.get("bot")
        if not isinstance(event, Mapping) or not isinstance(bot, Mapping):
            raise ValueError("not a queued Slack event (no event or bot)")
        enterprise = payload.get("enterprise")
        return cls(
            event=event,
            team=str(payload.get("team") or ""),
            enterprise=str(enterprise) if enterprise else None,
            org_install=bool(payload.get("org_install")),
            bot=BotIdentity(_text(bot.get("user_id")), _text(bot.get("bot_id"))),
            assistant=bool(payload.get("assistant")),
        )


def _text(value: object) -> str | None:
    return str(value) if value else None
