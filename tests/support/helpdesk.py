"""The helpdesk corpus of the knowledge tests (tests/corpus/helpdesk), copied so that a test may change it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.documents import pdf

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "helpdesk"
BASE_URL = "https://wiki.example.com/help/"
PARENTAL_LEAVE = [
    "Parental leave",
    "The birth parent gets 16 weeks of fully paid parental leave.",
    "The other parent gets 6 weeks of fully paid parental leave, to be taken within a year of the birth.",
]


def helpdesk_copy(into: Path) -> Path:
    """A copy of the corpus, with a PDF added (hr/parental-leave.pdf, a page per line)."""
    folder = into / "helpdesk"
    shutil.copytree(CORPUS, folder)
    (folder / "hr" / "parental-leave.pdf").write_bytes(pdf(PARENTAL_LEAVE))
    return folder
