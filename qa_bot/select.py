"""Choosing the few sentences the model reads.

The default model reads about 50 prompt tokens a second, and a 1.5B model answers better
from a handful of relevant sentences than from whole chunks. Each retrieved chunk is split
into sentences, every sentence is scored against the question (dense similarity plus
keyword overlap), and the best few become the numbered snippets of the prompt. A snippet
keeps the sentence before its best sentence when that sentence is short context (e.g. who
"pertemuan tersebut" refers to), so the model is not asked to resolve what it cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .text import keyword_tokens, sentence_spans
from .types import Passage


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
    embedder,
    max_snippets: int = 4,
    context_chars: int = 160,
    min_chars: int = 25,
) -> list[Snippet]:
    """The ``max_snippets`` best sentences of ``passages`` for ``question``, best first."""
    spans = [sentence_spans(p.text) for p in passages]
    candidates: list[tuple[int, int]] = []  # (passage index, sentence index)
    for i, passage_spans in enumerate(spans):
        candidates.extend((i, j) for j, (s, e) in enumerate(passage_spans) if e - s >= min_chars)
    if not candidates:
        return []
    texts = [passages[i].text[slice(*spans[i][j])] for i, j in candidates]
    dense = np.zeros(len(texts), dtype=np.float32)
    if embedder is not None:
        q = np.asarray(question_vector if question_vector is not None else embedder.embed_query(question))
        dense = embedder.encode_passages(texts) @ q
    q_tokens = set(keyword_tokens(question))
    lexical = np.array(
        [len(q_tokens & set(keyword_tokens(t))) / len(q_tokens) if q_tokens else 0.0 for t in texts],
        dtype=np.float32,
    )
    scores = dense + 0.1 * lexical
    snippets: list[Snippet] = []
    for idx in np.argsort(-scores, kind="stable"):
        if len(snippets) == max_snippets:
            break
        i, j = candidates[idx]
        s, e = spans[i][j]
        start = _with_context(spans[i][:j], s, context_chars, min_chars)
        if any(o.passage is passages[i] and o.start < e and start < o.end for o in snippets):
            continue  # overlaps a better snippet of the same passage (often as its context)
        snippets.append(Snippet(passages[i], start, e, float(scores[idx])))
    return snippets


def _with_context(before: list[tuple[int, int]], start: int, context_chars: int, min_chars: int) -> int:
    """Start of the snippet: the previous sentence's start when it is short context."""
    # A dateline or a heading ("Jakarta, CNN Indonesia —") is no context worth reading.
    if before and min_chars <= before[-1][1] - before[-1][0] <= context_chars:
        return before[-1][0]
    return start
