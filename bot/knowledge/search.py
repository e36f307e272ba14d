"""Offline retrieval: BM25 (bm25s) over a knowledge source's passages, English stemming (PyStemmer).

No model and no download: the index is built in memory from the passages stored in Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from bot.knowledge.passages import Passage

STOPWORDS = frozenset({"an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does",
    "doing", "for", "from", "had", "has", "have", "how", "if", "in", "into", "is", "it", "its", "me", "my", "of",
    "on", "or", "our", "please", "should", "so", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "would", "you", "your", "yours", "am", "been", "being", "get", "got", "hi", "hello", "thanks", "thank", "anyone",
    "someone", "any", "some", "not", "don", "doesn", "isn", "won",
    "about", "also", "just", "need", "want", "know", "tell", "like", "much", "many", "often", "still", "very",
    "really", "way", "here", "make"})  # fmt: skip
"""Words that say nothing about what a question is about (bm25s drops one-letter words itself)."""


@dataclass(frozen=True, slots=True)
class Hit:
    source: str
    """The knowledge source's name."""
    passage: Passage
    score: float


class Retriever:
    """The passages of one knowledge source, indexed for BM25 search. Building it is CPU work: use a thread."""

    def __init__(self, source: str, found: Sequence[Passage]) -> None:
        self.source = source
        self.passages = tuple(found)
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        if self.passages:
            corpus = bm25s.tokenize([p.searched for p in self.passages], stopwords=list(STOPWORDS),
                                    stemmer=self._stemmer, show_progress=False)  # fmt: skip
            self._bm25.index(corpus, show_progress=False)
            self._vocabulary = set(self._bm25.vocab_dict)
        else:
            self._vocabulary = set()

    def terms(self, query: str) -> list[str]:
        """The query's words as the index knows them (stemmed, stop words left out); unknown ones dropped."""
        tokens = bm25s.tokenize([query], stopwords=list(STOPWORDS), stemmer=self._stemmer, show_progress=False,
                                return_ids=False)  # fmt: skip
        return [term for term in tokens[0] if term in self._vocabulary]

    def search(self, query: str, limit: int) -> list[Hit]:
        """The best ``limit`` passages with a score above 0, best first."""
        terms = self.terms(query)
        if not terms:
            return []
        scores = np.asarray(self._bm25.get_scores(terms), dtype=float)
        best = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self.source, self.passages[int(i)], float(scores[i])) for i in best if scores[i] > 0]
