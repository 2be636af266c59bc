"""Sentence-aware chunks with provenance and deterministic ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ingest.article import Article
from qa_bot.text import sentence_spans


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article, with everything a citation needs."""

    id: str
    text: str
    article_id: str
    chunk_index: int
    start: int
    end: int

    def metadata(self, article: Article, article_hash: str) -> dict[str, str | int]:
        """Chroma metadata (no None values: Chroma rejects them; "" means unknown)."""
        meta: dict[str, str | int] = {
            "article_id": self.article_id,
            "article_hash": article_hash,
            "chunk_index": self.chunk_index,
            "start": self.start,
            "end": self.end,
            "title": article.title,
            "source": article.source,
            "url": article.url,
            "published": article.published,
            "language": article.language,
            "place": article.place,
            "path": article.path,
        }
        if article.published:
            # An integer day makes date ranges a plain numeric filter in Chroma.
            meta["published_day"] = int(article.published[:10].replace("-", ""))
        return meta


def chunk_spans(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Group consecutive sentences into spans of at most ``max_chars`` characters.

    A sentence is not cut: one longer than ``max_chars`` becomes a chunk of its own, unless
    it is longer than the embedding model reads (:data:`LONGEST_SENTENCE`; text without
    punctuation, a table flattened to one line): that is cut at spaces into pieces of at
    most ``max_chars``, so all of it is searchable.

    Example:
        >>> t = "Satu dua. Tiga empat. Lima enam."
        >>> [t[s:e] for s, e in chunk_spans(t, 21)]
        ['Satu dua. Tiga empat.', 'Lima enam.']
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    chunks: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for start, end in _fitting(text, sentence_spans(text), max_chars):
        if current is not None and end - current[0] <= max_chars:
            current = (current[0], end)
            continue
        if current is not None:
            chunks.append(current)
        current = (start, end)
    if current is not None:
        chunks.append(current)
    return chunks


# e5 reads 512 tokens, about 2,000 characters of Indonesian; no news sentence is this long.
LONGEST_SENTENCE = 2000


def _fitting(text: str, spans: Iterable[tuple[int, int]], max_chars: int) -> Iterator[tuple[int, int]]:
    """The sentence spans, with any longer than :data:`LONGEST_SENTENCE` cut at spaces (or,
    in a run without spaces, every ``max_chars``) into pieces of at most ``max_chars``."""
    for start, end in spans:
        if end - start <= LONGEST_SENTENCE:
            yield start, end
            continue
        while end - start > max_chars:
            cut = text.rfind(" ", start + 1, start + max_chars + 1)
            cut = cut if cut > start else start + max_chars
            piece_end = len(text[start:cut].rstrip()) + start
            yield start, piece_end
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            yield start, end


def chunk_article(article: Article, max_chars: int, version: str = "") -> list[Chunk]:
    """Split an article into chunks whose ids depend only on the article id, ``version``
    (the pipeline passes :func:`article_hash`) and content."""
    chunks = []
    for index, (start, end) in enumerate(chunk_spans(article.text, max_chars)):
        text = article.text[start:end]
        chunks.append(
            Chunk(
                id=chunk_id(article.id, index, text, version),
                text=text,
                article_id=article.id,
                chunk_index=index,
                start=start,
                end=end,
            )
        )
    return chunks


def chunk_id(article_id: str, index: int, text: str, version: str = "") -> str:
    """``<sha256(article_id)[:16]>-<version[:8]>-<index>-<sha256(text)[:12]>``: stable
    across runs and machines, distinct across articles, and changed whenever the chunk's
    text changes. With a version, every chunk of an edited article gets a new id, so the
    edit is written beside the old chunks and swapped in at once (see
    :mod:`qa_bot.corpus.store`); the text hash at the end lets unchanged text keep its vector."""
    a = hashlib.sha256(article_id.encode()).hexdigest()[:16]
    t = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{a}-{version[:8]}-{index}-{t}" if version else f"{a}-{index}-{t}"


def text_key(chunk_id: str) -> str:
    """The text-hash part of a chunk id: equal for chunks of one article with equal text."""
    return chunk_id.rpartition("-")[2]


def article_hash(article: Article, max_chars: int) -> str:
    """Fingerprint of everything that ends up in the store for this article.

    The chunk size is included so that changing it re-chunks every article. The file path
    is not: a moved corpus only needs its paths rewritten, not its chunks re-embedded.
    """
    payload = {
        "text": article.text,
        "title": article.title,
        "source": article.source,
        "url": article.url,
        "published": article.published,
        "language": article.language,
        "place": article.place,
        "max_chars": max_chars,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
