"""Retrieval within a question's time: narrowed to it, newest first, or its period preferred;
widened to every article when narrowing finds nothing and the question does not ask for the
news of that time."""

from __future__ import annotations

from dataclasses import dataclass

from qa_bot.search.retrieval import HybridRetriever
from qa_bot.time.question import TimeScope, narrow, no_articles_message, prefer_period
from qa_bot.types import Passage, SearchFilters


@dataclass(frozen=True)
class Retrieved:
    """The passages found for a query, and the query's vector (selection reuses it)."""

    passages: tuple[Passage, ...]
    vector: list[float]
    # Said instead of answering when the question asks for the news of a time that holds no
    # article ("" otherwise; the passages are empty then).
    message: str = ""


class ScopedRetriever:
    """The retrieve stage: hybrid retrieval within the question's time scope.

    Args:
        retriever: the hybrid retriever over the store.
        recency_margin: how much relevance a newer passage may give up to rank first in
            "latest" questions and among passages of a preferred period.
    """

    def __init__(self, retriever: HybridRetriever, recency_margin: float) -> None:
        self.retriever = retriever
        self.recency_margin = recency_margin

    def retrieve(
        self, query: str, k: int, filters: SearchFilters | None, scope: TimeScope | None, language: str
    ) -> Retrieved:
        """The ``k`` passages for ``query`` in ``scope``; a message in ``language`` when the
        question asks for the news of a time that holds no article."""
        vector = self.retriever.embedder.embed_query(query)
        passages = self._in_scope(query, k, filters, scope, vector)
        if not passages and scope is not None and scope.narrows and scope.has_range:
            span = self.retriever.published_span()
            if scope.news and span is not None and not self.retriever.snapshot().has_undated():
                return Retrieved((), vector, no_articles_message(scope, span, language))
            # Undated articles cannot be judged by the question's time (and "last year" may
            # be the article's own, as in IndoSum questions), and a question not asking for
            # the news of that time may be answered by an article of another: search them all.
            passages = self._in_scope(query, k, filters, None, vector)
        return Retrieved(tuple(passages), vector)

    def _in_scope(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None,
        scope: TimeScope | None,
        vector: list[float],
    ) -> list[Passage]:
        """Passages for ``query``: narrowed to the question's time range when it asks for news
        of that time, else with the articles published then ranked first (none hidden); for
        "latest" questions, newest first."""
        if scope is not None and scope.has_range and scope.narrows:
            filters = narrow(filters, scope.first, scope.last)
            if filters is None:
                return []  # the question's range and the caller's filters do not overlap
        if scope is not None and scope.recency:
            return self.retriever.newest_first(
                query, k, filters, query_vector=vector, margin=self.recency_margin
            )
        if scope is not None and scope.has_range and not scope.narrows:
            # When something happened, which later articles report too ("realisasi anggaran
            # KPK pada 2022" in a 2025 article): a preference among the relevant, no filter.
            pool = self.retriever.retrieve(query, max(4 * k, 20), filters, query_vector=vector)
            return prefer_period(pool, scope.first, scope.last, self.recency_margin, k)
        return self.retriever.retrieve(query, k, filters, query_vector=vector)
