"""Logs a team can follow: JSON lines, a trace id that follows a message from the queue through the worker, the
backend call and the reply, secrets masked, and no message text at INFO or above."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from adapters.cli import main, parse_args
from bot.config import ConfigError, load_config
from bot.conversation import Conversation
from bot.jobs import Job, Turn
from bot.logs import MASK, setup_logging
from bot.store import Store
from bot.trace import context_of, current_trace, in_trace, traced
from tests.support.chat_jobs import ChatHandler, chat_thread, payload, running, until
from tests.support.config import make_config
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.messages import msg
from tests.support.recording_sink import RecordingSink

SECRET = "sk-live-0123456789abcdef"
QUESTION = "zebra-quokka-71 what is the airspeed of a laden swallow"
ANSWER = "marmalade-platypus-93 is the answer, roughly"
QUIET = ("httpx", "httpcore", "bm25s")


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``setup_logging`` takes over the root logger: what pytest had there is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, found in quiet.items():
        logging.getLogger(name).setLevel(found)
    logging.captureWarnings(False)


def json_lines(err: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    return lines


# -- the trace ----------------------------------------------------------------------------
async def test_a_trace_holds_inside_its_block_and_in_the_tasks_started_there() -> None:
    assert current_trace() is None
    with traced() as outer:
        assert current_trace() == outer and len(outer) == 16
        with traced("abc") as inner:
            assert inner == "abc"
            assert await asyncio.create_task(_current()) == "abc", "a task inherits the trace"
        assert current_trace() == outer
    assert current_trace() is None


async def _current() -> str | None:
    return current_trace()


async def test_a_task_in_a_jobs_context_and_a_call_in_trace() -> None:
    assert await asyncio.create_task(_current(), context=context_of("job-trace")) == "job-trace"
    assert current_trace() is None, "the caller's context is not touched"

    @in_trace
    async def receive() -> str | None:
        return current_trace()

    with traced("caller"):
        assert await receive() == "caller", "the caller's trace is kept"
    first, second = await receive(), await receive()
    assert first and second and first != second, "a new one each time when the caller has none"


# -- the formats ---------------------------------------------------------------------------
def test_json_lines_carry_the_fields_and_mask_secrets(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [SECRET], "json")
    log = logging.getLogger("parley.test")
    log.info("outside any trace, key %s", SECRET)
    with traced("t-1"):
        log.warning("inside a trace, café ☕")
        try:
            raise RuntimeError(f"the backend echoed {SECRET}")
        except RuntimeError:
            log.exception("a failure with %s", SECRET)
    log.debug("not shown at INFO")
    err = capsys.readouterr().err
    assert SECRET not in err and "0123456789abcdef" not in err
    first, second, third = json_lines(err)
    assert list(first) == ["time", "level", "logger", "message"]
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "parley.test",
        f"outside any trace, key {MASK}",
    )
    assert first["time"].endswith("+00:00")
    assert (second["message"], second["trace_id"]) == ("inside a trace, café ☕", "t-1")
    assert err.isascii(), "escaped: valid JSON whatever stderr's encoding"
    assert third["level"] == "ERROR" and third["message"] == f"a failure with {MASK}"
    assert third["trace_id"] == "t-1"
    assert "RuntimeError: the backend echoed ***" in third["exception"] and "Traceback" in third["exception"]


def test_json_mode_sends_python_warnings_as_json_too(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("WARNING", [], "json")
    logging.getLogger("py.warnings").warning("a library's warning")  # what captureWarnings turns a warning into
    import warnings

    warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    lines = json_lines(capsys.readouterr().err)
    assert [line["logger"] for line in lines] == ["py.warnings", "py.warnings"]
    assert "deprecated thing" in lines[1]["message"]


def test_text_lines_stay_as_they_were(root_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [SECRET], "text")
    with traced("t-2"):
        logging.getLogger("parley.test").info("key %s", SECRET)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(f" INFO parley.test: key {MASK}")
    assert "t-2" not in line


def test_log_format_in_the_config_and_its_wrong_values(tmp_path: Path) -> None:
    assert load_config(None, {}).log_format == "text"
    assert load_config(None, {"PARLEY_LOG_FORMAT": "json"}).log_format == "json"
    path = tmp_path / "parley.toml"
    path.write_text('log_format = "yaml"\n')
    with pytest.raises(ConfigError) as raised:
        load_config(path, {})
    message = str(raised.value)
    assert "log_format" in message and "'text'" in message and "'json'" in message and "yaml" in message
    with pytest.raises(ConfigError, match="PARLEY_LOG_FORMAT"):
        load_config(None, {"PARLEY_LOG_FORMAT": "xml"})


@pytest.mark.parametrize(
    ("argv", "log_format"),
    [
        (["chat"], None),
        (["--log-format", "json", "chat"], "json"),
        (["run", "--log-format", "json"], "json"),
        (["--log-format", "json", "worker", "--log-format", "text"], "text"),
        (["--log-format", "json", "queue", "status"], "json"),
    ],
)
def test_the_log_format_flag_goes_before_or_after_the_command(argv: list[str], log_format: str | None) -> None:
    assert parse_args(argv).log_format == log_format


def test_a_wrong_log_format_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--log-format", "yaml", "chat"])
    assert "'text', 'json'" in capsys.readouterr().err


def test_a_configuration_error_is_one_json_line_when_the_logs_are_json(
    root_logging: None, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log collector reads every stderr line of a JSON-logging parley, its last words included: a config
    error (the flag asked for JSON, or the config did and loaded) is one JSON ERROR line, a message of several
    lines too; in text mode it stays ``parley: ...``."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PARLEY_LOG_FORMAT", "PARLEY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    bad = tmp_path / "bad.toml"
    bad.write_text('log_format = "yaml"\n')
    with pytest.raises(SystemExit) as exited:
        main(["--log-format", "json", "--config", str(bad), "run"])
    assert exited.value.code == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR" and "log_format" in line["message"] and "yaml" in line["message"]

    monkeypatch.setenv("PARLEY_LOG_FORMAT", "json")  # as Compose's .env.example sets it
    broken = tmp_path / "broken.toml"
    broken.write_text("history = [\n")
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(broken), "run"])  # the config cannot say it: the environment does
    assert exited.value.code == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR" and "broken.toml" in line["message"]

    with pytest.raises(SystemExit) as exited:
        main(["run"])  # no backend's key is set
    assert exited.value.code == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert line["level"] == "ERROR" and "no LLM backend configured" in line["message"] and "\n" in line["message"]

    monkeypatch.delenv("PARLEY_LOG_FORMAT")
    with pytest.raises(SystemExit):
        main(["run"])
    assert capsys.readouterr().err.startswith("parley: parley has no LLM backend configured")


# -- through the queue ---------------------------------------------------------------------
class TraceRecorder(ChatHandler):
    """Answers as ``ChatHandler`` does, noting the trace each job was answered in."""

    def __init__(self) -> None:
        super().__init__()
        self.traces: dict[str, str | None] = {}

    async def handle(self, job: Job, turn: Turn) -> None:
        self.traces[job.event_id] = current_trace()
        await super().handle(job, turn)


async def test_a_queued_message_is_answered_in_the_trace_its_ingress_started(core: Conversation, redis: Redis) -> None:
    thread, handler = chat_thread(), TraceRecorder()
    with traced() as started:
        assert await core.enqueue(thread, "E1", payload("traced"))
    assert await core.enqueue(thread, "E2", payload("untraced"))  # a trace of its own
    # An entry written before traces existed: no trace field at all.
    stream = core.queue.stream("chat", core.queue.shard_of(thread))
    fields = {"thread": json.dumps(["chat", "W1", "C1", "t1"]), "event": "E3", "seq": "3",
              "payload": json.dumps(payload("old"))}  # fmt: skip
    await redis.incr(f"{core.queue.prefix}:seq:{{{thread}}}")
    await redis.xadd(stream, fields)  # type: ignore[arg-type]
    async with running(core, {"chat": handler}):
        await until(lambda: len(handler.sink(thread).texts) == 3)
    assert handler.sink(thread).texts == ["echo: traced", "echo: untraced", "echo: old"]
    assert handler.traces["E1"] == started
    assert handler.traces["E2"] and handler.traces["E2"] != started
    assert handler.traces["E3"] and handler.traces["E3"] not in (started, handler.traces["E2"])


async def test_a_dead_letter_retried_keeps_its_trace(core: Conversation, fake: FakeOpenAI, store: Store) -> None:
    config = make_config(fake.url, store.prefix, queue={"reclaim_after": 0.5})
    core = Conversation(config=config, store=store, backends=core.backends)
    thread = chat_thread()
    with traced() as started:
        await core.enqueue(thread, "E1", payload("poisoned", poison=True))
    poisoned = ChatHandler()
    async with running(core, {"chat": poisoned}):
        await until(lambda: len(poisoned.told) == 1, limit=60)
    (dead,) = await core.queue.dead()
    assert await core.queue.retry(dead.id)
    handler = TraceRecorder()
    async with running(core, {"chat": handler}):
        await until(lambda: "E1" in handler.traces, limit=60)
    assert handler.traces["E1"] == started


async def test_no_message_text_or_answer_at_info_and_one_trace_from_queue_to_reply(
    root_logging: None, capsys: pytest.CaptureFixture[str], core: Conversation, fake: FakeOpenAI
) -> None:
    setup_logging("DEBUG", [SECRET], "json")
    fake.queue(Reply(ANSWER, chunk_size=5))
    thread, handler = chat_thread(), ChatHandler()
    with traced() as started:
        assert await core.enqueue(thread, "E1", payload(QUESTION))
    async with running(core, {"chat": handler}):
        await until(lambda: len(handler.sink(thread).texts) == 1 and not handler.active.get(thread))
    assert handler.sink(thread).texts == [ANSWER]
    lines = json_lines(capsys.readouterr().err)
    shown = [line for line in lines if line["level"] not in ("DEBUG",)]
    for line in shown:
        assert "zebra-quokka" not in json.dumps(line), line
        assert "marmalade-platypus" not in json.dumps(line), line
    traced_lines = [line["message"] for line in shown if line.get("trace_id") == started]
    assert any(text.startswith("answering job ") for text in traced_lines), traced_lines
    assert any(text.startswith("backend ") and " answered in " in text and " tokens" in text for text in traced_lines)
    assert any(text.startswith("reply posted: message ") for text in traced_lines), traced_lines


async def test_an_in_process_turn_logs_no_text_at_info(
    root_logging: None, capsys: pytest.CaptureFixture[str], core: Conversation, fake: FakeOpenAI
) -> None:
    setup_logging("DEBUG", [], "json")
    fake.queue(Reply(ANSWER))
    sink = RecordingSink()
    await core.receive(msg(QUESTION), sink)
    assert sink.texts == [ANSWER]
    lines = json_lines(capsys.readouterr().err)
    shown = [line for line in lines if line["level"] != "DEBUG"]
    assert shown, "the turn logged at INFO"
    assert all("zebra-quokka" not in json.dumps(line) and "marmalade" not in json.dumps(line) for line in shown)
    assert len({line.get("trace_id") for line in shown}) == 1 and shown[0].get("trace_id"), "one trace, started here"
