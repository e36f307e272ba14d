"""Reply sinks: how the core's posts and edits become chat.postMessage and chat.update calls
(or, in a thread of a workspace that offers it, a native stream: ``streams.py``).

The Web API client retries 429 answers after their Retry-After itself
(``client.web_client`` adds slack_sdk's rate-limit retry handler).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from adapters.slack.desk import feedback_blocks, post_handoff
from adapters.slack.mrkdwn import Mrkdwn, defuse
from adapters.slack.streams import NativeStreams
from bot.api import Pace, SinkLimits

log = logging.getLogger(__name__)

MAX_CHARS = 3500
"""Longer messages often fail with msg_too_long (about 4,000 in practice, whatever the docs say).
Measured on the mrkdwn sent (escapes and tables make it longer than the Markdown)."""
THINKING = "is thinking…"
GONE = ("message_not_found", "cant_update_message", "edit_window_closed")
"""chat.update errors meaning the message cannot be edited any more (someone deleted it, say)."""


class SlackSink:
    """Posts in one channel, in one thread (or top level, for a DM's running conversation)."""

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str | None,
        *,
        limits: SinkLimits,
        mrkdwn: Mrkdwn,
        pace: Pace | None = None,
        streams: NativeStreams | None = None,
        stream_pace: Pace | None = None,
    ) -> None:
        self._client = client
        self._pace = pace or Pace.every(limits.edit_interval, limits.edit_burst)
        self._streams = streams
        """Slack's native streaming, where the workspace offers it (then messages are streams, not edits)."""
        self._stream_pace = stream_pace or self._pace
        self.channel = channel
        self.thread_ts = thread_ts
        self._limits = limits
        self._mrkdwn = mrkdwn
        self._moved: dict[str, str] = {}
        """A message that could no longer be edited -> the one that carries its text on."""
        self._texts: dict[str, str] = {}
        """Each message's text as last sent (Markdown), for the buttons a helpdesk answer gets."""
        self._known: set[str] = set()
        """The messages this sink posted, and those of another process (an earlier attempt) it took over."""

    @property
    def limits(self) -> SinkLimits:
        return self._limits

    def pace(self) -> Pace:
        """The channel's budget, shared with the other replies there, and the workspace's for chat.update."""
        return self._stream_pace if self._streams is not None and self._streams.offered else self._pace

    async def post(self, text: str) -> str:
        if self._streams is not None and self._streams.offered:
            started = await self._streams.start(text)
            if started is not None:
                self._texts[started] = text
                self._known.add(started)
                return started
        return await self.post_complete(text)

    async def post_complete(self, text: str) -> str:
        """A message no edit will follow: one chat.postMessage, never a native stream."""
        response = await self._send(self._client.chat_postMessage, text, channel=self.channel, thread_ts=self.thread_ts)
        self._texts[str(response["ts"])] = text
        self._known.add(str(response["ts"]))
        return str(response["ts"])

    async def edit(self, message_id: str, text: str) -> None:
        """Edit the message; one that is gone is replaced by a new message, which later edits then change.

        A message this sink did not post (an earlier attempt's, by a process that died) may still be a
        native stream nobody appends to any more: it is stopped first, then edited as any other."""
        self._texts[message_id] = text
        streams = self._streams
        if message_id not in self._known:
            self._known.add(message_id)
            if streams is not None and streams.offered:
                await streams.end_orphan(message_id)
        if streams is not None and streams.streams(message_id) and await streams.extend(message_id, text):
            return
        try:
            current = self._moved.get(message_id, message_id)
            await self._send(self._client.chat_update, text, channel=self.channel, ts=current)
        except SlackApiError as error:
            if error.response.get("error") not in GONE:
                raise
            log.warning("Slack: message %s cannot be edited (%s): posting anew", current, error.response["error"])
            self._moved[message_id] = await self.post(text)

    async def finished(self, message_id: str) -> None:
        """A streamed message is complete: stop its stream (one Slack ended already gets its text by chat.update)."""
        if self._streams is None:
            return
        last = await self._streams.stop(message_id)
        if last is not None:
            await self.edit(message_id, last)

    async def offer_feedback(self, message_id: str) -> str:
        """A helpdesk answer's last message gets 👍 / 👎 and "Talk to a person" (its text stays as it is); the ts
        of the message that carries them (the one that took over, if the answer moved)."""
        current = self._moved.get(message_id, message_id)
        text = self._texts.get(message_id)
        if text is None:
            return current
        body = self._mrkdwn(text)
        try:
            await self._client.chat_update(channel=self.channel, ts=current, text=body, blocks=feedback_blocks(body))
        except SlackApiError as error:  # the answer stands without its buttons
            log.warning("Slack: could not add the feedback buttons to %s (%s)", current, error.response.get("error"))
        return current

    async def hand_off(self, text: str, group: str | None) -> str:
        """The hand-off notice, pinging the on-call group; the thread's first message gets :sos:."""
        return await post_handoff(self._client, self.channel, self.thread_ts, text, group, self._mrkdwn)

    async def _send(self, method: Callable[..., Awaitable[AsyncSlackResponse]], text: str, **where: Any) -> Any:
        try:
            return await method(text=self._mrkdwn(text), **where)
        except SlackApiError as error:
            if error.response.get("error") != "msg_too_long":
                raise
            # The mrkdwn is within MAX_CHARS, but a workspace may still find it too long: plain text is shorter.
            log.warning("Slack refused %d characters of mrkdwn as too long; sending the plain text", len(text))
            return await method(text=defuse(text), mrkdwn=False, **where)


class AssistantSink(SlackSink):
    """In Slack's assistant view: shows "is thinking…" until the first text, and clears it."""

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        await self._status(THINKING)
        try:
            yield
        finally:
            await self._status("")

    async def _status(self, status: str) -> None:
        if self.thread_ts is None:
            return
        try:
            await self._client.assistant_threads_setStatus(
                channel_id=self.channel, thread_ts=self.thread_ts, status=status
            )
        except SlackApiError as error:  # a status is a nicety: the reply goes on without it
            log.warning("assistant.threads.setStatus failed in %s: %s", self.channel, error.response.get("error"))
