"""``parley kb index``: a knowledge folder into its index, incrementally.

A file whose size and modification time are the ones indexed is not read again; one whose time moved
but whose SHA-256 is the same is not parsed again (only its time is kept). Only new and changed files
are parsed and cut into passages; files gone from the folder are dropped from the index.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.file_text import Unreadable
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.documents import kind_of, read_document
from bot.knowledge.passages import passages
from bot.knowledge.shelf import FileEntry, Shelf

log = logging.getLogger(__name__)


class FolderMissing(Exception):
    """A knowledge source's path is not a folder parley can read."""


@dataclass(slots=True)
class IndexReport:
    name: str
    folder: Path
    indexed: list[str] = field(default_factory=list)
    """New or changed files, parsed and cut into passages again."""
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    """Files that could not be read, and why (left out of the index)."""
    passages: int = 0
    files: int = 0

    def text(self) -> str:
        lines = [
            f"kb {self.name} ({self.folder}): {self.files} files, {self.passages} passages: "
            f"{len(self.indexed)} indexed, {self.unchanged} unchanged, {len(self.removed)} removed"
        ]
        lines += [f"  indexed: {path}" for path in self.indexed]
        lines += [f"  removed: {path}" for path in self.removed]
        lines += [f"  not read: {path} ({why})" for path, why in self.unreadable]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Found:
    path: Path
    size: int
    mtime_ns: int


def _scan(folder: Path) -> dict[str, _Found]:
    """The folder's readable files by their path in it (with /), hidden files and folders left out."""
    if not folder.is_dir():
        raise FolderMissing(f"{folder} is not a folder")
    found: dict[str, _Found] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in relative.split("/")) or kind_of(relative) is None:
            continue
        if path.is_file():
            stat = path.stat()
            found[relative] = _Found(path, stat.st_size, stat.st_mtime_ns)
    return found


def _entry(relative: str, found: _Found, known: FileEntry | None) -> tuple[FileEntry, bool]:
    """The file's index entry, and whether it was parsed again (its content is new)."""
    data = found.path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if known is not None and known.sha256 == digest:
        return FileEntry(len(data), found.mtime_ns, digest, known.title, known.passages), False
    document = read_document(relative, data)
    cut = tuple(passages(relative, document))
    return FileEntry(len(data), found.mtime_ns, digest, document.title, cut), True


async def index_folder(name: str, source: KnowledgeConfig, shelf: Shelf) -> IndexReport:
    """Bring the stored index of ``name`` up to date with its folder (raises FolderMissing)."""
    folder = source.path.expanduser()
    report = IndexReport(name, folder)
    found = await asyncio.to_thread(_scan, folder)
    known = await shelf.files()
    changed: dict[str, FileEntry] = {}
    kept: dict[str, FileEntry] = {}
    for relative, stat in found.items():
        entry = known.get(relative)
        if entry is not None and (entry.size, entry.mtime_ns) == (stat.size, stat.mtime_ns):
            kept[relative] = entry
            report.unchanged += 1
            continue
        try:
            fresh, parsed = await asyncio.to_thread(_entry, relative, stat, entry)
        except (Unreadable, OSError) as error:
            report.unreadable.append((relative, str(error)))
            continue
        changed[relative] = kept[relative] = fresh
        if parsed:
            report.indexed.append(relative)
        else:
            report.unchanged += 1
    unreadable = {path for path, _ in report.unreadable}
    report.removed = sorted(path for path in known if path not in found or path in unreadable)
    if changed or report.removed or await shelf.version() is None:
        await shelf.save(changed, report.removed)
    report.files = len(kept)
    report.passages = sum(len(entry.passages) for entry in kept.values())
    return report
