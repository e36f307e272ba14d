"""CPU time and memory of a process and all its descendants, read from /proc (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after its closing one
    return raw[raw.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(root: int) -> float:
    """utime + stime of the tree, children already reaped included (cutime, cstime)."""
    total = 0
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # after the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14), counted from state = 0
            total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def _status_kib(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mib(root: int) -> float:
    """Resident memory of the tree now."""
    return sum(_status_kib(pid, "VmRSS") for pid in descendants(root)) / 1024


def peak_rss_mib(root: int) -> float:
    """The sum of each living process's own peak (VmHWM): an upper bound of the tree's peak."""
    return sum(_status_kib(pid, "VmHWM") for pid in descendants(root)) / 1024


class RssSampler:
    """Samples the tree's RSS every ``every`` seconds while it runs; ``peak`` is the highest sample."""

    def __init__(self, root: int, every: float = 0.1) -> None:
        self.root = root
        self.every = every
        self.peak = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib(self.root))
            await asyncio.sleep(self.every)

    def __enter__(self) -> RssSampler:
        self.peak = rss_mib(self.root)
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, rss_mib(self.root))
