"""The text of an attached file: decoded text, or a PDF's text (pypdf). CPU work: run it in a thread."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

log = logging.getLogger(__name__)


class Unreadable(Exception):
    """The file is not what its name or type says (binary "text", a broken PDF)."""


def decoded(data: bytes) -> str:
    """A text file's content (UTF-8, else Latin-1); binary content is Unreadable."""
    if b"\x00" in data[:8192]:
        raise Unreadable("it is not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def pdf_text(data: bytes, max_pages: int) -> tuple[str, int]:
    """A PDF's text, page by page (at most ``max_pages``), and its number of pages."""
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = reader.pages
        texts = [(page.extract_text() or "").strip() for page in list(pages)[:max_pages]]
        return "\n\n".join(text for text in texts if text), len(pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        log.info("a PDF could not be read: %s", error)
        raise Unreadable("it is not a PDF parley can read") from None
