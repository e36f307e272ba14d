"""The helpdesk on Slack: 👍 / 👎 and "Talk to a person" buttons on answers, their clicks, the question after a 👎,
the hand-off notice that pings the on-call user group (and nobody else), and ✅ to hand a thread back.

Clicks arrive as Bolt actions on the same endpoint as events (interactivity must be on in the app's settings);
``reaction_added`` needs the reactions:read scope.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.events import COMMAND_STYLE, DM_THREAD, PLATFORM
from adapters.slack.mrkdwn import Mrkdwn
from bot.api import Author, Conversation, ThreadKey

log = logging.getLogger(__name__)

VOTES = {"parley_vote_up": "up", "parley_vote_down": "down"}
HANDOFF = "parley_handoff"
REASON_VIEW = "parley_vote_reason"
REASON_INPUT = "reason"
RESOLVED = ("white_check_mark", "heavy_check_mark", "ballot_box_with_check")
"""✅ and its look-alikes: a thread's first message marked so goes back to the bot."""
SOS = "sos"
SECTION_CHARS = 3000
"""Slack's limit on a section block's text."""
GROUP_MARK = "PARLEYONCALLGROUPMARK"


def feedback_blocks(text: str) -> list[dict[str, Any]]:
    """A message's mrkdwn as section blocks, then the three buttons."""
    sections = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[start : start + SECTION_CHARS]}}
        for start in range(0, len(text), SECTION_CHARS)
    ]
    buttons = [_button("👍", "parley_vote_up"), _button("👎", "parley_vote_down"), _button("Talk to a person", HANDOFF)]
    return [*sections, {"type": "actions", "block_id": "parley_feedback", "elements": buttons}]


def _button(label: str, action: str) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": label, "emoji": True}, "action_id": action,
            "value": action}  # fmt: skip


def with_group(text: str, group: str | None, mrkdwn: Mrkdwn) -> str:
    """The notice in mrkdwn with the on-call group's mention left as the admin wrote it, so that it pings."""
    if not group:
        return mrkdwn(text)
    return mrkdwn(text.replace(group, GROUP_MARK)).replace(GROUP_MARK, group)


async def post_handoff(
    client: AsyncWebClient, channel: str, thread_ts: str | None, text: str, group: str | None, mrkdwn: Mrkdwn
) -> str:
    """Post a hand-off notice in the thread and mark the thread's first message with 🆘; the notice's ts."""
    posted = await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=with_group(text, group, mrkdwn))
    if thread_ts is not None:
        try:
            await client.reactions_add(channel=channel, timestamp=thread_ts, name=SOS)
        except SlackApiError as error:  # already marked, or the scope is missing: the notice says it all the same
            log.warning("Slack: could not mark thread %s with :sos: (%s)", thread_ts, error.response.get("error"))
    return str(posted["ts"])


def _thread_of(body: Mapping[str, Any]) -> tuple[ThreadKey, str | None] | None:
    """The conversation a clicked message belongs to, and the thread to post in."""
    channel = str((body.get("channel") or {}).get("id") or "")
    message = body.get("message") or {}
    team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
    if not (channel and team and message.get("ts")):
        return None
    thread_ts = message.get("thread_ts")
    if thread_ts is None and channel.startswith("D"):
        return ThreadKey(PLATFORM, team, channel, DM_THREAD), None
    root = str(thread_ts or message["ts"])
    return ThreadKey(PLATFORM, team, channel, root), root


def _voter(body: Mapping[str, Any]) -> Author:
    user = body.get("user") or {}
    return Author(str(user.get("id") or ""), str(user.get("name") or user.get("username") or ""))


class SlackDesk:
    """Bolt listeners for the helpdesk's buttons, the 👎 question and ✅ reactions."""

    def __init__(self, conversation: Conversation, mrkdwn: Mrkdwn) -> None:
        self._conversation = conversation
        self._mrkdwn = mrkdwn

    def register(self, app: AsyncApp) -> None:
        for action in VOTES:
            app.action(action)(self._on_vote)
        app.action(HANDOFF)(self._on_handoff)
        app.view(REASON_VIEW)(self._on_reason)
        app.event("reaction_added")(self._on_reaction)

    async def _on_vote(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        message_ts = str((body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts"))
        vote = VOTES[str(action.get("action_id"))]
        voter = _voter(body)
        voted = await self._conversation.desk.vote(PLATFORM, message_ts, voter, "up" if vote == "up" else "down")
        if voted.counted and vote == "down" and body.get("trigger_id"):
            try:
                await client.views_open(trigger_id=str(body["trigger_id"]), view=_reason_view(message_ts))
                return
            except SlackApiError as error:  # the question is a nicety: thank them instead
                log.warning("Slack: could not ask what was wrong (%s)", error.response.get("error"))
        await respond(text=voted.text, response_type="ephemeral", replace_original=False)

    async def _on_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        metadata = json.loads(str(view.get("private_metadata") or "{}"))
        values = (view.get("state") or {}).get("values") or {}
        reason = str(((values.get(REASON_INPUT) or {}).get(REASON_INPUT) or {}).get("value") or "")
        if reason.strip() and metadata.get("ts"):
            await self._conversation.desk.explain(PLATFORM, str(metadata["ts"]), _voter(body), reason)

    async def _on_handoff(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        found = _thread_of(body)
        if found is None:
            return
        thread, thread_ts = found
        handoff = await self._conversation.desk.hand_off_thread(thread, _voter(body), COMMAND_STYLE)
        if handoff is None:
            await respond(text="This thread is already with a person.", response_type="ephemeral",
                          replace_original=False)  # fmt: skip
            return
        await post_handoff(client, thread.channel, thread_ts, handoff.text, handoff.group, self._mrkdwn)

    async def _on_reaction(self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in RESOLVED or item.get("type") != "message":
            return
        team = str(body.get("team_id") or "")
        thread = ThreadKey(PLATFORM, team, str(item.get("channel")), str(item.get("ts")))
        if await self._conversation.desk.take_back(thread):
            text = "Marked resolved: I'm answering in this thread again."
            await client.chat_postMessage(channel=thread.channel, thread_ts=thread.thread, text=text)


def _reason_view(message_ts: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REASON_VIEW,
        "private_metadata": json.dumps({"ts": message_ts}),
        "title": {"type": "plain_text", "text": "What was wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": REASON_INPUT,
                "label": {"type": "plain_text", "text": "Thanks for the 👎. What was wrong with the answer?"},
                "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True},
            }
        ],
    }
