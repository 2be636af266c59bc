"""Choosing the few sentences the model reads.

The default model reads about 50 prompt tokens a second, and a 1.5B model answers better
from a handful of relevant sentences than from whole chunks. Each retrieved chunk is split
into sentences; every sentence, and every run of two neighbouring sentences, is scored
against the question (dense similarity plus keyword overlap), and the best few runs become
the numbered snippets of the prompt.

Why runs of two: the sentence that answers often does not repeat the question's words
("... ujar penyerang berusia 32 tahun itu"), while the sentence before it names the topic;
scored together they rank where neither does alone. On the questions' own retrieved
passages the answer reached the model in 0.64 of the cross-lingual IndoSum questions with
single sentences and 0.81 with runs of two (TyDi 0.85 -> 0.91, FacQA 0.92 -> 0.96, valid),
for about 25% more prompt text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.hostile import flag_planted
from qa_bot.text import keyword_tokens, sentence_spans
from qa_bot.types import Passage

if TYPE_CHECKING:
    from qa_bot.answer.plan import QueryPlan
    from qa_bot.models.embeddings import Embedder
    from qa_bot.search.scoped import Retrieved


@dataclass(frozen=True)
class Snippet:
    """Sentences ``passage.text[start:end]`` of one retrieved passage."""

    passage: Passage
    start: int
    end: int
    score: float

    @property
    def text(self) -> str:
        return self.passage.text[self.start : self.end]


def select_snippets(
    question: str,
    question_vector: list[float] | None,
    passages: list[Passage],
    embedder: Embedder | None,
    max_snippets: int = 3,
    window: int = 2,
    max_window_chars: int = 400,
    min_chars: int = 25,
    relative_floor: float = 0.1,
) -> list[Snippet]:
    """The ``max_snippets`` best runs of up to ``window`` sentences of ``passages``, best
    first; a run of several sentences is a candidate only up to ``max_window_chars``, and
    a run scoring more than ``relative_floor`` below the best is left out (off-topic
    sentences cost prompt time and make the model doubt: on the sets above this kept the
    recall within a point and cut 5-21% of the prompt text).

    Sentences addressed to an AI model (:func:`qa_bot.hostile.flag_planted`) are never
    part of a run: the model must not read instructions planted in the corpus. The detector
    reads the vectors of the single-sentence runs, embedded for scoring anyway; only
    sentences shorter than ``min_chars`` (instructions can be short) are embedded for it
    alone."""
    sentences: list[tuple[int, int, int]] = []  # (passage index, start, end), all passages
    runs: list[tuple[int, int]] = []  # sentences[first:stop], of one passage
    for i, passage in enumerate(passages):
        first = len(sentences)
        sentences.extend((i, a, b) for a, b in sentence_spans(passage.text))
        for j in range(first, len(sentences)):
            for stop in range(j + 1, min(j + window, len(sentences)) + 1):
                start, end = sentences[j][1], sentences[stop - 1][2]
                if end - start >= min_chars and (stop == j + 1 or end - start <= max_window_chars):
                    runs.append((j, stop))
    if not runs:
        return []
    bounds = [(sentences[j][0], sentences[j][1], sentences[stop - 1][2]) for j, stop in runs]
    texts = [passages[i].text[start:end] for i, start, end in bounds]
    sentence_texts = [passages[i].text[a:b] for i, a, b in sentences]
    vectors = sentence_vectors = None
    if embedder is not None:
        # A sentence's vector is its single-sentence run's; one too short to be a run is
        # embedded for the detector alone.
        row = {j: n for n, (j, stop) in enumerate(runs) if stop == j + 1}
        short = [j for j in range(len(sentences)) if j not in row]
        row |= {j: len(runs) + n for n, j in enumerate(short)}
        vectors = embedder.encode_passages(texts + [sentence_texts[j] for j in short])
        sentence_vectors = vectors[[row[j] for j in range(len(sentences))]]
    hostile = flag_planted(sentence_texts, sentence_vectors, getattr(embedder, "name", None))
    kept = [n for n, (j, stop) in enumerate(runs) if not any(hostile[j:stop])]
    if not kept:
        return []
    candidates = [bounds[n] for n in kept]
    texts = [texts[n] for n in kept]
    dense = np.zeros(len(texts), dtype=np.float32)
    if embedder is not None:
        assert vectors is not None  # embedded above, under the same condition
        q = np.asarray(question_vector if question_vector is not None else embedder.embed_query(question))
        dense = vectors[kept] @ q
    q_tokens = set(keyword_tokens(question))
    lexical = np.array(
        [len(q_tokens & set(keyword_tokens(t))) / len(q_tokens) if q_tokens else 0.0 for t in texts],
        dtype=np.float32,
    )
    scores = dense + 0.1 * lexical
    snippets: list[Snippet] = []
    for idx in np.argsort(-scores, kind="stable"):
        if len(snippets) == max_snippets or (snippets and scores[idx] < snippets[0].score - relative_floor):
            break
        i, start, end = candidates[idx]
        if any(o.passage is passages[i] and o.start < end and start < o.end for o in snippets):
            continue  # overlaps a better run of the same passage
        snippets.append(Snippet(passages[i], start, end, float(scores[idx])))
    return snippets


def select_for(
    plan: QueryPlan, found: Retrieved, embedder: Embedder | None, max_snippets: int
) -> list[Snippet]:
    """The select stage: the sentences the model reads for ``plan`` from what was found."""
    readable = list(found.passages)
    if plan.scope is not None and plan.scope.recency and readable:
        # "Latest" asks for the newest article: given older ones too, the model often
        # answered from whichever sentence matched best.
        readable = [p for p in readable if p.article_id == readable[0].article_id]
    return select_snippets(plan.query, found.vector, readable, embedder, max_snippets=max_snippets)
