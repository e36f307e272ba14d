"""``[knowledge.NAME]``: a folder of documents that a channel's answers are grounded in."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_MIN_SCORE = 1.5
"""The BM25 score a passage needs to count as relevant. In a folder of a few dozen documents a question's rarer
word matched once scores about 3, a common one about 1; ``parley kb search`` shows a folder's scores."""


class KnowledgeConfig(BaseModel):
    """One knowledge source: where its documents are, how they are linked, what counts as relevant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path = Field(
        description="a folder of Markdown (.md), text (.txt), HTML (.html) and PDF (.pdf) files, read with its "
        "subfolders (relative to the directory parley is started in)"
    )
    base_url: str | None = Field(
        None, description="a document's link is base_url followed by its path in the folder, e.g. https://wiki/it/"
    )
    min_score: float = Field(
        DEFAULT_MIN_SCORE,
        ge=0,
        allow_inf_nan=False,
        description="the BM25 score a passage needs to be used (`parley kb search` shows the scores)",
    )
    passages: int = Field(4, ge=1, le=20, description="passages put in the prompt at most, 1 to 20")

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("a base_url starts with http:// or https://, e.g. https://wiki.example.com/it/")
        return value

    def link(self, relative: str) -> str | None:
        """The link of the document at ``relative`` (a path in the folder, with /), if base_url is set."""
        if self.base_url is None:
            return None
        return self.base_url.rstrip("/") + "/" + quote(relative, safe="/")
