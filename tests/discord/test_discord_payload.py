"""What a queued Discord job carries from the ingress to a worker: read back as it was written, or refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters.discord.payload import BadPayload, FileRef, JobPayload, read
from bot.messages import Author
from bot.settings import ChannelSettings
from bot.threads import ThreadKey


def example(**changes: object) -> JobPayload:
    fields: dict[str, object] = {
        "delivery": "reply",
        "guild_id": "100",
        "channel_id": "200",
        "message_id": "300",
        "author": Author("400", "Alice", is_admin=True),
        "text": "why is the build red?",
        "mentioned": True,
        "is_dm": False,
        "bot_name": "parley",
        "received_at": datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
        "root": "250",
        "thread_name": "why is the build red?",
        "context": "chain",
        "files": (FileRef("http://cdn.example/a/report.pdf", "report.pdf", 1234, "application/pdf"),),
        "settings": ChannelSettings(temperature=0.3, reply_mode="reply"),
    }
    return JobPayload(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_payload_survives_json_and_rebuilds_the_message() -> None:
    written = example()
    payload = read(json.loads(json.dumps(written.to_json())))
    assert payload == written
    thread = ThreadKey("discord", "100", "200", "250")
    message = payload.message(thread)
    assert (message.thread, message.event_id, message.text, message.author) == (
        thread,
        "300",
        written.text,
        written.author,
    )
    assert message.mentioned and not message.is_dm
    assert message.style.phrase("/reset") == "@parley reset" and message.style.phrase("/show") == "/parley show"
    assert message.received_at == written.received_at


def test_a_payload_without_settings_leaves_them_to_the_worker() -> None:
    assert read(example(settings=None, root=None, context=None, files=()).to_json()).settings is None


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"delivery": "somewhere"},
        {"channel_id": "general"},
        {"author": "alice"},
        {"received_at": "yesterday"},
        {"context": "everything"},
        {"files": [{"url": "x"}]},
        {"settings": {"temperature": 9}},
    ],
)
def test_a_payload_of_another_shape_is_refused_with_a_reason(broken: dict[str, object]) -> None:
    data = {**example().to_json(), **broken} if broken else {}
    with pytest.raises(BadPayload):
        read(data)
