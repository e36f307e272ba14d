"""The Slack ingress: a message event parley answers or notes is queued before Slack is acknowledged.

A Bolt middleware, after Bolt verified the request and looked up who parley is in the workspace,
and before any listener (which Bolt runs only after its acknowledgement): ``events.classify`` keeps
the event, ``Conversation.enqueue`` appends it to the durable queue, and only then does Slack get
its 200 (in Socket Mode, its envelope ack). When the queue cannot take it, Slack gets a 503 (in
Socket Mode, no ack), so that it delivers the event again; when Slack's last redelivery fails too,
the user is told that something went wrong. A redelivery of a queued event is acknowledged and
not queued again. Nothing slow runs here: a worker does the rest (``worker.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import is_user_message_event_in_assistant_thread
from slack_bolt.response import BoltResponse

from adapters.slack import events
from adapters.slack.queued import QueuedEvent
from bot.api import SOMETHING_BROKE, Conversation, QueueUnavailable, traced

log = logging.getLogger(__name__)

ENQUEUE_SECONDS = 2.5
"""How long the append may take before Slack gets a 503 (the enqueue is one atomic step: if it did apply,
Slack's redelivery finds it queued and is acknowledged)."""

MESSAGE_EVENTS = ("message", "app_mention")
LAST_RETRY = 3
"""Slack delivers an event it got no 200 for three times more (about at once, after 1 and after 5 minutes)."""
UNAVAILABLE = json.dumps({"error": "parley cannot take events right now: Slack will deliver this one again"})


class Ingress(AsyncMiddleware):
    def __init__(self, conversation: Conversation, *, answer_bots: bool) -> None:
        self._conversation = conversation
        self._answer_bots = answer_bots

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        try:
            queued = self._message_for_parley(req)
        except (TypeError, ValueError, KeyError, AttributeError) as error:  # a shape Slack never sends
            log.warning("Slack event %s ignored: not a message event parley reads (%s)", _event_id(req), error)
            return BoltResponse(status=200, body="")
        if queued is None:  # another kind of event, or a message parley stays silent on: Bolt's listeners see it
            await next()
            return resp
        with traced():  # the message's trace: queued with it, the worker's lines about it carry it too
            return await self._accept(req, *queued)

    async def _accept(self, req: AsyncBoltRequest, classified: events.Addressed, event: QueuedEvent) -> BoltResponse:
        try:
            # Slack waits 3 s for its answer: a 503 within that is honest (it delivers again), a late one is not.
            async with asyncio.timeout(ENQUEUE_SECONDS):
                added = await self._conversation.enqueue(
                    classified.thread, classified.event_id, event.payload(), twin=_twin(req, classified)
                )
        except (QueueUnavailable, TimeoutError) as error:
            log.warning("Slack event %s not accepted: the queue is unavailable (%s)", _event_id(req), error)
            if _retry_number(req) >= LAST_RETRY:  # Slack gives up after this one: not silence, an apology
                self._conversation.lost(classified.thread.platform)
                await _apologise(req, classified)
            return BoltResponse(status=503, body=UNAVAILABLE, headers={"content-type": "application/json"})
        if added:
            log.info("accepted slack event %s in %s (a %s): queued", _event_id(req), classified.thread,
                     classified.kind.value)  # fmt: skip
        else:
            log.info("Slack event %s was queued already: acknowledging the redelivery", _event_id(req))
        return BoltResponse(status=200, body="")

    def _message_for_parley(self, req: AsyncBoltRequest) -> tuple[events.Addressed, QueuedEvent] | None:
        body = req.body
        event = body.get("event") if body.get("type") == "event_callback" else None
        if not isinstance(event, dict) or event.get("type") not in MESSAGE_EVENTS:
            return None
        context = req.context
        bot = events.BotIdentity(context.bot_user_id, context.bot_id)
        team = events.team_of(body, context.team_id)
        classified = events.classify(event, team, bot, answer_bots=self._answer_bots)
        if isinstance(classified, events.Ignored):
            log.debug("Slack event %s ignored: %s", body.get("event_id"), classified.reason)
            return None
        queued = QueuedEvent(
            event=event,
            team=team,
            enterprise=context.enterprise_id,
            org_install=bool(context.is_enterprise_install),
            bot=bot,
            assistant=is_user_message_event_in_assistant_thread(body),
        )
        return classified, queued


def _twin(req: AsyncBoltRequest, classified: events.Addressed) -> bool:
    """Slack sends a mention in a channel twice, as ``app_mention`` and as ``message`` (both subscribed): the
    second to arrive is a duplicate by design, not a redelivery (which Slack numbers: ``X-Slack-Retry-Num``)."""
    return classified.mentioned and not classified.dm and _retry_number(req) == 0


def _event_id(req: AsyncBoltRequest) -> Any:
    return req.body.get("event_id")


def _retry_number(req: AsyncBoltRequest) -> int:
    """Which redelivery this is (0: the first delivery); Bolt mirrors Socket Mode's ``retry_attempt`` here."""
    found = req.headers.get("x-slack-retry-num") or ["0"]
    try:
        return int(found[0])
    except ValueError:
        return 0


async def _apologise(req: AsyncBoltRequest, classified: events.Addressed) -> None:
    client = req.context.client
    if client is None:
        return
    try:
        await client.chat_postMessage(channel=classified.channel, thread_ts=classified.reply_thread_ts,
                                      text=SOMETHING_BROKE)  # fmt: skip
    except Exception as error:  # Slack itself may be what is failing: the log says it
        log.warning("Slack: could not tell %s that its message was lost either: %s", classified.thread, error)
