"""The Slack adapter's pure parts: event decisions, rendering, mrkdwn, environment, the app manifest."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.config import load
from adapters.slack.config import SlackConfig
from adapters.slack.env import SlackEnv
from adapters.slack.events import (
    Addressed,
    BotIdentity,
    Ignored,
    Kind,
    classify,
    ignored_reason,
    incoming_message,
    render,
    strip_bot_mention,
)
from adapters.slack.mrkdwn import Mrkdwn
from adapters.slack.oauth import BOT_SCOPES
from bot.config import ConfigError
from bot.messages import Author, IncomingMessage

BOT = BotIdentity("U0BOT", "B0BOT")
MANIFEST = Path(__file__).parents[2] / "slack" / "manifest.yml"


def event(text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "message", "text": text, "channel": "C1", "ts": "1.000001", "user": "U1",
            "channel_type": "channel", **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"user": "U0BOT"}, "parley's own message"),
        ({"bot_id": "B0BOT"}, "parley's own message"),
        ({"bot_id": "B0OTHER", "subtype": "bot_message"}, "a bot's message (answer_bots is off)"),
        ({"subtype": "message_changed"}, "subtype 'message_changed'"),
        ({"subtype": "message_deleted"}, "subtype 'message_deleted'"),
        ({"subtype": "channel_join"}, "subtype 'channel_join'"),
        ({"hidden": True}, "hidden message"),
        ({"type": "reaction_added"}, "event type 'reaction_added'"),
        ({"user": None}, "no author"),
    ],
)
def test_what_is_ignored(fields: dict[str, Any], reason: str) -> None:
    assert ignored_reason(event("hi", **fields), BOT, answer_bots=False) == reason


def test_other_bots_are_answered_when_configured() -> None:
    other = event("<@U0BOT> hi", bot_id="B0OTHER", subtype="bot_message", user=None)
    assert ignored_reason(other, BOT, answer_bots=True) is None
    assert ignored_reason(event("x", bot_id="B0BOT"), BOT, answer_bots=True) == "parley's own message"


def test_file_shares_and_broadcasts_are_people_writing() -> None:
    for subtype in ("file_share", "thread_broadcast"):
        assert ignored_reason(event("look", subtype=subtype), BOT, answer_bots=False) is None


def test_the_mention_is_stripped_wherever_it_is() -> None:
    assert strip_bot_mention("<@U0BOT> hello", BOT) == ("hello", True)
    assert strip_bot_mention("hey <@U0BOT|parley>, how  are you", BOT) == ("hey , how are you", True)
    assert strip_bot_mention("no mention <@U0OTHER>", BOT) == ("no mention <@U0OTHER>", False)
    code = "<@U0BOT>  fix this:\n```\ndef f(x):\n    if x:\n        return  1\n```"
    assert strip_bot_mention(code, BOT) == ("fix this:\n```\ndef f(x):\n    if x:\n        return  1\n```", True)
    assert strip_bot_mention("    indented, no mention", BOT) == ("indented, no mention", False)


def test_markup_is_rendered_for_the_model() -> None:
    text = "<@U1> <@U2|bob> <#C9> <#C8|ops> <!here> <!subteam^S1|@devs> <mailto:a@b.c|a@b.c> <https://x.y> 1 &lt; 2"
    assert render(text, {"U1": "Ada"}) == "@Ada @U2 #C9 #ops @here @devs a@b.c https://x.y 1 < 2"


def test_threads_and_identity() -> None:
    top = classify(event("<@U0BOT> hi"), "T1", BOT, answer_bots=False)
    assert isinstance(top, Addressed) and top.reply_thread_ts == "1.000001" and message_of(top).mentioned
    assert str(message_of(top).thread) == "slack:T1/C1#1.000001"
    assert message_of(top).event_id == "T1:C1:1.000001", "the message's identity, whichever event carried it"
    assert isinstance(classify(event("just chatting"), "T1", BOT, answer_bots=False), Ignored)
    reply = classify(event("more", thread_ts="0.5"), "T1", BOT, answer_bots=False)
    assert isinstance(reply, Addressed) and str(message_of(reply).thread) == "slack:T1/C1#0.5"
    assert not message_of(reply).mentioned
    dm = classify(event("hi", channel="D1", channel_type="im"), "T1", BOT, answer_bots=False)
    assert isinstance(dm, Addressed) and message_of(dm).is_dm and dm.reply_thread_ts is None
    assert str(message_of(dm).thread) == "slack:T1/D1#dm"
    reset = classify(event("<@U0BOT>  Reset ", thread_ts="0.5"), "T1", BOT, answer_bots=False)
    assert isinstance(reset, Addressed) and message_of(reset).text == "/reset"
    assert isinstance(classify(event("<@U0BOT>"), "T1", BOT, answer_bots=False), Ignored), "nothing to answer"


def test_an_event_is_classified_once_then_named() -> None:
    addressed = classify(
        event("<@U0BOT> ask <@U2> and <@U2|bo>, not <@U0BOT>", user="U2"), "T1", BOT, answer_bots=False
    )
    assert isinstance(addressed, Addressed) and addressed.kind is Kind.MENTION
    assert addressed.users == {"U2"}, "the users to name, parley left out"
    message = incoming_message(addressed, names={"U2": "Bo"}, viewing="<#C9>")
    assert message.text == "ask @Bo and @Bo, not" and message.author == Author("U2", "Bo")
    assert message.viewing == "<#C9>" and message.style.prefix == "/parley "
    kinds = {
        Kind.DM: event("hi", channel="D1", channel_type="im"),
        Kind.FOLLOW_UP: event("more", thread_ts="0.5"),
        Kind.COMMAND: event("reset", channel="D1", channel_type="im"),
    }
    for kind, each in kinds.items():
        classified = classify(each, "T1", BOT, answer_bots=False)
        assert isinstance(classified, Addressed) and classified.kind is kind
    assert classify(event("hi", subtype="message_changed"), "T1", BOT, answer_bots=False) == Ignored(
        "subtype 'message_changed'"
    )
    assert classify(event("&nbsp;", thread_ts="0.5"), "T1", BOT, answer_bots=False) == Ignored("nothing to answer")


def message_of(addressed: Addressed) -> IncomingMessage:
    return incoming_message(addressed, names={})


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and *italic* and ~~gone~~", "*bold* and _italic_ and ~gone~"),
        ("## A heading\ntext", "*A heading*\ntext"),
        ("[the docs](https://d.test/x)", "<https://d.test/x|the docs>"),
        ("- one\n- **two**\n  - nested", "• one\n• *two*\n  • nested"),
        ("1. first\n2. second", "1. first\n2. second"),
        ("```python\n# not a heading\nx = **kw\n```", "```\n# not a heading\nx = **kw\n```"),
        ("inline `**code**` kept", "inline `**code**` kept"),
        ("```\nan unclosed fence while streaming **x**", "```\nan unclosed fence while streaming **x**"),
        ("if a < b && c > d", "if a &lt; b &amp;&amp; c &gt; d"),
        ("```html\n<div>&nbsp;</div>\n```", "```\n&lt;div&gt;&amp;nbsp;&lt;/div&gt;\n```"),
        ("* item with *emph*\n* two", "• item with _emph_\n• two"),
        ("```ls -l```\ntext", "```ls -l```\ntext"),
        ("2 * 3 * 4 and `a*b*c`", "2 * 3 * 4 and `a*b*c`"),
        ("not \\*emphasis\\* here", "not *emphasis* here"),
        ("~~~python\nprint('*x*')\n~~~\n**after**", "```\nprint('*x*')\n```\n*after*"),
        ("[Foo](https://w.test/Foo_(bar)) ok", "<https://w.test/Foo_%28bar%29|Foo> ok"),
        (
            "> a quote with <b>\nsee <#C1> > <@U1> <!here> <https://x.test>",
            "> a quote with &lt;b&gt;\nsee <#C1> &gt; <@U1> &lt;!here&gt; <https://x.test>",  # no ping: issue 10
        ),
    ],
)
def test_markdown_to_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert Mrkdwn()(markdown) == mrkdwn


def test_environment_errors_say_what_to_set() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        SlackEnv.read({})
    with pytest.raises(ConfigError, match=r"SLACK_SIGNING_SECRET.*SLACK_APP_TOKEN"):
        SlackEnv.read({"SLACK_BOT_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="starts with xapp-"):
        SlackEnv.read({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-1"})
    with pytest.raises(ConfigError, match="SLACK_API_URL"):
        SlackEnv.read({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_API_URL": "slack.com"})
    socket = SlackEnv.read({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"})
    assert socket.socket_mode and socket.api_url == "https://slack.com/api/"
    gov = SlackEnv.read(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "https://x.test/api"}
    )
    assert not gov.socket_mode and gov.api_url == "https://x.test/api/"
    assert "xoxb-1" not in repr(gov), "tokens stay out of reprs (and so out of logs)"


def test_the_manifest_asks_for_exactly_what_parley_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "app_home_opened",
        "app_context_changed",
        "message.channels",
        "message.groups",
        "message.im",
        "message.mpim",
        "reaction_added",
    }
    assert manifest["settings"]["interactivity"]["is_enabled"] is True, "the helpdesk's buttons are interactions"
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/parley"]
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "assistant_view" not in manifest["features"], "Slack takes only agent_view for new apps (issue 12)"
    assert manifest["features"]["agent_view"]["agent_description"]


def test_the_readme_documents_every_slack_setting_and_its_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for key in SlackConfig.model_fields:
        assert f"| `{key}` |" in readme, f"[slack] {key} is missing from the README's table"
    example = re.search(r"```toml\n(\[slack\]\n.*?)```", readme, re.S)
    assert example is not None
    path = tmp_path / "parley.toml"
    path.write_text(example.group(1))
    config = load(path, os.environ).table(SlackConfig)
    assert config.workspace_admins_are_admins
    assert [prompt.title for prompt in config.suggested_prompts] == ["Summarise", "Explain"]


METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_startStream": "chat:write",
    "chat_appendStream": "chat:write",
    "chat_stopStream": "chat:write",
    "users_info": "users:read",
    "conversations_replies": "channels:history",  # (groups:, im:, mpim:history in those kinds of channel)
    "assistant_threads_setStatus": "assistant:write",
    "assistant_threads_setSuggestedPrompts": "assistant:write",  # Bolt's set_suggested_prompts
    "assistant_threads_setTitle": "assistant:write",  # Bolt's set_title
    "reactions_add": "reactions:write",
    "views_open": "",  # no scope: a modal opened from a click
}
"""Every Web API method the adapter calls with the bot token, and the scope Slack asks for it."""
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "assistant_thread_started": "assistant:write",
    "assistant_thread_context_changed": "assistant:write",
    "app_home_opened": "",  # no scope
    "app_context_changed": "",  # no scope; needs features.agent_view
    "reaction_added": "reactions:read",
}


def test_the_manifest_scopes_are_exactly_those_the_calls_and_events_need() -> None:
    source = "\n".join(path.read_text() for path in (MANIFEST.parent.parent / "adapters" / "slack").glob("*.py"))
    called = set(
        re.findall(r"\b((?:chat|users|conversations|reactions|files|views|assistant_threads)_[A-Za-z]+)\b", source)
    )
    called |= {"chat_postMessage", "assistant_threads_setSuggestedPrompts", "assistant_threads_setTitle"}  # say & co
    assert called <= set(METHOD_SCOPES), f"a method without a known scope: {called - set(METHOD_SCOPES)}"
    manifest = yaml.safe_load(MANIFEST.read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed = {METHOD_SCOPES[m] for m in called if METHOD_SCOPES[m]} | {
        EVENT_SCOPES[e] for e in events if EVENT_SCOPES[e]
    }
    needed.add("commands")
    if "url_private" in source:  # files shared with a message, downloaded with the bot token
        needed.add("files:read")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed, "no scope missing, none extra"
