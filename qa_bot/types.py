"""The typed values the library returns (frozen, so callers can't corrupt shared results)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass(frozen=True)
class SourceCopy:
    """Another outlet's copy of the same story (a near-duplicate article)."""

    article_id: str
    title: str
    source: str
    url: str
    published: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its provenance and fused score."""

    chunk_id: str
    text: str
    article_id: str
    title: str
    source: str
    url: str
    published: str
    chunk_index: int
    start: int
    end: int
    score: float = 0.0
    # Near-duplicate articles of this one (same wire story elsewhere), which retrieval
    # folded into this passage instead of returning them again.
    copies: tuple[SourceCopy, ...] = ()


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer; ``number`` is what the answer text shows as [n].

    ``text`` is the whole passage (chunk); ``quote`` is the sentence(s) in it that support
    the answer, at ``text[quote_start:quote_end]``.
    """

    number: int
    text: str
    quote: str
    quote_start: int
    quote_end: int
    title: str
    source: str
    url: str
    published: str
    chunk_id: str
    article_id: str
    score: float
    start: int
    end: int
    copies: tuple[SourceCopy, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns: the answer text (with [n] markers) and its citations."""

    question: str
    text: str
    citations: tuple[Citation, ...]
    found: bool
    language: str
    passages: tuple[Passage, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    # The standalone question searched for, when a follow-up was rewritten ("" otherwise).
    rewritten: str = ""
    # The model's first-step probability of refusing (None when the model cannot report it).
    refusal_p: float | None = None

    def to_dict(self) -> dict:
        """Plain JSON-ready data (used by ``qa-bot ask --json`` and the app's API)."""
        return asdict(self)


@dataclass(frozen=True)
class Token:
    """A piece of the answer as the model streams it (before checking)."""

    text: str


@dataclass(frozen=True)
class Rewritten:
    """The standalone question a follow-up was rewritten into (before retrieval)."""

    text: str


@dataclass(frozen=True)
class CorpusSummary:
    """What the corpus covers, for saying so beside the chat and in "not in the corpus"."""

    articles: int
    sources: tuple[str, ...]  # outlets, most articles first
    first: date | None  # the earliest publication date (None: no article is dated)
    last: date | None
    undated: int  # articles without a publication date
    generation: int  # the store's committed generation (feedback records it)


@dataclass(frozen=True)
class SearchFilters:
    """Narrow retrieval to some sources and/or a published-date range (inclusive)."""

    sources: tuple[str, ...] = ()
    published_from: date | None = None
    published_to: date | None = None

    @property
    def empty(self) -> bool:
        return not self.sources and self.published_from is None and self.published_to is None
