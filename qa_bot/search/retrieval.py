"""Hybrid retrieval: BM25 on Indonesian-aware keywords plus dense vectors, ranked together.

Candidates come from both sides (the dense top 30 and the BM25 top 30). A small learned
ranker (:mod:`qa_bot.search.rank_features`, weights in ``qa_bot/search/ranker.json``) orders them by the
cosine, the hand fusion's keyword term below, the share of the question's keywords a chunk
holds, and how well its best sentence fits what the question asks for (a date for "kapan", a
figure for "berapa", a name for "siapa"). R@1 on the valid splits, TyDi QA / FacQA: ranker
0.851 / 0.762, hand fusion 0.831 / 0.759, dense alone 0.826 / 0.730, BM25 alone 0.706 /
0.752; the cross-lingual IndoSum set is unchanged (0.833). Chosen on the train splits
(5-fold cross-validated, TyDi 0.742 / FacQA 0.757 against the hand fusion's 0.735 / 0.752);
what else was tried (best-sentence similarity, title match) and the latency cost (p50 7.6 ->
12.0 ms on TyDi valid) are in ``benchmarks/ranking/README.md``.

The hand fusion, used when the retriever is built without a ranker: a candidate's score is
its cosine similarity to the question plus the keyword side's share:
``weight * coverage * sqrt(decisiveness) * bm25 / best_bm25``. Coverage is the share of the
question's keywords the corpus contains at all (an English question over Indonesian text
has almost none, and its BM25 ranking rests on accidents such as "the"); decisiveness is how
clearly BM25's best hit beats its second (flat rankings over long encyclopedic passages are
noise). Dividing by the best BM25 score keeps the weight independent of corpus and question
length.

Chosen, with an earlier setup (today's figures are in benchmarks/ranking/README.md), on
1,000 train questions each of FacQA (news) and TyDi QA Indonesian, R@1: this fusion with
weight 0.1 gave 0.715 / 0.722; the earlier weighted reciprocal rank fusion
0.714 / 0.693; dense alone 0.693 / 0.715; BM25 alone 0.718 / 0.533. Rank fusion topped out
below score fusion however it was tuned, because it throws away how far apart scores are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.corpus.index import CorpusIndex, KeywordHit, Snapshot
from qa_bot.corpus.store import ChunkStore
from qa_bot.models.embeddings import Embedder
from qa_bot.search.rank_features import Candidate, Question, Ranker, candidate_features, default_ranker
from qa_bot.types import Passage, SearchFilters, SourceCopy

if TYPE_CHECKING:
    from qa_bot.config import Settings


class HybridRetriever:
    """Retrieve passages for a question from a :class:`ChunkStore`.

    The keyword index and the near-duplicate groups come from the store's corpus index
    (:class:`qa_bot.corpus.index.CorpusIndex` in ``index_dir``, the store folder), which
    follows each committed generation and loads only what changed.

    ``ranker`` orders the candidates (:meth:`from_settings` gives the committed one); without
    it, the hand fusion does: a ranker weighing the cosine 1 and the keyword term
    ``keyword_weight`` (see the module doc).
    """

    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        index_dir: Path,
        *,
        candidates: int = 30,
        keyword_weight: float = 0.1,
        ranker: Ranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = CorpusIndex(store, Path(index_dir))
        self.candidates = candidates
        self.keyword_weight = keyword_weight
        self.ranker = ranker if ranker is not None else Ranker({"cosine": 1.0, "keyword": keyword_weight})

    @classmethod
    def from_settings(cls, store: ChunkStore, embedder: Embedder, settings: Settings) -> HybridRetriever:
        """The retriever with the settings of ``settings`` and the committed ranker (one
        place builds it)."""
        return cls(
            store,
            embedder,
            Path(settings.store_dir),
            candidates=settings.candidates,
            keyword_weight=settings.keyword_weight,
            ranker=default_ranker(),
        )

    def snapshot(self, view: tuple[int, bool] | None = None) -> Snapshot:
        """The keyword index and copy groups of the generation readers see (``view``: a
        :meth:`ChunkStore.view` already read)."""
        return self.index.snapshot(view)

    def candidate_pool(
        self,
        query: str,
        filters: SearchFilters | None = None,
        query_vector: list[float] | None = None,
        *,
        view: tuple[int, bool] | None = None,
    ) -> list[Candidate]:
        """Every candidate for ``query`` with its features (:mod:`qa_bot.search.rank_features`): the
        dense top ``candidates`` and then the BM25 top ``candidates`` it did not hold, in that
        order (what :meth:`retrieve` ranks; ``benchmarks/train_ranker.py`` trains on them).
        """
        view = view or self.store.view()
        return self._pool(query, filters, query_vector, view, self.snapshot(view))

    def _pool(
        self,
        query: str,
        filters: SearchFilters | None,
        query_vector: list[float] | None,
        view: tuple[int, bool],
        index: Snapshot,
    ) -> list[Candidate]:
        vector = query_vector if query_vector is not None else self.embedder.embed_query(query)
        dense = self.store.search(vector, self.candidates, filters, view=view)
        keyword = index.search(query, self.candidates, filters)
        # How far BM25 can be trusted for this question (see the module doc).
        trust = index.coverage(query) * math.sqrt(_decisiveness(keyword))
        best_bm25 = keyword[0].score if keyword else 0.0
        bm25 = {h.chunk_id: trust * h.score / best_bm25 for h in keyword} if best_bm25 > 0 else {}
        # A keyword-only candidate was not among the dense top: the weakest dense score there
        # stands in for its cosine (measured: same rankings as computing it exactly, for the
        # hand fusion and for the ranker).
        floor = dense[-1].score if dense else 0.0
        cosine = {p.chunk_id: p.score for p in dense}
        extra = [h.chunk_id for h in keyword if h.chunk_id not in cosine]
        question = Question.of(query)
        return [
            Candidate(
                p,
                candidate_features(
                    question, p.text, p.title, cosine.get(p.chunk_id, floor), bm25.get(p.chunk_id, 0.0)
                ),
            )
            for p in [*dense, *self.store.get(extra, view=view)]
        ]

    def retrieve(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None = None,
        query_vector: list[float] | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query`` (the ranker's score in ``Passage.score``: a
        cosine plus bonuses, so scores of one question compare).

        ``query_vector`` saves re-embedding when the caller already has it.
        """
        if k <= 0 or not query.strip():
            return []
        # One view of the store for the whole question: one metadata read, and no mix of two
        # generations if an ingest commits meanwhile.
        view = self.store.view()
        index = self.snapshot(view)
        pool = self._pool(query, filters, query_vector, view, index)
        scores = [self.ranker.score(c.features) for c in pool]
        # Ties keep the candidates' order (dense first). Headroom beyond k for passages of
        # syndicated copies, which are folded away.
        order = sorted(range(len(pool)), key=lambda i: -scores[i])[: 3 * k]
        return _fold_copies([_with_score(pool[i].passage, scores[i]) for i in order], index, k)

    def published_span(self) -> tuple[date, date] | None:
        """The first and last publication day in the store (None when no article is dated)."""
        span = self.snapshot().published_span()
        if span is None:
            return None
        return tuple(date(d // 10000, d // 100 % 100, d % 100) for d in span)  # type: ignore[return-value]

    def newest_first(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None = None,
        query_vector: list[float] | None = None,
        margin: float = 0.05,
    ) -> list[Passage]:
        """Passages of the newest relevant articles first, for "latest"/"terbaru" questions.

        Relevant means scoring within ``margin`` of the best candidate: fused scores of the
        e5 model are compressed (0.80-0.92 for on-topic passages on the multi-date test
        corpus, off-topic ones 0.05+ lower), so an absolute band around the best hit
        separates "about this story" from "about something else" better than a rank cut.
        Within the band, newer articles come first; undated ones last.
        """
        pool = self.retrieve(query, max(4 * k, 20), filters, query_vector=query_vector)
        if not pool:
            return []
        band = [p for p in pool if p.score >= pool[0].score - margin]
        band.sort(key=lambda p: (p.published[:10], p.score), reverse=True)
        return band[:k]


def _fold_copies(passages: list[Passage], index: Snapshot, k: int) -> list[Passage]:
    """The first ``k`` passages with each story once: a syndicated copy of an article already
    returned is dropped, and the kept passage names the copies (so the bot cites one and can
    name the rest). The best-scoring copy is the one kept."""
    kept: list[Passage] = []
    story_of: dict[str, str] = {}  # article id -> the article id kept for its story
    for p in passages:
        group = index.copies.get(p.article_id)
        if group is None:
            kept.append(p)
        else:
            chosen = story_of.setdefault(group["group"][0], p.article_id)
            if chosen != p.article_id:
                continue
            others = [
                SourceCopy(article_id=aid, **group["info"][aid])
                for aid in group["group"]
                if aid != p.article_id
            ]
            kept.append(replace(p, copies=tuple(others)))
        if len(kept) == k:
            break
    return kept


def _decisiveness(hits: Sequence[KeywordHit]) -> float:
    """How clearly BM25's best hit beats its second: (s1 - s2) / s1, 1 for a lone hit.

    BM25 is decisive on short news passages that repeat the question's words and vague on
    long encyclopedic ones; a flat ranking there is noise that should not outvote the
    dense side.
    """
    if not hits:
        return 0.0
    if len(hits) == 1:
        return 1.0
    return max(0.0, (hits[0].score - hits[1].score) / hits[0].score)


def _with_score(p: Passage, score: float) -> Passage:
    return replace(p, score=round(score, 6))
