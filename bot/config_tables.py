"""The core's own small config tables: ``[history]``, ``[files]``, ``[helpdesk]`` (``bot/config.py`` holds them)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class HistoryConfig(BaseModel):
    """``[history]``: how long threads are kept and how much of each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttl_days: float = Field(30.0, gt=0, le=36500, allow_inf_nan=False)
    max_turns: int = Field(100, ge=1, description="turns (a message and its answer) kept per thread")

    @property
    def ttl_seconds(self) -> int:
        return max(1, math.ceil(self.ttl_days * 86400))


class FilesConfig(BaseModel):
    """``[files]``: what parley reads of the files and images attached to a message it answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_files: int = Field(5, ge=0, le=50, description="text files and PDFs read per message")
    max_file_bytes: int = Field(10_000_000, ge=1, description="a larger text file or PDF is not read")
    max_file_chars: int = Field(20_000, ge=100, description="characters of one file's text in the prompt")
    max_pdf_pages: int = Field(100, ge=1, description="pages of a PDF read")
    max_images: int = Field(4, ge=0, le=20, description="images sent per message")
    max_image_bytes: int = Field(5_000_000, ge=1, description="a larger image is not sent")


DEFAULT_HANDOFF_PHRASES = ("talk to a human", "talk to a person", "speak to a human", "speak to a person",
                           "a real person", "human please")  # fmt: skip


class HelpdeskConfig(BaseModel):
    """``[helpdesk]``: how people ask a helpdesk channel (one whose ``oncall`` is set) for a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handoff_phrases: list[str] = Field(
        default_factory=lambda: list(DEFAULT_HANDOFF_PHRASES),
        max_length=50,
        description="a message containing one of these (any case) hands its thread to the channel's oncall",
    )


class QueueConfig(BaseModel):
    """``[queue]``: the durable queue between accepting a message and answering it (``bot/queue.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reclaim_after: float = Field(30.0, gt=0, le=86400, allow_inf_nan=False)
    """Seconds a taken job may go without its worker's heartbeat before another worker takes it over."""
    max_attempts: int = Field(3, ge=1, le=100)
    """Tries of one job before it goes to the dead letters (and the user is told)."""
    drain_seconds: float = Field(20.0, ge=0, le=3600, allow_inf_nan=False)
    """On shutdown, seconds the jobs being answered get to finish; the rest stay queued for another worker."""
    shards: int = Field(1, ge=1, le=1024)
    """Streams the queue is split into, by a hash of the thread."""
    concurrency: int = Field(100, ge=1, le=10_000)
    """Jobs one worker answers at once."""
