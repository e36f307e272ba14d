"""A knowledge source's index in Redis: each file's fingerprint and passages, and a version that each change bumps.

Keys (built by the store's ``kb`` namespace, ``bot/keyvalue.py``):

- ``{prefix}:kb:{name}:files``  hash: a file's path in the folder -> JSON ``FileEntry``
- ``{prefix}:kb:{name}:version``  a counter, bumped by every change: a process rebuilds its search index when it moves

The index lives in Redis, not beside the data dir, so that every parley process that shares the Redis
answers from the same index (and the embedded Redis keeps it in the data dir anyway).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.knowledge.passages import Passage
from bot.store import Store

NAMESPACE = "kb"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """What the index knows of one file: its fingerprint (size, modification time, SHA-256) and passages."""

    size: int
    mtime_ns: int
    sha256: str
    title: str
    passages: tuple[Passage, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256, "title": self.title,
             "passages": [passage.to_json() for passage in self.passages]},
            ensure_ascii=False,
        )  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes | str) -> FileEntry:
        value: dict[str, Any] = json.loads(raw)
        found = tuple(Passage.from_json(item) for item in value["passages"])
        return cls(int(value["size"]), int(value["mtime_ns"]), str(value["sha256"]), str(value["title"]), found)


class Shelf:
    """One knowledge source's stored index."""

    def __init__(self, store: Store, name: str) -> None:
        space = store.namespace(NAMESPACE)
        self._redis = store.redis
        self._files = space.key(f"{name}:files")
        self._version = space.key(f"{name}:version")

    async def version(self) -> int | None:
        """The index's version; None when it was never indexed."""
        raw = await self._redis.get(self._version)
        return None if raw is None else int(raw)

    async def files(self) -> dict[str, FileEntry]:
        raw: Mapping[bytes | str, bytes | str] = await self._redis.hgetall(self._files)
        return {_text(path): FileEntry.from_json(value) for path, value in raw.items()}

    async def save(self, changed: Mapping[str, FileEntry], removed: Sequence[str]) -> int:
        """Store changed files and drop removed ones in one transaction; the new version."""
        async with self._redis.pipeline(transaction=True) as pipe:
            if changed:
                pipe.hset(self._files, mapping={path: entry.to_json() for path, entry in changed.items()})
            if removed:
                pipe.hdel(self._files, *removed)
            pipe.incr(self._version)
            results = await pipe.execute()
        return int(results[-1])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
