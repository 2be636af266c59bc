"""Incremental ingest: load, chunk, diff against the store, embed only what changed, write.

A run is one store generation (see :mod:`qa_bot.corpus.store`): new and edited articles are
written as new records beside the corpus readers see, replaced and removed ones are marked
retired, the keyword index of the new generation is saved, and one metadata write commits
it; only then is anything deleted. Killed at any point, the store keeps answering from the
last committed corpus, and the next run reuses what the killed one wrote and finishes.
One ingest at a time: a second one is refused while the first holds the lock.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.article import Article, LoadedFile, LoadError
from ingest.chunking import Chunk, article_hash, chunk_article, text_key
from ingest.fetch import Fetcher, is_url
from ingest.loaders import SUPPORTED_SUFFIXES, iter_articles, scan
from ingest.report import IngestReport
from ingest.web import load_url
from qa_bot.config import Settings, get_settings
from qa_bot.corpus.catalog import ArticleStates
from qa_bot.corpus.index import CorpusIndex
from qa_bot.corpus.index_write import IndexWrite
from qa_bot.corpus.store import ArticleState, ChunkStore
from qa_bot.hostile import detect_planted
from qa_bot.text import sentence_spans

if TYPE_CHECKING:
    from tqdm import tqdm

    from qa_bot.models.embeddings import Embedder

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
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    show_progress: bool = False,
    fetcher: Fetcher | None = None,
) -> IngestReport:
    """Bring the store in line with the articles at ``path``: a file, a folder, or an
    http(s) URL of an RSS/Atom feed or a news page (a ``str``).

    Articles previously ingested from files under ``path`` that are gone are removed;
    articles from elsewhere are left alone. Unreadable files are skipped and reported, and
    articles they held before are kept. A feed (URL or file) only adds and updates: it
    lists just its newest items, so articles it no longer lists stay. A feed item that
    got a new id but has the URL of an article already stored updates that article.
    ``fetcher`` defaults to one built from ``settings`` (timeout, retries).

    Raises:
        LoadError: ``path`` does not exist, or the URL cannot be fetched or holds no
            feed or article; the store is left as it was.

    Example:
        >>> report = ingest_path("corpus")        # doctest: +SKIP
        >>> report = ingest_path("https://www.antaranews.com/rss/terkini.xml")  # doctest: +SKIP
        >>> print(report.render())                 # doctest: +SKIP
    """
    started, started_wall = time.perf_counter(), time.time()
    settings = settings or get_settings()
    report = IngestReport()
    url = path.strip() if isinstance(path, str) and is_url(path) else None
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher.from_settings(settings)
    loaded: list[tuple[str | Path, LoadedFile | LoadError]] = []
    scope: Path | None = None  # the folder or file whose vanished articles are removed
    link_targets: frozenset[str] = frozenset()  # where the links not followed point
    files: list[Path] = []
    # A wrong path or a dead feed fails fast, before the store is opened or a model loaded.
    try:
        if url is not None:
            loaded = [(url, load_url(url, fetcher))]
        else:
            found = scan(Path(path))
            for p, why in found.skipped:
                report.skipped.append((str(p), why))
            files = list(found.files)
            scope, link_targets = found.scope, found.link_targets
        if store is None:
            from qa_bot.models.embeddings import embedding_name

            store = ChunkStore.from_settings(
                settings, embedder.name if embedder else embedding_name(settings)
            )
        index = CorpusIndex(store, Path(settings.store_dir))
        with index.lock():
            write = index.begin()
            # Files whose size, times and inode are those recorded when they were last read
            # whole are not read again: an unchanged archive costs a stat per file.
            signatures = file_signatures(files, loader_key(settings), since=started_wall)
            settled = write.unchanged_files(signatures)
            loaded += iter_articles(
                [f for f in files if _key(f) not in settled], fetcher, settings.max_file_mb
            )
            plan = plan_changes(
                loaded,
                write.states(),
                settings,
                scope,
                report,
                leftovers=write.generation.leftovers,
                link_targets=link_targets,
                settled=write.articles_in_files(settled),
            )
            if plan.writes and embedder is None:
                from qa_bot.models.embeddings import load_embeddings

                loading = time.perf_counter()
                embedder = load_embeddings(settings)
                report.model_seconds = time.perf_counter() - loading
            apply_plan(plan, write, embedder, report, progress, show_progress)  # type: ignore[arg-type]
            write.record_files({k: v for k, v in signatures.items() if k in plan.clean_files or k in settled})
            write.commit()
    finally:
        if own_fetcher:
            fetcher.close()
    # Near-duplicates of this run's new and changed articles were found at the commit.
    for article_id in (*report.added, *report.updated):
        others = write.copies.get(article_id)
        if others:
            report.notes.append(
                (article_id, f"same story as {', '.join(others)}: answers cite one copy and name the rest")
            )
    report.seconds = time.perf_counter() - started
    return report


def _key(path: Path | str) -> str:
    """A file as the catalog names it: the article's own path (see make_article: absolute,
    links not resolved)."""
    return os.path.abspath(path)


def loader_key(settings: Settings) -> str:
    """What else decides the articles and chunks read from a file: the settings that shape
    them and the code that reads and cuts them. A file read under another key is read again."""
    h = hashlib.sha256(
        f"{settings.chunk_max_chars}|{settings.max_article_chars}|{settings.max_file_mb}".encode()
    )
    for module in ("article", "loaders", "chunking", "html", "feeds"):
        h.update((Path(__file__).parent / f"{module}.py").read_bytes())
    return h.hexdigest()[:16]


# A file changed this close to the start of a run is read again next time (see file_signatures).
RACY_SECONDS = 2.0


def file_signatures(files: list[Path], key: str, since: float) -> dict[str, tuple]:
    """(size, mtime ns, ctime ns, inode, loader key) of each file, as git's index keeps them.

    A file changed within :data:`RACY_SECONDS` of ``since`` (the run's start) gets no signature: a
    write in the same clock tick as the read would otherwise go unnoticed (git's "racy"
    files).
    """
    out = {}
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            continue  # the load reports it
        if max(st.st_mtime_ns, st.st_ctime_ns) >= (since - RACY_SECONDS) * 1e9:
            continue
        out[_key(path)] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, key)
    return out


@dataclass
class IngestPlan:
    """What an ingest will do, decided from the loaded articles and the stored catalog
    alone (nothing is written or embedded): :func:`apply_plan` carries it out."""

    writes: list[_Planned]
    # Unchanged articles whose file moved: (article, chunks, fingerprint), provenance only.
    moves: list[tuple[Article, list[Chunk], str]]
    removals: list[str]
    leftovers: frozenset[str]
    # Files read whole and stored as they are: their signatures may be recorded.
    clean_files: set[str] = field(default_factory=set)


def plan_changes(
    loaded: list[tuple[str | Path, LoadedFile | LoadError]],
    states: ArticleStates,
    settings: Settings,
    scope: Path | None,
    report: IngestReport,
    *,
    leftovers: frozenset[str] = frozenset(),
    link_targets: frozenset[str] = frozenset(),
    settled: dict[str, str] | None = None,
) -> IngestPlan:
    """Diff the loaded articles against ``states`` (the committed catalog): the articles to
    write, to move and to remove; unchanged ones and problems go to ``report``. ``settled``:
    the articles (id -> file) of files not read again because they did not change."""
    settled = settled or {}
    articles, kept_paths, incremental, clean = _collect(loaded, report, settings.max_article_chars, settled)
    report.unchanged += sorted(settled)
    articles = _match_by_url(articles, incremental, states, report)
    states.load([a.id for a in articles])
    writes: list[_Planned] = []
    moves: list[tuple[Article, list[Chunk], str]] = []
    for article in articles:
        fp = article_hash(article, settings.chunk_max_chars)
        chunks = chunk_article(article, settings.chunk_max_chars, version=fp)
        state = states.get(article.id)
        if state is not None and state.hashes == {fp} and state.chunk_ids == {c.id for c in chunks}:
            report.unchanged.append(article.id)
            if state.path != article.path:
                moves.append((article, chunks, fp))
            continue
        # A crashed run may have written some of these chunks already: they are reused.
        # (Membership, not a union: the leftovers of a killed bulk run are 100,000s.)
        stored = state.chunk_ids if state else set()
        fresh = [c for c in chunks if c.id not in stored and c.id not in leftovers]
        writes.append(_Planned(article, chunks, fp, state, fresh))
    removals: list[str] = []
    if scope is not None:
        present = {a.id for a in articles} | set(settled)
        removals = _missing(
            states, present, scope, kept_paths, report, link_targets, frozenset(settled.values())
        )
    return IngestPlan(writes, moves, removals, leftovers, clean)


def apply_plan(
    plan: IngestPlan,
    write: IndexWrite,
    embedder: Embedder,
    report: IngestReport,
    progress: ProgressFn | None = None,
    show_progress: bool = False,
) -> None:
    """Carry out ``plan`` in the generation ``write`` (embedding only new text); the caller
    commits."""
    plans = plan.writes
    for planned in plans:
        article = planned.article
        sentences = [article.text[a:b] for a, b in sentence_spans(article.text)]
        # Regexes and the detector; only the 8.5% of sentences its pre-filter passes are embedded
        # (all of them would cost more than embedding the chunks: benchmarks/injection/README.md).
        planted = sum(detect_planted(sentences, embedder))
        if planted:
            report.notes.append(
                (
                    article.id,
                    f"{planted} sentence(s) addressed to an AI model (e.g. 'ignore previous "
                    "instructions'): stored and searchable, never shown to the model",
                )
            )
    for article, chunks, fp in plan.moves:
        write.relocate(
            article.id, article.path, [c.id for c in chunks], [c.metadata(article, fp) for c in chunks]
        )

    # Text that an article already had keeps its vector: only new text is embedded.
    reusable = {
        (p.article.id, text_key(old)): old for p in plans if p.state is not None for old in p.state.chunk_ids
    }
    total = sum(1 for p in plans for c in p.fresh if (c.article_id, text_key(c.id)) not in reusable)
    bar = _progress_bar(total, show_progress) if total else None
    done = 0

    def on_batch(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if progress is not None:
            progress(done, total, "embedding")

    store = write.store
    # Articles are embedded in groups so batches stay full (news articles have ~5 chunks),
    # and written right after, so an interruption loses at most one group of work.
    for group in _groups(plans, _GROUP_CHUNKS):
        fresh = [(p, c) for p in group for c in p.fresh]
        new = [c for _, c in fresh if (c.article_id, text_key(c.id)) not in reusable]
        vectors = dict(
            zip(
                (c.id for c in new),
                embedder.encode_passages([c.text for c in new], on_batch=on_batch),
                strict=True,
            )
        )
        old = store.vectors(
            sorted({reusable[(c.article_id, text_key(c.id))] for _, c in fresh if c.id not in vectors})
        )
        for _, c in fresh:
            if c.id not in vectors:
                vectors[c.id] = old[reusable[(c.article_id, text_key(c.id))]]
        # One write for the whole group: Chroma's cost is mostly per call (7.4 s of a
        # 34 s ingest of 306 articles went to one upsert per article).
        write.put(
            [c.id for _, c in fresh],
            [c.text for _, c in fresh],
            [vectors[c.id] for _, c in fresh],
            [c.metadata(p.article, p.fingerprint) for p, c in fresh],
        )
        # Chunks an interrupted run already wrote are indexed without being written again.
        reused = [(p, c) for p in group for c in p.chunks if c not in p.fresh]
        write.adopt(
            [c.id for _, c in reused],
            [c.text for _, c in reused],
            [c.metadata(p.article, p.fingerprint) for p, c in reused],
        )
        report.chunks_written += len(new)
        for p in group:
            if p.state is None:
                report.added.append(p.article.id)
                continue
            write.retire(p.article.id)
            old_texts = {text_key(i) for i in p.state.chunk_ids}
            report.chunks_deleted += len(old_texts - {text_key(c.id) for c in p.chunks})
            if p.state.hashes == {p.fingerprint}:
                # Same content under ids of an older scheme (a store from before versioned
                # chunk ids): rewritten with its vectors, nothing to report.
                report.unchanged.append(p.article.id)
            else:
                report.updated.append(p.article.id)
    if bar is not None:
        bar.close()
    for article_id in plan.removals:
        state = write.retire(article_id)
        report.chunks_deleted += len(state.chunk_ids)
        report.removed.append(article_id)


def _collect(
    loaded: list[tuple[str | Path, LoadedFile | LoadError]],
    report: IngestReport,
    max_chars: int,
    settled: dict[str, str] | None = None,
) -> tuple[list[Article], set[str], set[str], set[str]]:
    """The articles to ingest; the paths whose missing articles must stay (broken files,
    feeds); the ids of articles from feeds and pages, which may be matched by URL; the files
    read whole without a problem. ``settled``: articles (id -> file) of files not read again,
    which keep their ids."""
    articles: list[Article] = []
    kept_paths: set[str] = set()
    incremental: set[str] = set()
    seen_ids: dict[str, str] = dict(settled or {})
    loaded_files: set[str] = set()
    for origin, result in loaded:
        key = _key(origin) if isinstance(origin, Path) else origin
        if isinstance(result, LoadError):
            report.skipped.append((str(origin), str(result)))
            kept_paths.add(key)
            continue
        # Articles of files that failed or had bad lines stay: a broken file loses nothing.
        loaded_files.add(key)
        if result.problems or result.incremental:
            kept_paths.add(key)
        for problem in result.problems:
            report.skipped.append((str(origin), problem))
        for note in result.notes:
            report.notes.append((str(origin), note))
        for article in result.articles:
            if len(article.text) > max_chars:
                report.skipped.append(
                    (
                        f"{origin} ({article.id})",
                        f"the article is {len(article.text):,} characters long, over the "
                        f"{max_chars:,} limit: split it into articles or raise QA_BOT_MAX_ARTICLE_CHARS",
                    )
                )
                kept_paths.add(key)  # a version stored before stays
                continue
            if article.id in seen_ids:
                report.skipped.append(
                    (
                        f"{origin} ({article.id})",
                        f"duplicate article id, first seen in {seen_ids[article.id]}",
                    )
                )
                kept_paths.add(key)  # not clean: read again next time, to say so again
                continue
            seen_ids[article.id] = str(origin)
            articles.append(article)
            if result.incremental:
                incremental.add(article.id)
    return articles, kept_paths, incremental, loaded_files - kept_paths


def _match_by_url(
    articles: list[Article], incremental: set[str], states: ArticleStates, report: IngestReport
) -> list[Article]:
    """Feed and page articles, each under the id of the stored article with its URL when
    its own id is new: a feed may give an item a new GUID, but its canonical URL stays.

    Only articles that came from a URL or from the same feed file are taken over, so a
    feed never rewrites an article that a file in a folder still holds. The same URL
    twice in one run is ingested once.
    """
    present = {a.id for a in articles}
    owners: dict[str, str] = {}
    urls = [a.url for a in articles if a.id in incremental and a.url]
    for article_id, state in sorted(states.with_urls(urls).items()):
        if state.url and article_id not in present:
            owners.setdefault(state.url, article_id)
    seen: dict[str, str] = {}
    matched: list[Article] = []
    for article in articles:
        if article.id not in incremental or not article.url:
            matched.append(article)
            continue
        if article.url in seen:
            first = seen[article.url]
            report.skipped.append((article.path, f"item {article.id}: same URL as {first} ({article.url})"))
            continue
        seen[article.url] = article.id
        owner = owners.get(article.url) if article.id not in states else None
        if owner is not None and (is_url(states[owner].path) or states[owner].path == article.path):
            del owners[article.url]
            report.notes.append(
                (article.path, f"item {article.id} has the URL of {owner} ({article.url}): updated {owner}")
            )
            article = replace(article, id=owner)
        matched.append(article)
    return matched


def _missing(
    states: ArticleStates,
    present: set[str],
    scope: Path,
    kept_paths: set[str],
    report: IngestReport,
    link_targets: frozenset[str] = frozenset(),
    settled_paths: frozenset[str] = frozenset(),
) -> list[str]:
    """The articles of files under ``scope`` that are gone, and those a store written before
    links were checked read through a link that is no longer followed (to be removed).

    Only the articles of paths that may have lost some are read: files under ``scope``
    (or link targets) other than those not read again because they did not change
    (``settled_paths``), whose articles are all present.

    Such a store recorded the article under the link's target (``/etc/passwd``), outside
    the folder. A path in ``link_targets`` that no ingest reads as an article (no article
    suffix, like ``/etc/passwd``) or that no longer exists can only have come through the
    link: it goes. A target that is an article file elsewhere (``../b/x.md``) may as well
    have been ingested on purpose from its own folder, so it stays, with a note naming
    `qa-bot remove` for the case it came through the link.
    """
    # A URL is no file under the scope (and resolving it as a path would mangle it).
    paths = [
        p
        for p in states.paths()
        if not is_url(p)
        and p not in kept_paths
        and p not in settled_paths
        and (_within(p, scope) or p in link_targets)
    ]
    gone = []
    for article_id, state in sorted(states.in_files(paths).items()):
        if article_id in present:
            continue
        if not _within(state.path, scope):
            if os.path.lexists(state.path) and Path(state.path).suffix.lower() in SUPPORTED_SUFFIXES:
                report.notes.append(
                    (
                        article_id,
                        f"stored from {state.path}, where a link in {scope} points that is no longer "
                        "followed; if the article came in through that link, take it out with "
                        f"`qa-bot remove {article_id}`",
                    )
                )
                continue
        gone.append(article_id)
    return gone


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
    # On strings: called for every stored path of an archive.
    root = str(scope)
    return file_path == root or file_path.startswith(root.rstrip(os.sep) + os.sep)


def _progress_bar(total: int, show: bool) -> tqdm[Any]:
    from tqdm import tqdm

    return tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=not show)
