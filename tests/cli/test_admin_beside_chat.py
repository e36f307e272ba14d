"""Admin commands while a parley runs on the default data directory's embedded Redis."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.redis_server import SOCKET_NAME
from tests.support.fake_openai import FakeOpenAI
from tests.support.parley_process import PARLEY, parley

CHANNEL = "console:local/terminal"


@pytest.fixture
def home() -> Iterator[Path]:
    """A short home directory: the embedded Redis's unix socket path must stay under 100 characters."""
    path = Path(tempfile.mkdtemp(prefix="ph"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def default_env(home: Path, fake: FakeOpenAI) -> dict[str, str]:
    """No REDIS_URL and no PARLEY_DATA_DIR: the per-user data directory under HOME, as for a new user."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "OPENAI_BASE_URL": fake.url}


async def test_admin_commands_work_while_parley_chat_runs(home: Path, fake: FakeOpenAI) -> None:
    env = default_env(home, fake)
    socket = home / ".local" / "share" / "parley" / "redis" / SOCKET_NAME
    chat = await asyncio.create_subprocess_exec(
        PARLEY, "chat", "--thread", "t", env=env, cwd=home,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert chat.stdin is not None and chat.stdout is not None
    try:
        chat.stdin.write(b"hello\n")
        await chat.stdin.drain()
        assert await asyncio.wait_for(chat.stdout.readline(), 30) == b"echo: hello\n"
        assert socket.exists(), "the chat runs the embedded Redis in the default data directory"

        code, out, err = await parley("channel", "set", CHANNEL, "temperature", "0.3", env=env)
        assert (code, out) == (0, f"temperature is now 0.3 in {CHANNEL}.\n"), err
        code, out, err = await parley("config", "show", CHANNEL, env=env)
        assert code == 0, err
        lines = {line.split()[0]: line for line in out.splitlines()[1:]}
        assert "0.3" in lines["temperature"] and "override" in lines["temperature"]
        code, out, err = await parley("usage", env=env)
        assert code == 0 and CHANNEL in out, err
        code, out, err = await parley("usage", CHANNEL, env=env)
        assert code == 0 and "1 replies" in out, err

        chat.stdin.write(b"and now?\n")
        await chat.stdin.drain()
        assert await asyncio.wait_for(chat.stdout.readline(), 30) == b"echo: and now?\n", "its Redis was left running"
        assert fake.requests[-1]["temperature"] == 0.3, "the override went to the Redis the chat uses"
        chat.stdin.close()
        assert await asyncio.wait_for(chat.wait(), 30) == 0
    finally:
        if chat.returncode is None:
            chat.kill()
            await chat.wait()
    assert not socket.exists(), "the chat stopped its Redis"

    code, out, err = await parley("channel", "unset", CHANNEL, "temperature", env=env)
    assert code == 0 and "Override of temperature removed" in out, err
    assert not socket.exists(), "with no parley running, the command started a Redis of its own, and stopped it"


async def test_a_second_chat_is_still_refused(home: Path, fake: FakeOpenAI) -> None:
    """Only the short admin commands join: a second chat would lose its Redis when the first one stops."""
    env = default_env(home, fake)
    first = await asyncio.create_subprocess_exec(
        PARLEY, "chat", env=env, cwd=home,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert first.stdin is not None and first.stdout is not None
    try:
        first.stdin.write(b"hello\n")
        await first.stdin.drain()
        assert await asyncio.wait_for(first.stdout.readline(), 30) == b"echo: hello\n"
        code, _, err = await parley("chat", env=env, stdin="hi\n")
        assert code == 2 and "another parley is already using the embedded Redis" in err
    finally:
        first.stdin.close()
        assert await asyncio.wait_for(first.wait(), 30) == 0
