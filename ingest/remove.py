"""Removing articles from the store by id, whatever their source (``qa-bot remove ID``).

Ingest removes an article when its file leaves the folder it was ingested from; this
removes any article, including those that no ingest of a folder reaches (a file ingested
on its own, a fetched page, or an article a link once brought in). A removal is one store
generation, as an ingest is (see :mod:`qa_bot.corpus.store`): the articles' records are retired,
the corpus index of the new generation is written (:mod:`qa_bot.corpus.index`), one
metadata write commits it, and only then is anything deleted; killed at any point, the
store keeps answering from the last committed corpus. It takes the ingest lock, so it never
runs beside an ingest.

The article's source is not touched: if its file is still in a folder, the next ingest of
that folder adds it again, and the report says so.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ingest.fetch import is_url
from ingest.loaders import SUPPORTED_SUFFIXES
from ingest.report import printable
from qa_bot.config import Settings, get_settings
from qa_bot.corpus.index import CorpusIndex
from qa_bot.corpus.store import ArticleState, ChunkStore


@dataclass
class RemoveReport:
    """What a removal did: the ids removed, the ids the store does not hold, and notes on
    removed articles whose source would bring them back."""

    removed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (article id, note)
    suggestions: dict[str, list[str]] = field(default_factory=dict)  # unknown id -> close ids
    chunks_deleted: int = 0

    def render(self) -> str:
        """The human-readable report, one line per item (ids escaped as in the ingest report).

        Example:
            >>> print(RemoveReport(removed=["a"], unknown=["b"], chunks_deleted=3).render())
            Remove: removed 1, not found 1 (3 chunks deleted)
              removed: a
              not found: b: no article with this id in the store
        """
        lines = [
            f"Remove: removed {len(self.removed)}, not found {len(self.unknown)} "
            f"({self.chunks_deleted} chunks deleted)"
        ]
        lines += [f"  removed: {printable(article_id)}" for article_id in self.removed]
        lines += [f"  note: {printable(article_id)}: {printable(note)}" for article_id, note in self.notes]
        for article_id in self.unknown:
            close = self.suggestions.get(article_id)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            lines.append(f"  not found: {printable(article_id)}: no article with this id in the store{hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "removed": self.removed,
            "unknown": self.unknown,
            "notes": [{"id": i, "note": n} for i, n in self.notes],
            "suggestions": self.suggestions,
            "chunks_deleted": self.chunks_deleted,
        }


def remove_articles(
    ids: list[str], settings: Settings | None = None, *, store: ChunkStore | None = None
) -> RemoveReport:
    """Take the articles ``ids`` out of the store, as one committed generation.

    Ids the store does not hold are reported (with close matches), not an error: the
    others are still removed. No embedding model is loaded.

    Raises:
        StoreError: another ingest or removal holds the lock, or the store was written by
            another embedding model.

    Example:
        >>> report = remove_articles(["passwd"])   # doctest: +SKIP
        >>> print(report.render())                  # doctest: +SKIP
    """
    settings = settings or get_settings()
    if store is None:
        from qa_bot.models.embeddings import embedding_name

        store = ChunkStore.from_settings(settings, embedding_name(settings))
    report = RemoveReport()
    index = CorpusIndex(store, Path(settings.store_dir))
    with index.lock():
        write = index.begin()
        states = write.states()
        for article_id in dict.fromkeys(ids):  # each once, in the order given
            state = states.get(article_id)
            if state is None:
                report.unknown.append(article_id)
                close = difflib.get_close_matches(article_id, list(states), n=3)
                if close:
                    report.suggestions[article_id] = close
                continue
            write.retire(article_id)
            report.removed.append(article_id)
            report.chunks_deleted += len(state.chunk_ids)
            note = _comes_back(state)
            if note:
                report.notes.append((article_id, note))
        write.commit()
    return report


def _comes_back(state: ArticleState) -> str:
    """What would bring a removed article back, or "" when nothing would."""
    if is_url(state.path):
        return (
            f"it was fetched from {state.path}: ingesting that feed or page again adds it back "
            "while it still lists the article"
        )
    if not os.path.lexists(state.path) or Path(state.path).suffix.lower() not in SUPPORTED_SUFFIXES:
        # Gone, or no article file any ingest reads (an old store's /etc/passwd, read through
        # a link that is no longer followed): nothing brings it back.
        return ""
    if state.path.lower().endswith(".jsonl"):
        return (
            f"its file {state.path} is still there: the next ingest of its folder adds it again "
            "(take its line out of the file, or move or delete the file)"
        )
    return (
        f"its file {state.path} is still there: the next ingest of its folder adds it again "
        "(move or delete the file)"
    )
