"""Which files parley reads, which models see images, and cutting text to a token count: pure rules."""

from __future__ import annotations

import pytest

from bot.attachments import cut_to_tokens
from bot.file_kinds import kind_of, size_text
from bot.prompt import estimate_tokens
from bot.vision import sees_images


@pytest.mark.parametrize(
    ("name", "media_type", "kind"),
    [
        ("notes.txt", "text/plain", "text"),
        ("README.md", "", "text"),
        ("data.csv", "text/csv; charset=utf-8", "text"),
        ("payload.json", "application/json", "text"),
        ("main.py", "application/octet-stream", "text"),
        ("Dockerfile", "", "text"),
        ("report.pdf", "application/pdf", "pdf"),
        ("scan", "application/pdf", "pdf"),
        ("diagram.png", "image/png", "image"),
        ("photo.JPG", "", "image"),
        ("icon.svg", "image/svg+xml", "text"),  # XML: read as text, not sent as an image
        ("setup.exe", "application/x-msdownload", None),
        ("archive.zip", "application/zip", None),
    ],
)
def test_kinds(name: str, media_type: str, kind: str | None) -> None:
    assert kind_of(name, media_type) == kind


def test_sizes_read_as_people_write_them() -> None:
    assert [size_text(n) for n in (300, 4_500, 2_500_000, 20_000_000)] == ["300 bytes", "4 KB", "2.5 MB", "20 MB"]


@pytest.mark.parametrize(
    ("model", "configured", "sees"),
    [
        ("gpt-4o-mini", None, True),
        ("openai/gpt-4.1", None, True),
        ("claude-sonnet-4-5", None, True),
        ("claude-3-5-haiku-latest", None, True),
        ("llama3.2-vision:11b", None, True),
        ("gpt-3.5-turbo", None, False),
        ("llama3.2:1b", None, False),
        (None, None, False),
        ("my-own-model", True, True),
        ("gpt-4o", False, False),
    ],
)
def test_which_models_see_images(model: str | None, configured: bool | None, sees: bool) -> None:
    assert sees_images(model, configured) is sees


def test_text_is_cut_to_a_token_count() -> None:
    text = "abcd" * 100 + "é" * 50
    assert cut_to_tokens(text, 1000) == text
    cut = cut_to_tokens(text, 110)
    assert estimate_tokens(cut) <= 110 < estimate_tokens(text[: len(cut) + 1])
    assert cut_to_tokens(text, 0) == ""
