"""``parley feedback export``: a scripted helpdesk session's votes, as CSV and as JSON lines."""

from __future__ import annotations

import csv
import io
import json

from bot.conversation import Conversation
from bot.messages import Author
from bot.threads import ThreadKey
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import msg
from tests.support.parley_process import env, parley
from tests.support.recording_sink import RecordingSink

__all__ = ["env"]


async def test_the_export_holds_each_vote_once_with_what_was_asked(
    env: dict[str, str], core: Conversation, fake: FakeOpenAI
) -> None:
    sink = RecordingSink()
    fake.queue(Reply("Plug the printer in."), Reply("Use the VPN app."))
    await core.receive(msg("/set oncall @desk"), sink)
    await core.receive(msg("the printer is dead"), sink)
    printer = list(sink.messages)[-1]
    await core.receive(msg("VPN?", thread=ThreadKey("test", "W1", "C1", "t2")), sink)
    vpn = list(sink.messages)[-1]
    await core.desk.vote("test", printer, Author("U1", "Ann"), "up")
    await core.desk.vote("test", printer, Author("U1", "Ann"), "up")  # a second click: not counted
    await core.desk.vote("test", vpn, Author("U2", "Bob"), "down")
    await core.desk.explain("test", vpn, Author("U2", "Bob"), "we have no VPN app")

    code, out, err = await parley("feedback", "export", "--channel", "test:W1/C1", env=env)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["thread"], r["user"], r["vote"], r["reason"], r["question"], r["answer"]) for r in rows] == [
        ("t1", "U1", "up", "", "the printer is dead", "Plug the printer in."),
        ("t2", "U2", "down", "we have no VPN app", "VPN?", "Use the VPN app."),
    ]
    assert json.loads(rows[0]["settings"])["oncall"] == "@desk"

    code, out, err = await parley("feedback", "export", "--format", "jsonl", "--since", "2000-01-01", env=env)
    assert code == 0, err
    assert [json.loads(line)["vote"] for line in out.splitlines()] == ["up", "down"]

    code, out, err = await parley("feedback", "export", "--since", "2999-01-01", env=env)
    assert code == 0 and out.splitlines() == [",".join(("voted_at", "channel", "thread", "message", "user",
                                                        "user_name", "vote", "reason", "question", "answer",
                                                        "sources", "settings"))]  # fmt: skip

    code, _, err = await parley("feedback", "export", "--since", "yesterday", env=env)
    assert code == 2 and "not a date" in err
