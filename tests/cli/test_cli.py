"""The `parley` command as a user runs it: a real process, piped stdin, real Redis, the fake LLM."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot.redis_server import SOCKET_NAME
from tests.support.config import TEST_KEY, TEST_KEY_ENV
from tests.support.fake_openai import FakeOpenAI, HTTPError, Reply
from tests.support.parley_process import PARLEY, env, parley

__all__ = ["env"]


async def test_chat_reads_piped_lines_and_streams_replies(env: dict[str, str], fake: FakeOpenAI) -> None:
    fake.queue(Reply("Hello! How can I help?"), Reply("Because you asked."))
    code, out, err = await parley("chat", env=env, stdin="hi there\nwhy?\n")
    assert code == 0, err
    assert out == "Hello! How can I help?\nBecause you asked.\n"
    assert fake.requests[0]["model"] == "fake-model", "with no model configured, the first the server lists"
    assert [m["content"] for m in fake.requests[1]["messages"][1:]] == ["hi there", "Hello! How can I help?", "why?"]


async def test_a_named_thread_survives_a_restart(env: dict[str, str], fake: FakeOpenAI) -> None:
    code, _, err = await parley("chat", "--thread", "ada", env=env, stdin="My name is Ada.\n")
    assert code == 0, err
    code, _, err = await parley("chat", "--thread", "ada", env=env, stdin="What is my name?\n")
    assert code == 0, err
    contents = [m["content"] for m in fake.requests[-1]["messages"]]
    assert contents[1:] == ["My name is Ada.", "echo: My name is Ada.", "What is my name?"]

    await parley("chat", "--thread", "someone-else", env=env, stdin="Who am I?\n")
    assert [m["content"] for m in fake.requests[-1]["messages"]][1:] == ["Who am I?"]


async def test_in_chat_commands(env: dict[str, str], fake: FakeOpenAI) -> None:
    script = "/help\n/set temperature 7\n/set temperature 0.25\n/show\nhello\n/reset\nagain\n/unset temperature\n"
    code, out, err = await parley("chat", "--thread", "cmds", env=env, stdin=script)
    assert code == 0, err
    assert "/reset" in out and "/set" in out and "/unset" in out and "/show" in out
    assert "Not changed: temperature" in out and "Allowed: a number from 0 to 2" in out
    assert "temperature is now 0.25" in out
    assert "0.25" in out and "override" in out
    assert fake.requests[0]["temperature"] == 0.25
    assert [m["content"] for m in fake.requests[1]["messages"]][1:] == ["again"], "/reset forgot the thread"
    assert "Override of temperature removed" in out


async def test_embedded_redis_keeps_history_across_runs(tmp_path: Path, fake: FakeOpenAI) -> None:
    data = tmp_path / "data"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PARLEY_DATA_DIR": str(data), "OPENAI_BASE_URL": fake.url}
    code, out, err = await parley("chat", "--thread", "t", env=env, stdin="remember 42\n")
    assert (code, out) == (0, "echo: remember 42\n"), err
    assert (data / "redis" / "appendonly.aof").exists()
    assert not (data / "redis" / SOCKET_NAME).exists(), "the embedded Redis stops with parley"
    code, out, err = await parley("chat", "--thread", "t", env=env, stdin="what number?\n")
    assert code == 0, err
    assert [m["content"] for m in fake.requests[-1]["messages"]][1:3] == ["remember 42", "echo: remember 42"]


async def test_no_backend_says_what_to_set(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PARLEY_DATA_DIR": str(tmp_path / "d")}
    code, out, err = await parley("chat", env=env, stdin="hello\n", cwd=tmp_path)
    assert code != 0
    assert "OPENAI_API_KEY" in err and "OPENAI_BASE_URL=http://localhost:11434/v1" in err
    assert "Traceback" not in err + out


async def test_the_api_key_never_appears(env: dict[str, str], fake: FakeOpenAI, tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(f'[backends.main]\nbase_url = "{fake.url}"\napi_key_env = "{TEST_KEY_ENV}"\nmax_retries = 1\n')
    env = {**env, TEST_KEY_ENV: TEST_KEY, "PARLEY_CONFIG": str(config)}
    fake.queue(HTTPError(401, echo_key=True), HTTPError(500, echo_key=True), HTTPError(500, echo_key=True))
    code, out, err = await parley("chat", "-vv", env=env, stdin="hi\nhi again\n")
    assert code == 1, err  # both turns failed (issue 13: a script can tell)
    assert fake.headers[0]["Authorization"] == f"Bearer {TEST_KEY}", "the key was sent"
    assert "refused parley's credentials" in out and "unavailable" in out
    assert "401" in err and "500" in err, "the log has the detail"
    assert TEST_KEY not in out + err
    assert "SECRET" not in out + err, "not even a fragment of it"


async def test_config_check_points_at_the_problem(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    bad = tmp_path / "bad.toml"
    bad.write_text('[backends.main]\napi_key = "sk-oops"\n\n[[channels]]\nmatch = "slack:T1/C42"\ntemperature = 7\n')
    code, out, err = await parley("config", "check", str(bad), env=env)
    assert code != 0 and "Traceback" not in err
    assert "[backends.main]" in err and "api_key_env" in err
    assert "[[channels]] #1 (match = 'slack:T1/C42')" in err and "less than or equal to 2" in err

    good = tmp_path / "good.toml"
    good.write_text('[backends.local]\nbase_url = "http://127.0.0.1:11434/v1"\nmodel = "llama3.2"\n')
    code, out, err = await parley("config", "check", "--config", str(good), env=env)
    assert code == 0, err
    assert "OK" in out and "local" in out


async def test_channel_overrides_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        '[defaults]\ntemperature = 0.5\n\n[[channels]]\nmatch = "slack:*"\ntemperature = 0.7\nmax_tokens = 300\n'
    )
    env = {**env, "PARLEY_CONFIG": str(config)}
    code, out, err = await parley("config", "show", "slack:T1/C42", env=env)
    assert code == 0, err
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "0.7" in lines["temperature"] and "channel rule 1 (slack:*)" in lines["temperature"]

    code, out, err = await parley("channel", "set", "slack:T1/C42", "temperature", "1.5", env=env)
    assert code == 0, err
    code, out, err = await parley("channel", "set", "slack:T1/C42", "temperature", "9", env=env)
    assert code == 1 and "Not changed" in err
    code, out, err = await parley("config", "show", "slack:T1/C42", env=env)
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "1.5" in lines["temperature"] and "override" in lines["temperature"]
    assert "300" in lines["max_tokens"]

    code, out, err = await parley("channel", "unset", "slack:T1/C42", "temperature", env=env)
    assert code == 0 and "0.7" in out
    code, out, err = await parley("config", "show", "not-a-channel", env=env)
    assert code != 0 and "platform:workspace/channel" in err and "Traceback" not in err


async def test_a_key_read_from_a_secret_file_keeps_no_newline(env: dict[str, str], fake: FakeOpenAI) -> None:
    env = {**env, "OPENAI_API_KEY": TEST_KEY + "\n"}
    code, out, err = await parley("chat", "-v", env=env, stdin="hi\n")
    assert (code, out) == (0, "echo: hi\n"), err
    assert fake.headers[0]["Authorization"] == f"Bearer {TEST_KEY}"
    assert "SECRET" not in err


async def test_model_output_cannot_drive_the_terminal(env: dict[str, str], fake: FakeOpenAI) -> None:
    fake.queue(Reply("plain \x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07text\x07"))
    code, out, err = await parley("chat", env=env, stdin="colours?\n")
    assert (code, out) == (0, "plain red text\n"), err


async def test_input_that_is_not_utf8_is_answered(env: dict[str, str], fake: FakeOpenAI) -> None:
    process = await asyncio.create_subprocess_exec(
        PARLEY, "chat", env=env, cwd=env["HOME"],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(b"caf\xe9 ok\n"), timeout=60)
    assert process.returncode == 0, err
    assert out.decode() == "echo: caf\ufffd ok\n"


async def test_bad_redis_settings_get_a_clear_message(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = await parley("chat", env={**env, "REDIS_URL": "localhost:6379"}, stdin="hi\n")
    assert code == 2 and "redis://" in err and "Traceback" not in err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    no_url = {k: v for k, v in env.items() if k != "REDIS_URL"}
    code, _, err = await parley("chat", env={**no_url, "PARLEY_DATA_DIR": str(blocker / "data")}, stdin="hi\n")
    assert code == 2 and "cannot start the embedded Redis" in err and "PARLEY_DATA_DIR" in err
    assert "Traceback" not in err


def embedded_env(tmp_path: Path, fake: FakeOpenAI) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "OPENAI_BASE_URL": fake.url,
    }


async def start_chat(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        PARLEY, "chat", *args, env=env, cwd=env["HOME"],
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def wait_for_requests(fake: FakeOpenAI, count: int) -> None:
    for _ in range(600):
        if len(fake.requests) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the fake saw {len(fake.requests)} requests, not {count}")


async def chat_mid_reply(env: dict[str, str], fake: FakeOpenAI, thread: str) -> asyncio.subprocess.Process:
    """A chat process whose reply is still streaming (slowly) from the fake."""
    fake.queue(Reply("a slow answer that will not finish in time", chunk_size=3, delay=1.0))
    process = await start_chat(env, "--thread", thread)
    assert process.stdin is not None
    process.stdin.write(b"start\n")
    await process.stdin.drain()
    await wait_for_requests(fake, 1)
    return process


async def test_one_parley_per_embedded_redis(tmp_path: Path, fake: FakeOpenAI) -> None:
    env = embedded_env(tmp_path, fake)
    first = await start_chat(env, "--thread", "a")
    assert first.stdin is not None and first.stdout is not None
    first.stdin.write(b"hello\n")
    await first.stdin.drain()
    assert await asyncio.wait_for(first.stdout.readline(), 30) == b"echo: hello\n"

    code, _, err = await parley("chat", "--thread", "b", env=env, stdin="hi\n")
    assert code == 2 and "another parley is already using the embedded Redis" in err and "REDIS_URL" in err

    first.stdin.close()
    assert await asyncio.wait_for(first.wait(), 30) == 0


async def test_sigterm_mid_reply_cleans_up(tmp_path: Path, fake: FakeOpenAI) -> None:
    env = embedded_env(tmp_path, fake)
    first = await chat_mid_reply(env, fake, "t")
    first.terminate()
    assert await asyncio.wait_for(first.wait(), 30) == 128 + 15
    assert not (tmp_path / "data" / "redis" / SOCKET_NAME).exists(), "Redis was stopped"

    code, out, err = await parley("chat", "--thread", "t", env=env, stdin="again\n")
    assert (code, out) == (0, "echo: again\n"), err
    assert [m["content"] for m in fake.requests[-1]["messages"]][1:] == ["again"], "the cut turn was not stored"


async def test_a_killed_parley_leaves_nothing_in_the_way(tmp_path: Path, fake: FakeOpenAI) -> None:
    env = embedded_env(tmp_path, fake)
    first = await chat_mid_reply(env, fake, "k")
    first.kill()  # no cleanup at all: the embedded Redis and the thread's lock are left behind
    await first.wait()
    assert (tmp_path / "data" / "redis" / SOCKET_NAME).exists()

    code, out, err = await parley("chat", "--thread", "k", env=env, stdin="after the crash\n")
    assert (code, out) == (0, "echo: after the crash\n"), err
    assert not (tmp_path / "data" / "redis" / SOCKET_NAME).exists(), "the left-over Redis was shut down too"


async def test_run_without_a_platform_token_says_what_to_set(env: dict[str, str]) -> None:
    code, _, err = await parley("run", env=env)
    assert code == 2
    assert "SLACK_BOT_TOKEN" in err and "DISCORD_BOT_TOKEN" in err
