"""Slack's side: the tests' fake Web API (native streaming added) and signed Events API requests to a bot."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from typing import Any, Self

import aiohttp

from bench.backlog import widen_backlog
from bench.watch import Watch
from tests.support.fake_slack import FakeSlack, Message
from tests.support.slack_harness import BOT_TOKEN, SECRET, USER, envelope, mention, new_ts, signed_headers


class BenchSlack(FakeSlack):
    """FakeSlack that tells a ``Watch`` every text shown in a thread, and serves chat.*Stream."""

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch = watch
        self.streaming = "on"
        """The workspace offers native streaming, as current Slack does (the tests' fake, once it has
        chat.*Stream, answers unknown_method unless told so: that is an older workspace)."""
        self.users[USER] = {"id": USER, "name": "alice", "real_name": "Alice", "profile": {"display_name": "alice"}}

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        widen_backlog(self._runner)
        return self

    def _seen(self, message: Message) -> None:
        self.watch.saw(message.thread_ts or message.ts, message.text)

    def _chat_postMessage(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        answer = super()._chat_postMessage(params, token)
        self._seen(self.messages[answer["ts"]])
        return answer

    def _chat_update(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        answer = super()._chat_update(params, token)
        if answer["ok"]:
            self._seen(self.messages[answer["ts"]])
        return answer

    # Slack's native streaming: the tests' fake's own methods where it has them, else a lenient stand-in
    def _stream_call(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        own = getattr(super(), "_" + method.replace(".", "_"), None)
        answer: dict[str, Any] = own(params, token) if own is not None else self._stand_in(method, params, token)
        if answer.get("ok") and str(answer.get("ts")) in self.messages:
            self._seen(self.messages[str(answer["ts"])])
        return answer

    def _stand_in(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method == "chat.startStream":
            return super()._chat_postMessage({**params, "text": params.get("markdown_text", "")}, token)
        message = self.messages.get(str(params.get("ts")))
        if message is None:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        message.text += str(params.get("markdown_text", ""))
        message.edits.append(message.text)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _chat_startStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return self._stream_call("chat.startStream", params, token)

    def _chat_appendStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return self._stream_call("chat.appendStream", params, token)

    def _chat_stopStream(self, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        return self._stream_call("chat.stopStream", params, token)

    def calls_by_method(self, since: int) -> Counter[str]:
        return Counter(call.method for call in self.calls[since:])


class SlackUser:
    """Sends signed app_mention events to a bot's /slack/events, as Slack's Events API does.

    Each conversation is in a channel of its own, as in a busy workspace: a bot's per-channel
    rate budget then paces each reply, not every reply of the run at once.
    """

    def __init__(self, slack: BenchSlack, bot_url: str, connections: int = 100) -> None:
        self.slack = slack
        self.url = bot_url + "/slack/events"
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))
        self._channels: dict[str, str] = {}
        self._count = itertools.count(1)

    def new_channel(self) -> str:
        return f"C{next(self._count):08d}"

    def adopt(self, thread: str, channel: str) -> None:
        """A thread that exists in ``channel`` already (its history written beforehand)."""
        self._channels[thread] = channel

    async def close(self) -> None:
        await self._session.close()

    async def say(self, text: str, thread: str | None) -> tuple[str, int, float]:
        """Mention the bot (in ``thread``, or in a new one); the conversation's key, the watch mark, the time sent."""
        ts = new_ts()
        key = thread or ts
        channel = self._channels.get(key) or self.new_channel()
        self._channels[key] = channel
        event = mention(text, ts=ts, channel=channel, **({"thread_ts": thread} if thread else {}))
        body = json.dumps(envelope(event))
        headers = {"Content-Type": "application/json", **signed_headers(body)}
        mark = self.slack.watch.mark(key)
        sent = time.monotonic()
        async with self._session.post(self.url, data=body.encode(), headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the bot answered {response.status} to an event")
        return key, mark, sent


def slack_environ(slack: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": slack.api_url}


__all__ = ["BenchSlack", "SlackUser", "slack_environ"]
