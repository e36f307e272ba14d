"""Pure: the sources footer under a grounded answer, and the passages as the prompt shows them.

The footer is Markdown (``[title](url)`` when the source has a ``base_url``): the terminal shows it as
written, and a chat platform renders the links, or its adapter converts Markdown links into its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.search import Hit

SOURCES = "Sources:"
SEPARATOR = " · "


@dataclass(frozen=True, slots=True)
class Citation:
    title: str
    url: str | None

    def markdown(self) -> str:
        title = self.title.replace("[", "(").replace("]", ")").strip()
        return f"[{title}]({self.url})" if self.url else title


def citations(hits: Sequence[Hit], sources: Mapping[str, KnowledgeConfig]) -> list[Citation]:
    """One citation per document, in the order of its best passage."""
    seen: dict[tuple[str, str], Citation] = {}
    for hit in hits:
        key = (hit.source, hit.passage.document)
        if key not in seen:
            source = sources.get(hit.source)
            seen[key] = Citation(hit.passage.title, source.link(hit.passage.document) if source else None)
    return list(seen.values())


def footer(cited: Sequence[Citation]) -> str:
    """The line that ends a grounded answer (after a blank line); "" with nothing to cite."""
    if not cited:
        return ""
    return f"\n\n{SOURCES} {SEPARATOR.join(citation.markdown() for citation in cited)}"


INSTRUCTIONS = (
    "Passages from the team's documents follow. Answer from them when they answer the question; when they "
    "do not, say that you do not know rather than guessing. Do not list sources: they are added below your answer."
)


def passage_block(number: int, hit: Hit) -> str:
    """One passage as the prompt shows it: its number, where it is from, its text."""
    return f"[{number}] {hit.passage.label}\n{hit.passage.text}"


def with_passages(system_prompt: str, blocks: Sequence[str]) -> str:
    """The system prompt with the passages after it."""
    return f"{system_prompt}\n\n{INSTRUCTIONS}\n\n" + "\n\n".join(blocks)
