"""Incremental ingest: load, chunk, diff against the store, embed only what changed, write.

Per article the write order is: upsert the new chunks, re-stamp the unchanged ones, then
delete the old ones. An interrupted run can leave an article with a mix of old and new
chunks; the next run sees that its chunk ids or fingerprints do not match and finishes the
job, so the store converges.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa_bot.config import Settings, get_settings
from qa_bot.keyword import KeywordIndex, fingerprint
from qa_bot.retrieval import rebuild_keyword_index
from qa_bot.store import ArticleState, ChunkStore

from .chunking import Chunk, article_hash, chunk_article
from .loaders import Article, LoadError, discover, iter_articles
from .report import IngestReport

# (done, total, label) after each embedded batch; for progress bars in the CLI and the UI.
ProgressFn = Callable[[int, int, str], None]


@dataclass
class _Planned:
    article: Article
    chunks: list[Chunk]
    fingerprint: str
    state: ArticleState | None
    # Chunks whose id (index + text) the store lacks: only these get embedded; the rest of
    # a changed article keeps its vectors and just gets the new fingerprint.
    fresh: list[Chunk]


def ingest_path(
    path: str | Path,
    settings: Settings | None = None,
    *,
    store: ChunkStore | None = None,
    embedder=None,
    progress: ProgressFn | None = None,
    show_progress: bool = False,
) -> IngestReport:
    """Bring the store in line with the articles under ``path`` (a file or a folder).

    Articles previously ingested from files under ``path`` that are gone are removed;
    articles from elsewhere are left alone. Unreadable files are skipped and reported, and
    articles they held before are kept.

    Example:
        >>> report = ingest_path("corpus")        # doctest: +SKIP
        >>> print(report.render())                 # doctest: +SKIP
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    path = Path(path)
    files, unsupported = discover(path)  # before loading models: a wrong path fails fast
    if embedder is None:
        from qa_bot.models import load_embeddings

        embedder = load_embeddings(settings)
    if store is None:
        store = ChunkStore.from_settings(settings, embedder.name)
    report = IngestReport()
    for p, why in unsupported:
        report.skipped.append((str(p), why))
    articles: list[Article] = []
    kept_paths: set[str] = set()
    seen_ids: dict[str, str] = {}
    for file_path, loaded in iter_articles(files):
        if isinstance(loaded, LoadError):
            report.skipped.append((str(file_path), str(loaded)))
            kept_paths.add(str(file_path.resolve()))
            continue
        for problem in loaded.problems:
            report.skipped.append((str(file_path), problem))
            kept_paths.add(str(file_path.resolve()))
        for note in loaded.notes:
            report.notes.append((str(file_path), note))
        for article in loaded.articles:
            if article.id in seen_ids:
                report.skipped.append(
                    (
                        f"{file_path} ({article.id})",
                        f"duplicate article id, first seen in {seen_ids[article.id]}",
                    )
                )
                continue
            seen_ids[article.id] = str(file_path)
            articles.append(article)

    states = store.article_states()
    plans: list[_Planned] = []
    for article in articles:
        chunks = chunk_article(article, settings.chunk_max_chars)
        fp = article_hash(article, settings.chunk_max_chars)
        state = states.get(article.id)
        if state is not None and state.hashes == {fp} and state.chunk_ids == {c.id for c in chunks}:
            report.unchanged.append(article.id)
            if state.path != article.path:
                store.update_metadata([c.id for c in chunks], [c.metadata(article, fp) for c in chunks])
            continue
        known = state.chunk_ids if state else set()
        plans.append(_Planned(article, chunks, fp, state, [c for c in chunks if c.id not in known]))

    total = sum(len(plan.fresh) for plan in plans)
    bar = _progress_bar(total, show_progress) if total else None
    done = 0

    def on_batch(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if progress is not None:
            progress(done, total, "embedding")

    # Articles are embedded in groups so batches stay full (news articles have ~5 chunks),
    # and written right after, so an interruption loses at most one group of work.
    for group in _groups(plans, _GROUP_CHUNKS):
        new_chunks = [c for plan in group for c in plan.fresh]
        vectors = embedder.encode_passages([c.text for c in new_chunks], on_batch=on_batch)
        offset = 0
        for plan in group:
            mine = plan.fresh
            if mine:
                store.put(
                    [c.id for c in mine],
                    [c.text for c in mine],
                    vectors[offset : offset + len(mine)],
                    [c.metadata(plan.article, plan.fingerprint) for c in mine],
                )
                offset += len(mine)
                report.chunks_written += len(mine)
            if plan.state is None:
                report.added.append(plan.article.id)
                continue
            kept = [c for c in plan.chunks if c.id in plan.state.chunk_ids]
            store.update_metadata(
                [c.id for c in kept], [c.metadata(plan.article, plan.fingerprint) for c in kept]
            )
            stale = plan.state.chunk_ids - {c.id for c in plan.chunks}
            store.delete(sorted(stale))
            report.chunks_deleted += len(stale)
            report.updated.append(plan.article.id)
    if bar is not None:
        bar.close()

    present = {a.id for a in articles}
    scope = path.resolve()
    for article_id, state in sorted(states.items()):
        # Articles of files that failed or had bad lines stay: a broken file loses nothing.
        if article_id in present or not _within(state.path, scope) or state.path in kept_paths:
            continue
        store.delete(sorted(state.chunk_ids))
        report.chunks_deleted += len(state.chunk_ids)
        report.removed.append(article_id)

    # The keyword index follows the store: rebuilt when anything changed, or when it is
    # missing or stale (an earlier run was interrupted); left untouched otherwise.
    index_dir = Path(settings.store_dir)
    index = None if report.changed else KeywordIndex.load(index_dir)
    if index is None or index.fingerprint != fingerprint(store.ids()):
        rebuild_keyword_index(store, index_dir)
    report.seconds = time.perf_counter() - started
    return report


_GROUP_CHUNKS = 256


def _groups(plans: list[_Planned], size: int) -> list[list[_Planned]]:
    """Consecutive plans holding about ``size`` new chunks each."""
    groups: list[list[_Planned]] = []
    current: list[_Planned] = []
    count = 0
    for plan in plans:
        current.append(plan)
        count += len(plan.fresh)
        if count >= size:
            groups.append(current)
            current, count = [], 0
    if current:
        groups.append(current)
    return groups


def _within(file_path: str, scope: Path) -> bool:
    p = Path(file_path)
    return p == scope or scope in p.parents


def _progress_bar(total: int, show: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=not show)
