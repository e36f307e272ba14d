"""The Slack adapter's pure parts of issue 12: a thread's messages for the core, the agent view's context."""

from __future__ import annotations

from adapters.slack.agent import event_user, viewed_channel
from adapters.slack.events import BotIdentity
from adapters.slack.thread_reader import authors_and_mentions, prior_messages, profile_name
from bot.messages import PriorMessage

BOT = BotIdentity("U0BOT", "B0BOT")
THREAD = [
    {"type": "message", "user": "U1", "text": "the deploy failed, <@U2>?", "ts": "1.1"},
    {"type": "message", "user": "U0BOT", "bot_id": "B0BOT", "text": "parley's earlier answer", "ts": "1.2"},
    {"type": "message", "subtype": "channel_join", "user": "U3", "text": "<@U3> has joined", "ts": "1.3"},
    {"type": "message", "subtype": "bot_message", "bot_id": "B9", "username": "deploybot", "text": "red", "ts": "1.4"},
    {"type": "message", "user": "U2", "text": "  ", "ts": "1.5"},
    {"type": "message", "user": "U4", "text": "no name known", "ts": "1.6"},
    {"type": "message", "subtype": "file_share", "user": "U1", "text": "", "files": [{"name": "log.txt"}], "ts": "1.7"},
]


def test_a_thread_reads_as_attributed_messages_without_parley_s_own() -> None:
    assert authors_and_mentions(THREAD, BOT) == {"U1", "U2", "U3", "U4"}
    names = {"U1": "Ada", "U2": "Bo"}
    assert prior_messages(THREAD, BOT, names) == (
        PriorMessage("Ada", "the deploy failed, @Bo?"),
        PriorMessage("deploybot", "red"),
        PriorMessage("U4", "no name known"),
        PriorMessage("Ada", "[file: log.txt]"),
    ), "a file shared earlier is named, not read"


def test_names_on_the_event_itself() -> None:
    assert profile_name({"user_profile": {"display_name": "", "real_name": "Ada L."}}) == "Ada L."
    assert profile_name({}) == ""


def test_the_agent_view_context() -> None:
    context = {"entities": [{"type": "slack#/types/canvas_id", "value": "F1"},
                            {"type": "slack#/types/channel_id", "value": "C0OPS", "team_id": "T1"}]}  # fmt: skip
    assert viewed_channel(context) == "<#C0OPS>"
    assert viewed_channel({}) == "" and viewed_channel(None) == ""
    authorized = {"authorizations": [{"user_id": "U0BOT", "is_bot": True}, {"user_id": "U7", "is_bot": False}]}
    assert event_user({"type": "app_context_changed"}, authorized) == "U7", "the docs' event names no user"
    assert event_user({"user": "U8"}, authorized) == "U8"
