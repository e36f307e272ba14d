"""The `parley` command as a user runs it, as a real process: its environment, starting it, /healthz, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.support.config import TEST_KEY
from tests.support.fake_openai import FakeOpenAI

PARLEY = str(Path(sys.executable).parent / "parley")
UNCLEAN = ("traceback", "unclosed", "task was destroyed", "never awaited")
"""What a clean exit never logs (lower case): a crash, or a socket, session or task left behind."""


def user_env(redis_url: str, prefix: str, fake: FakeOpenAI, home: Path, **extra: str) -> dict[str, str]:
    """A user's environment: a base URL and a key, Redis given by REDIS_URL, nothing of the developer's."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": prefix,
        "PARLEY_DATA_DIR": str(home / "data"),
        "OPENAI_BASE_URL": fake.url,
        "OPENAI_API_KEY": TEST_KEY,
        **extra,
    }


@pytest.fixture
def env(redis_url: str, redis: Redis, prefix: str, fake: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    """``user_env`` for a test (``redis`` is here for its clean-up: the keys the processes wrote go when it ends)."""
    return user_env(redis_url, prefix, fake, tmp_path)


async def parley(*args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None) -> tuple[int, str, str]:
    """Run ``parley ARGS`` to its end: exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        PARLEY,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd or env["HOME"],  # never a developer's own ./parley.toml
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def start(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """Start ``parley ARGS`` (a server, e.g. ``run``) with no input; stop it with ``sigterm``."""
    return await asyncio.create_subprocess_exec(
        PARLEY, *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=env["HOME"],
    )  # fmt: skip


async def sigterm(process: asyncio.subprocess.Process) -> tuple[str, str]:
    """What ``docker stop`` does: SIGTERM, then ``finish``."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    return await finish(process)


async def finish(process: asyncio.subprocess.Process) -> tuple[str, str]:
    """Wait (generously) for ``process`` to exit; its stdout and stderr.

    Killed instead if it does not end in time (the test then fails on its exit status)."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return out.decode(), err.decode()


async def healthz(base: str, process: asyncio.subprocess.Process) -> object:
    """Poll ``base/healthz`` (up to 30 s) until it answers 200; its JSON."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            if process.returncode is not None:
                raise AssertionError(f"parley exited with {process.returncode}")
            try:
                async with session.get(base + "/healthz") as response:
                    if response.status == 200:
                        return await response.json()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("parley run never answered /healthz")


def assert_clean_exit(log: str, *secrets: str) -> None:
    """No traceback or leftover in the log, and none of ``secrets``."""
    for warning in UNCLEAN:
        assert warning not in log.lower(), log
    for secret in secrets:
        assert secret not in log, "a secret in the log"
