"""Which attached files parley reads, and what it tells the user about the others: pure rules, no I/O."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

Kind = Literal["text", "pdf", "image"]

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
"""What both OpenAI's and Anthropic's APIs take as image parts."""
TEXT_TYPES = {
    "application/json",
    "application/xml",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/javascript",
    "application/x-javascript",
    "application/typescript",
    "application/x-sh",
    "application/x-python",
    "application/sql",
    "application/csv",
    "application/x-ndjson",
}
TEXT_SUFFIXES = {
    ".txt", ".md", ".markdown", ".rst", ".csv", ".tsv", ".json", ".jsonl", ".yaml", ".yml", ".toml", ".ini",
    ".cfg", ".conf", ".xml", ".html", ".htm", ".css", ".log", ".sql", ".sh", ".bash", ".zsh", ".py", ".pyi",
    ".js", ".mjs", ".ts", ".tsx", ".jsx", ".go", ".rs", ".java", ".kt", ".kts", ".scala", ".c", ".h", ".cc",
    ".cpp", ".hpp", ".cs", ".rb", ".php", ".swift", ".m", ".r", ".lua", ".pl", ".hs", ".ex", ".exs", ".erl",
    ".clj", ".dart", ".vue", ".svelte", ".tf", ".proto", ".graphql", ".diff", ".patch", ".env", ".dockerfile",
}  # fmt: skip
IMAGE_SUFFIXES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                  ".webp": "image/webp"}  # fmt: skip
TEXT_NAMES = {"dockerfile", "makefile", "readme", "license", "changelog"}


def kind_of(name: str, media_type: str) -> Kind | None:
    """What parley reads the file as, by its media type or else its name; None: a kind it cannot read."""
    media = media_type.split(";")[0].strip().lower()
    suffix = PurePath(name.lower()).suffix
    if media == "application/pdf" or suffix == ".pdf":
        return "pdf"
    if media in IMAGE_TYPES or (not media.startswith("image/") and suffix in IMAGE_SUFFIXES):
        return "image"
    if media.startswith("text/") or media in TEXT_TYPES or media.endswith(("+json", "+xml")):
        return "text"
    if suffix in TEXT_SUFFIXES or PurePath(name.lower()).name in TEXT_NAMES:
        return "text"
    return None


def image_type(name: str, media_type: str) -> str:
    """An image's media type, from the platform or else its name."""
    media = media_type.split(";")[0].strip().lower()
    return media if media in IMAGE_TYPES else IMAGE_SUFFIXES.get(PurePath(name.lower()).suffix, "image/png")


def size_text(size: int) -> str:
    """A size as people read it: 20 MB, 512 KB, 300 bytes."""
    if size >= 1_000_000:
        return f"{size / 1_000_000:.0f} MB" if size >= 10_000_000 else f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size // 1_000} KB"
    return f"{size} bytes"
