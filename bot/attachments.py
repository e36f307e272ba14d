"""What parley reads of the files attached to a message, and what it tells the user about them.

Text files and PDFs become named blocks after the user's text, each cut to fit (with a note to the
model and one to the user); images become image parts for a model that sees them, and a
placeholder (``[image: diagram.png]``) in the text that the history keeps. Every file parley does
not read gets a one-line note at the start of the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.config import FilesConfig
from bot.file_kinds import image_type, kind_of, size_text
from bot.file_text import Unreadable, decoded, pdf_text
from bot.messages import Attachment, Image
from bot.prompt import estimate_tokens


def worth_fetching(name: str, media_type: str, size: int, limits: FilesConfig) -> bool:
    """Whether an adapter should download this file: a kind parley reads, within its size cap."""
    kind = kind_of(name, media_type)
    if kind is None:
        return False
    return size <= (limits.max_image_bytes if kind == "image" else limits.max_file_bytes)


@dataclass(frozen=True, slots=True)
class ReadFiles:
    text: str
    """The user's text with the files' text and the images' placeholders: the prompt's, and the history's."""
    images: tuple[Image, ...] = ()
    notes: tuple[str, ...] = ()
    """One line each, for the start of the reply."""


@dataclass(slots=True)
class _Reading:
    limits: FilesConfig
    room: int
    """Tokens the files' text may still take."""
    blocks: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_read: int = 0
    left_out: list[str] = field(default_factory=list)
    images_left_out: list[str] = field(default_factory=list)


async def read_files(
    text: str, files: Sequence[Attachment], limits: FilesConfig, *, vision: bool, room_tokens: int
) -> ReadFiles:
    """The message's text with what parley reads of ``files``, within ``room_tokens`` for their text."""
    reading = _Reading(limits, max(0, room_tokens))
    placeholders: list[str] = []
    for attachment in files:
        kind = kind_of(attachment.name, attachment.media_type)
        if kind == "image":
            placeholders.append(f"[image: {attachment.name}]")
            _image(reading, attachment, vision)
        elif kind is None:
            what = attachment.media_type or "an unknown type"
            reading.notes.append(f"I can't read {attachment.name} ({what}): I read text files, PDFs and images.")
        else:
            await _document(reading, attachment, kind == "pdf")
    if reading.left_out:
        names = ", ".join(reading.left_out)
        reading.notes.append(f"I read only the first {limits.max_files} files: {names} left out.")
    if reading.images_left_out:
        names = ", ".join(reading.images_left_out)
        reading.notes.append(f"I looked at only the first {limits.max_images} images: {names} left out.")
    if reading.unseen:
        reading.notes.append(f"This model cannot see images, so I did not look at {', '.join(reading.unseen)}.")
    parts = [text.strip(), *reading.blocks, " ".join(placeholders)]
    return ReadFiles("\n\n".join(part for part in parts if part), tuple(reading.images), tuple(reading.notes))


def _image(reading: _Reading, attachment: Attachment, vision: bool) -> None:
    if not vision:
        reading.unseen.append(attachment.name)
        return
    if len(reading.images) >= reading.limits.max_images:
        reading.images_left_out.append(attachment.name)
        return
    if _refused(reading, attachment, reading.limits.max_image_bytes) or attachment.data is None:
        return
    media_type = image_type(attachment.name, attachment.media_type)
    reading.images.append(Image(attachment.name, media_type, attachment.data))


async def _document(reading: _Reading, attachment: Attachment, pdf: bool) -> None:
    if reading.files_read >= reading.limits.max_files:
        reading.left_out.append(attachment.name)
        return
    if _refused(reading, attachment, reading.limits.max_file_bytes) or attachment.data is None:
        return
    reading.files_read += 1
    try:
        if pdf:
            content, pages = await asyncio.to_thread(pdf_text, attachment.data, reading.limits.max_pdf_pages)
            if pages > reading.limits.max_pdf_pages:
                reading.notes.append(
                    f"I read only the first {reading.limits.max_pdf_pages} pages of {attachment.name}."
                )
        else:
            content = await asyncio.to_thread(decoded, attachment.data)
    except Unreadable as error:
        reading.notes.append(f"I couldn't read {attachment.name}: {error}.")
        return
    if not content.strip():
        reading.notes.append(f"I found no text in {attachment.name}.")
        return
    reading.blocks.append(_block(reading, attachment.name, content.strip()))


def _refused(reading: _Reading, attachment: Attachment, limit: int) -> bool:
    """A file too large or not fetched: its note is added; True if it is not to be read."""
    if attachment.size > limit or (attachment.data is not None and len(attachment.data) > limit):
        size = max(attachment.size, len(attachment.data or b""))
        reading.notes.append(
            f"I didn't read {attachment.name}: it is {size_text(size)}, above the {size_text(limit)} I read per file."
        )
        return True
    if attachment.data is None:
        reading.notes.append(f"I couldn't read {attachment.name}: {attachment.problem or 'it could not be fetched'}.")
        return True
    return False


def _block(reading: _Reading, name: str, content: str) -> str:
    """The file, named, cut to its share of the room (and to ``max_file_chars``) with a note when too long."""
    budget = min(reading.room, estimate_tokens(content[: reading.limits.max_file_chars]))
    shown = cut_to_tokens(content[: reading.limits.max_file_chars], budget)
    reading.room -= estimate_tokens(shown)
    if len(shown) < len(content):
        reading.notes.append(f"{name} is long: I read its first {len(shown):,} of {len(content):,} characters.")
        shown += f"\n[... cut here: {len(content) - len(shown):,} more characters of {name} not shown]"
    return f'<file name="{name}">\n{shown}\n</file>'


def cut_to_tokens(text: str, tokens: int) -> str:
    """The longest start of ``text`` that the offline estimate puts at ``tokens`` or fewer."""
    if estimate_tokens(text) <= tokens:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low]
