"""Grounded answers: a channel's knowledge sources searched for each question, the best passages put in the prompt.

``Knowledge.ground`` is the one call a turn makes: it returns the settings whose system prompt carries the
passages (as many of the best as fit half the room the prompt leaves), the sources footer for the answer,
and whether to say "I don't know" instead of calling the model (``grounded_only`` and nothing relevant).
Each process keeps one BM25 index per source in memory and rebuilds it when the stored version moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.config import Config
from bot.knowledge.citations import INSTRUCTIONS, citations, footer, passage_block, with_passages
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.search import Hit, Retriever
from bot.knowledge.shelf import Shelf
from bot.prompt import MESSAGE_OVERHEAD, REPLY_PRIMING, estimate_tokens
from bot.settings import ChannelSettings
from bot.store import Store

log = logging.getLogger(__name__)

DONT_KNOW = (
    "I don't know: nothing in the documents I answer from covers this, and I would rather not guess. "
    "Would you like me to hand your question to a person?"
)
"""The answer of a ``grounded_only`` channel when its documents hold nothing relevant (the model is not called)."""
NEAR_BEST = 0.5
"""A passage is used only when it scores at least this share of the best one: a passage that matched one
word of the question beside one that matched them all would only add noise, and a wrong citation."""


def relevant_hits(found: Sequence[Hit], sources: Mapping[str, KnowledgeConfig]) -> list[Hit]:
    """The hits good enough to use: at least their source's ``min_score`` and ``NEAR_BEST`` of the best score."""
    floor = NEAR_BEST * max((hit.score for hit in found), default=0.0)
    return [hit for hit in found if hit.score >= max(floor, sources[hit.source].min_score)]


@dataclass(frozen=True, slots=True)
class Grounding:
    settings: ChannelSettings
    """The channel's settings, with the passages in the system prompt when there are any."""
    footer: str
    """The sources footer that ends the answer ("" when nothing was cited)."""
    hits: tuple[Hit, ...] = ()
    """The passages put in the prompt, best first."""
    unknown: bool = False
    """``grounded_only`` and nothing relevant retrieved: say ``DONT_KNOW``, and do not call the model."""


class Knowledge:
    """The knowledge sources of one process: their search indexes, kept in step with Redis."""

    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._indexes: dict[str, tuple[int, Retriever]] = {}
        self._building = asyncio.Lock()

    async def retriever(self, name: str) -> Retriever | None:
        """The search index of a source, as last indexed; None when it was never indexed."""
        shelf = Shelf(self._store, name)
        version = await shelf.version()
        if version is None:
            return None
        cached = self._indexes.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        async with self._building:  # one build at a time; a turn that waited finds it built
            cached = self._indexes.get(name)
            if cached is not None and cached[0] == version:
                return cached[1]
            files = await shelf.files()
            found = [passage for path in sorted(files) for passage in files[path].passages]
            retriever = await asyncio.to_thread(Retriever, name, found)
            self._indexes[name] = (version, retriever)
            log.info("kb %s: search index built from %d passages (version %d)", name, len(found), version)
            return retriever

    async def search(self, names: Sequence[str], query: str, limit: int) -> list[Hit]:
        """The best ``limit`` passages of these sources for ``query``, best first (scores above 0)."""
        hits: list[Hit] = []
        for name in names:
            retriever = await self.retriever(name)
            if retriever is not None:
                hits += retriever.search(query, limit)
        return sorted(hits, key=lambda hit: -hit.score)[:limit]

    async def ground(self, question: str, prompt_text: str, settings: ChannelSettings, window: int) -> Grounding:
        """What the channel's knowledge adds to this turn. ``prompt_text``: the user message as the prompt
        will hold it (files included); ``window``: the primary backend's context window."""
        if not settings.knowledge:
            return Grounding(settings, "")
        sources = self._config.knowledge
        names = [name for name in settings.knowledge if name in sources]
        limit = max((sources[name].passages for name in names), default=0)
        found = await self.search(names, question, limit)
        relevant = relevant_hits(found, sources)
        fixed = estimate_tokens(settings.system_prompt) + estimate_tokens(prompt_text) + 2 * MESSAGE_OVERHEAD
        room = (window - settings.max_tokens - fixed - REPLY_PRIMING) // 2  # the rest for the thread's history
        chosen: list[Hit] = []
        blocks: list[str] = []
        used = estimate_tokens(INSTRUCTIONS) + 2
        for hit in relevant:
            block = passage_block(len(blocks) + 1, hit)
            cost = estimate_tokens(block) + 1
            if used + cost <= room:
                chosen.append(hit)
                blocks.append(block)
                used += cost
        log.info("kb %s: %s", ", ".join(names), ", ".join(f"{hit.passage.label} ({hit.score:.2f})" for hit in found)
                 or "nothing found")  # fmt: skip
        if not chosen:
            return Grounding(settings, "", unknown=settings.grounded_only)
        grounded = settings.model_copy(update={"system_prompt": with_passages(settings.system_prompt, blocks)})
        return Grounding(grounded, footer(citations(chosen, sources)), tuple(chosen))
