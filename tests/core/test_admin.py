"""The core's calls for the web console (``Conversation.admin``): channels, settings forms, audit, threads, usage."""

from __future__ import annotations

from bot.channels import Channels
from bot.commands import Command, Commands
from bot.config import ChannelRule
from bot.conversation import Conversation
from bot.messages import Author
from bot.store import Store
from bot.threads import ChannelKey, ThreadKey
from tests.support.fake_openai import FakeOpenAI
from tests.support.messages import THREAD, msg
from tests.support.recording_sink import RecordingSink

CHANNEL = THREAD.channel_key
ADMIN = Author("U1", "Ada", is_admin=True)


async def test_a_refused_value_gets_the_message_set_gives(core: Conversation) -> None:
    said = await core.run_command(Command("set", "temperature 7"), THREAD, ADMIN)
    edited = await core.admin.edited(CHANNEL, {"temperature": "7", "max_tokens": "1024"})
    assert edited.errors == [said]
    assert said.startswith("Not changed: temperature:")
    assert edited.changed == {"temperature": "7"}


async def test_a_tried_value_is_not_stored(core: Conversation) -> None:
    edited = await core.admin.edited(CHANNEL, {"temperature": "0.5", "stop": ""})
    assert edited.errors == []
    assert edited.settings.temperature == 0.5
    assert (await core.settings_for(CHANNEL)).temperature is None


async def test_saving_answers_as_set_and_show_has_it_at_once(core: Conversation) -> None:
    answers = await core.admin.save(CHANNEL, {"temperature": "0.3", "max_tokens": "1024", "model": ""}, "console admin")
    assert answers == [f"temperature is now 0.3 in {CHANNEL}."]
    show = await core.run_command(Command("show"), THREAD, ADMIN)
    assert "temperature" in show and "0.3" in show and "override" in show


async def test_every_change_is_audited_with_who_where_and_old_to_new(core: Conversation, store: Store) -> None:
    await core.run_command(Command("set", "temperature 0.2"), THREAD, ADMIN)
    await core.admin.save(CHANNEL, {"temperature": "0.9"}, "console admin")
    command_line = Commands(core.config, store, Channels(core.config, store))  # as open_commands builds them
    await command_line.run(Command("unset", "temperature"), THREAD, ADMIN, origin="command line")
    await core.run_command(Command("set", "temperature 9"), THREAD, ADMIN)  # refused: not audited
    entries = await core.admin.audit(CHANNEL)
    seen = [(e.who, e.origin, e.key, e.old, e.new) for e in entries]
    assert seen == [
        ("Ada (U1)", "command line", "temperature", "0.9", "(not set)"),
        ("console admin", "web console", "temperature", "0.2", "0.9"),
        ("Ada (U1)", "chat (test)", "temperature", "(not set)", "0.2"),
    ]
    assert all(e.channel == str(CHANNEL) for e in entries)
    assert [e.key for e in await core.admin.audit()] == ["temperature"] * 3
    assert [info.channel for info in await core.admin.channels()] == [CHANNEL]


async def test_threads_seen_listed_read_and_forgotten(core: Conversation, sink: RecordingSink) -> None:
    other = ThreadKey("test", "W1", "C1", "t2")
    await core.receive(msg("hello"), sink)
    await core.receive(msg("again", thread=other), sink)
    assert [info.channel for info in await core.admin.channels()] == [CHANNEL]
    threads = [thread for thread, _ in await core.admin.threads(CHANNEL)]
    assert threads == [other, THREAD]
    history = await core.admin.history(THREAD)
    assert [(m.role, m.content) for m in history] == [("user", "hello"), ("assistant", "echo: hello")]
    await core.admin.forget(THREAD)
    assert not await core.has_history(THREAD)
    assert [thread for thread, _ in await core.admin.threads(CHANNEL)] == [other]


async def test_a_playground_turn_uses_the_unsaved_settings(core: Conversation, fake: FakeOpenAI) -> None:
    sink = RecordingSink()
    edited = await core.admin.edited(CHANNEL, {"temperature": "1.5"})
    await core.admin.play(ThreadKey("test", "W1", "C1", "console-play"), "hi there", edited.settings, sink, "admin")
    assert fake.requests[-1]["temperature"] == 1.5
    assert list(sink.messages.values()) == ["echo: hi there"]
    usage = await core.admin.usage(CHANNEL, days=3)
    assert len(usage) == 3 and usage[-1].replies == 1 and usage[-1].tokens > 0


async def test_backends_are_listed_with_their_key_variable_only(core: Conversation) -> None:
    (backend,) = core.admin.backends()
    assert backend.name == "fake" and backend.api_key_env and backend.model == "fake-model"


async def test_a_channel_a_rule_names_is_listed(core: Conversation) -> None:
    assert await core.admin.channels() == []
    named = ChannelKey("test", "W9", "C9")
    core.config.channels.append(ChannelRule.model_validate({"match": str(named), "temperature": 0.1}))
    infos = await core.admin.channels()
    assert [info.channel for info in infos] == [named] and infos[0].last_active is None
