"""``parley kb index [NAME]`` and ``parley kb search NAME QUERY``: the knowledge sources from the command line.

They run beside a running parley, on its Redis (``open_store(join=True)``, as the other admin commands do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Config
from bot.config_errors import ConfigError
from bot.knowledge.grounding import NEAR_BEST, Knowledge, relevant_hits
from bot.knowledge.index import FolderMissing, index_folder
from bot.knowledge.shelf import Shelf
from bot.runtime import open_store
from bot.store import Store

SEARCH_SHOWN = 5
PREVIEW_CHARS = 160


class KnowledgeCommands:
    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._knowledge = Knowledge(config, store)

    def _names(self, name: str | None) -> list[str]:
        """The sources a command is about: ``name``, or every one; ConfigError for an unknown one or none."""
        sources = self._config.knowledge
        if name is None and sources:
            return list(sources)
        if name is None or name not in sources:
            what = f"unknown knowledge source {name!r}" if name else "no knowledge source to index"
            raise ConfigError(f"{what}; {self._config.knowledge_names()}")
        return [name]

    async def index(self, name: str | None = None) -> str:
        """Index one source (or every one) incrementally; a report per source."""
        reports = []
        for each in self._names(name):
            try:
                report = await index_folder(each, self._config.knowledge[each], Shelf(self._store, each))
            except FolderMissing as error:
                raise ConfigError(f"[knowledge.{each}] path: {error}; give a folder of documents") from None
            reports.append(report.text())
        return "\n".join(reports)

    async def search(self, name: str, query: str, limit: int = SEARCH_SHOWN) -> str:
        """What a question would retrieve from a source: passages, scores, titles; LookupError if never indexed."""
        self._names(name)
        source = self._config.knowledge[name]
        if await self._knowledge.retriever(name) is None:
            raise LookupError(f"kb {name} is not indexed yet: run `parley kb index {name}` first")
        hits = await self._knowledge.search([name], query, max(limit, source.passages))
        usable = relevant_hits(hits[: source.passages], {name: source})
        rule = f"a score of {source.min_score:g} or more and {NEAR_BEST:.0%} of the best, {source.passages} at most"
        lines = [f"kb {name}: {len(hits)} passage(s) for {query!r} (used: {rule}, within the prompt's budget)"]
        for rank, hit in enumerate(hits, start=1):
            where = source.link(hit.passage.document) or hit.passage.document
            used = "" if hit in usable else "  (not used)"
            preview = " ".join(hit.passage.text.split())
            if len(preview) > PREVIEW_CHARS:
                preview = preview[:PREVIEW_CHARS].rstrip() + "..."
            lines += [f"{rank}. {hit.score:.2f}  {hit.passage.label}  ({where}){used}", f"   {preview}"]
        if not hits:
            lines.append('nothing matches: a question in a channel with grounded_only gets "I don\'t know"')
        return "\n".join(lines)


@asynccontextmanager
async def open_knowledge(config: Config) -> AsyncIterator[KnowledgeCommands]:
    """The knowledge commands, on the configured Redis (or a running parley's embedded one)."""
    async with open_store(config, join=True) as store:
        yield KnowledgeCommands(config, store)
