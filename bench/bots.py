"""Starting the bots under test as real processes: ``parley run`` and the floor bots, logs to files."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from tests.support.net import free_port

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PARLEY = str(Path(sys.executable).parent / "parley")


class Bot:
    """One bot process: its command, environment, log file, and (Slack) the port its HTTP server listens on."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], home: Path, port: int) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.home = home
        self.port = port
        self.log = home / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, env=self.env, cwd=self.home
            )

    async def wait_listening(self, limit: float = 60) -> None:
        """Until the bot's HTTP port takes connections."""
        async with asyncio.timeout(limit):
            while True:
                self.check_alive()
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    await writer.wait_closed()
                    return
                await asyncio.sleep(0.05)

    def check_alive(self) -> None:
        if self.process is not None and self.process.returncode is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}; its log: {self.log}")

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode


def parley_bot(executable: str, platform: str, env: dict[str, str], home: Path) -> Bot:
    port = free_port()
    command = [executable, "run", platform, "--host", "127.0.0.1", "--port", str(port)]
    return Bot("parley", command, env, home, port)


def floor_bot(platform: str, env: dict[str, str], home: Path) -> Bot:
    port = free_port()
    env = {**env, "BENCH_PORT": str(port), "PYTHONPATH": str(REPO)}
    return Bot("floor", [sys.executable, "-m", f"bench.floor_{platform}"], env, home, port)
