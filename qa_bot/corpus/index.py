"""The corpus index: the one owner of what a store generation is made of.

A generation (see :mod:`qa_bot.corpus.store`) is the chunks in Chroma plus what is derived
from them: the article catalog (what ingest diffs against), the keyword index (segments,
:mod:`qa_bot.corpus.segments`) and the near-duplicate groups. This module writes all of it
for ingest, removal and rebuild (:meth:`CorpusIndex.begin` -> :class:`IndexWrite` ``put`` /
``adopt`` / ``retire`` / ``relocate`` -> ``commit``) and serves it to retrieval
(:meth:`CorpusIndex.snapshot`), so neither side knows how the other stores it.

Every change costs what it changes: an ingest of k articles writes one segment of their
chunks, tombstones for the rows it retires, their catalog rows and their MinHash bands, and
compares each new article only with the articles sharing a band. Nothing reads every chunk.

Where it lives: ``<store dir>/index/``: ``catalog.sqlite3`` (SQLite, from the standard
library: articles, segments and where each chunk sits in them, tombstones, bands, copy
pairs, committed generations; :mod:`qa_bot.corpus.catalog`) and one folder per segment;
the writing itself is :mod:`qa_bot.corpus.index_write`. Every catalog row carries the
generation that wrote it (``gen``) and the one that retired it (``dead``), with the same
visibility rule as Chroma's records, so the two stay one transaction in effect:

1. during the run, Chroma gets the new records (generation G) and marks retired ones;
2. :meth:`IndexWrite.commit` writes the new segment folder (fsynced), then the catalog
   rows of G in one SQLite transaction, then commits G in Chroma (the one atomic switch
   readers follow), then deletes what G retired, in Chroma and here;
3. killed anywhere, the next :meth:`CorpusIndex.begin` undoes rows of generations Chroma
   never committed and finishes the clean-up of the one it did (segment folders no row
   names are deleted), exactly as :meth:`ChunkStore.begin` does for Chroma.

A store whose catalog is missing, damaged or behind Chroma (written by an older version,
or straight through :class:`ChunkStore`) is caught: readers build the keyword index in
memory from the chunks (and say so in the log), and the next ingest rebuilds the catalog
once from Chroma, under the lock.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
from collections import defaultdict
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.corpus import catalog
from qa_bot.corpus import segments as seg
from qa_bot.corpus.catalog import (
    STAMPED,
    ArticleStates,
    IndexDamaged,
    article_info,
    copy_groups_of,
    visible,
)
from qa_bot.corpus.duplicates import article_texts, copy_groups
from qa_bot.corpus.index_write import IndexWrite, chunk_terms
from qa_bot.corpus.store import ChunkStore, Generation, StoreError, ingest_lock
from qa_bot.text import keyword_tokens

if TYPE_CHECKING:
    from qa_bot.types import SearchFilters

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"


def index_folders(store_dir: Path) -> list[Path]:
    """The derived indexes in ``store_dir`` (this module's folder, and the whole-corpus
    keyword indexes ``bm25-<generation>`` of versions before it), for moving a store aside."""
    store_dir = Path(store_dir)
    return sorted(p for p in (store_dir / INDEX_FOLDER, *store_dir.glob("*bm25*")) if p.is_dir())


# One keyword hit: a chunk id and its BM25 score.
KeywordHit = seg.Hit


@dataclass
class Snapshot:
    """What readers use of one generation: keyword search, copy groups, publication days."""

    generation: int
    keyword: seg.SegmentSearch
    # article id -> {"group": [ids], "info": {id: {title, source, url, published}}}
    copies: dict[str, dict]
    from_catalog: bool = True

    @property
    def chunks(self) -> int:
        return self.keyword.n_docs

    def chunk_ids(self) -> list[str]:
        """Every chunk the keyword index holds (for checks; reads every row)."""
        return [p.segment.chunk_id(int(r)) for p in self.keyword.parts for r in np.flatnonzero(~p.deleted)]

    def search(self, query: str, n: int, filters: SearchFilters | None = None) -> list[KeywordHit]:
        """Top ``n`` chunks by BM25 for ``query`` (positive scores only) among those passing ``filters``."""
        tokens = keyword_tokens(query)
        allowed = None
        if filters is not None and not filters.empty:
            allowed = self.keyword.mask(
                frozenset(filters.sources) if filters.sources else None,
                _day(filters.published_from) if filters.published_from else None,
                _day(filters.published_to) if filters.published_to else None,
            )
        return self.keyword.search(tokens, n, allowed)

    def coverage(self, query: str) -> float:
        """Share of the query's keywords some chunk holds (see :mod:`qa_bot.search.retrieval`)."""
        return self.keyword.coverage(keyword_tokens(query))

    def published_span(self) -> tuple[int, int] | None:
        lo, hi, _ = self.keyword.days()
        return (lo, hi) if lo else None

    def has_undated(self) -> bool:
        return self.keyword.days()[2]


def _day(d: object) -> int:
    return d.year * 10000 + d.month * 100 + d.day  # type: ignore[attr-defined]


class CorpusIndex:
    """The derived indexes of one store (``store_dir``), for writers and readers."""

    def __init__(self, store: ChunkStore, store_dir: Path) -> None:
        self.store = store
        self.store_dir = Path(store_dir)
        self.folder = self.store_dir / INDEX_FOLDER
        self._segments_dir = self.folder / "segments"
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._loaded: dict[str, seg.Segment] = {}

    # ---- the catalog ---------------------------------------------------------------------
    def _connect(self, write: bool = False) -> sqlite3.Connection:
        return catalog.connect(self.folder / catalog.CATALOG_FILE, write)

    def lock(self) -> AbstractContextManager[None]:
        """The store's ingest lock (one writer at a time; see :func:`ingest_lock`)."""
        return ingest_lock(self.store_dir)

    # ---- writing -------------------------------------------------------------------------
    def begin(self) -> IndexWrite:
        """Start a generation (the caller holds :meth:`lock`): Chroma's and the catalog's
        leftovers of an interrupted run are settled, and a catalog that does not describe
        the committed generation is rebuilt from Chroma first."""
        generation = self.store.begin()
        with closing(self._connect(write=True)) as con:
            catalog.settle(con, generation.committed)
            self._remove_unnamed_segments(con)
            why = self._catalog_problem(con, generation)
        if why is not None:
            log.warning("the corpus index in %s %s: it is rebuilt from the store", self.folder, why)
            self._rebuild_catalog(generation.committed)
        for legacy in self.store_dir.glob("*bm25*"):  # whole-corpus indexes of older versions
            shutil.rmtree(legacy, ignore_errors=True)
        return IndexWrite(self, generation)

    def _catalog_problem(self, con: sqlite3.Connection, generation: Generation) -> str | None:
        """Why the catalog does not describe the committed generation, or None."""
        committed = generation.committed
        row = con.execute("SELECT chunks FROM commits WHERE gen = ?", (committed,)).fetchone()
        # After ChunkStore.begin, Chroma holds the committed records and the leftovers.
        count = self.store.count() - len(generation.leftovers)
        if row is None:
            return None if count == 0 else f"has no record of generation {committed}"
        if row[0] != count:
            return f"lists {row[0]:,} chunks, the store holds {count:,}"
        for name, files in con.execute(
            f"SELECT name, files FROM segments WHERE {visible()}", {"c": committed}
        ):
            for file, want in json.loads(files).items():
                path = self._segments_dir / name / file
                if not path.is_file() or path.stat().st_size != want["bytes"]:
                    return f"has a damaged segment ({path} is missing or of the wrong size)"
        return None

    def _rebuild_catalog(self, committed: int) -> None:
        """Describe the committed generation afresh from every chunk Chroma holds (once, for
        a store from an older version or after damage)."""
        ids, texts, metas = self.store.all_chunks(at=committed)
        with closing(self._connect(write=True)) as con:
            con.execute("BEGIN IMMEDIATE")
            for table in (*STAMPED, "locations", "tombstones", "commits"):
                con.execute(f"DELETE FROM {table}")
            con.execute("COMMIT")
            self._remove_unnamed_segments(con)
        write = IndexWrite(self, Generation(committed, committed, frozenset()), rebuilding=True)
        write.adopt(ids, texts, metas)
        write.commit()

    def _remove_unnamed_segments(self, con: sqlite3.Connection) -> None:
        named = {name for (name,) in con.execute("SELECT name FROM segments")}
        if self._segments_dir.is_dir():
            for folder in self._segments_dir.iterdir():
                if folder.name not in named:
                    shutil.rmtree(folder, ignore_errors=True)

    # ---- reading -------------------------------------------------------------------------
    def article_states(self, at: int | None = None) -> ArticleStates:
        """The articles of generation ``at`` (default: what readers see) with their chunk ids
        and fingerprints, read from the catalog as they are asked for (no chunk is read)."""
        return ArticleStates(self.folder / catalog.CATALOG_FILE, self.store.view()[0] if at is None else at)

    def articles(self) -> list[dict]:
        """One row per article readers see: id, title, source, published, chunk count, path;
        newest first."""
        c = self.store.view()[0]
        try:
            with closing(self._connect()) as con:
                rows = con.execute(
                    "SELECT article_id, title, source, published, chunk_ids, path FROM articles "
                    f"WHERE {visible()} ORDER BY published DESC, article_id DESC",
                    {"c": c},
                ).fetchall()
                known = con.execute("SELECT 1 FROM commits WHERE gen = ?", (c,)).fetchone()
        except (IndexDamaged, sqlite3.Error):
            known = None
        if known is None:
            return self.store.articles()
        return [
            {
                "article_id": a,
                "title": t,
                "source": s,
                "published": p,
                "chunks": len(json.loads(ids)),
                "path": path,
            }
            for a, t, s, p, ids, path in rows
        ]

    def coverage(self) -> tuple[int, list[str], str, str, int] | None:
        """What the committed corpus covers, from the catalog in one pass of SQL: articles,
        outlets (most articles first), earliest and latest ``published`` value, articles
        without one; None when the catalog does not describe the committed generation."""
        c = self.store.view()[0]
        try:
            with closing(self._connect()) as con:
                if con.execute("SELECT 1 FROM commits WHERE gen = ?", (c,)).fetchone() is None:
                    return None
                n, undated, first, last = con.execute(
                    "SELECT COUNT(*), COALESCE(SUM(published = ''), 0), MIN(NULLIF(published, '')), "
                    f"MAX(NULLIF(published, '')) FROM articles WHERE {visible()}",
                    {"c": c},
                ).fetchone()
                outlets = [
                    source
                    for (source,) in con.execute(
                        f"SELECT source FROM articles WHERE {visible()} AND source != '' "
                        "GROUP BY source ORDER BY COUNT(*) DESC, source",
                        {"c": c},
                    )
                ]
        except (IndexDamaged, sqlite3.Error):
            return None
        return n, outlets, first or "", last or "", undated

    def snapshot(self, view: tuple[int, bool] | None = None) -> Snapshot:
        """The keyword index and copy groups of the generation readers see (``view``: a
        :meth:`ChunkStore.view` already read). Loaded once per generation and process;
        segments already loaded are kept, so following an ingest costs what it changed."""
        with self._lock:
            for _ in range(3):
                committed, pending = view or self.store.view()
                snap = self._snapshot
                if snap is not None and snap.generation == committed:
                    return snap  # checked against the store when it was loaded
                try:
                    try:
                        snap = self._load(committed)
                    except IndexDamaged:
                        if not self._follow(committed):
                            raise
                        snap = self._load(committed)
                    if not pending and snap.chunks != self.store.count():
                        raise IndexDamaged(
                            f"it lists {snap.chunks:,} chunks, the store holds {self.store.count():,} "
                            "(written without an ingest?)"
                        )
                except (IndexDamaged, sqlite3.Error) as exc:
                    if self.store.view()[0] != committed:
                        view = None  # an ingest committed (and cleaned up) meanwhile: look again
                        continue
                    if self.store.count():  # an empty store has nothing to index: no news
                        log.warning(
                            "the corpus index in %s cannot be used (%s): the keyword index is built in "
                            "memory from the store; the next `qa-bot ingest` rebuilds it on disk",
                            self.folder,
                            exc,
                        )
                    snap = _snapshot_from_chunks(self.store, committed)
                self._snapshot = snap
                return snap
            raise StoreError("the store changed three times while its index was being read: ask again")

    def _follow(self, c: int) -> bool:
        """Bring this machine's catalog to generation ``c`` of a Chroma server that another
        machine ingests into: from the change log and the records of the generations since
        the catalog's own (no chunk is read twice), or once from every chunk when the
        catalog is new or too far behind. False when this is not a server store or the
        catalog cannot be written here (the caller builds the index in memory)."""
        if self.store.location is not None:
            return False
        try:
            with ingest_lock(self.store_dir, wait=300), closing(self._connect(write=True)) as con:
                have = con.execute("SELECT MAX(gen) FROM commits").fetchone()[0]
                if have == c:
                    return True  # another process of this machine caught up meanwhile
                chain = self._chain(have, c) if have is not None and have < c else None
                if chain is None:
                    log.info("the corpus index in %s is built from the Chroma server (once)", self.folder)
                    self._rebuild_catalog(c)
                    return True
                write = IndexWrite(self, Generation(have, c, frozenset()), following=True)
                states = write.states()
                states.load(sorted({a for record in chain for a in record["retired"]}))
                for aid in sorted({a for record in chain for a in record["retired"]}):
                    if aid in states:
                        write.retire(aid)
                write.adopt(*self.store.records_since(have, c))
                for record in chain:
                    for aid, path in record["moved"].items():
                        write._relocated.append((aid, path))
                write.commit()
                return True
        except (OSError, StoreError, sqlite3.Error) as exc:
            log.warning("the corpus index in %s cannot follow the Chroma server (%s)", self.folder, exc)
            return False

    def _chain(self, have: int, c: int) -> list[dict] | None:
        """The change records from generation ``have`` to ``c``, oldest first, or None when
        the log does not reach back that far."""
        records = self.store.changes(have, c)
        chain, gen = [], c
        while gen != have:
            record = records.get(gen)
            if record is None or record["prev"] >= gen:
                return None
            chain.append(record)
            gen = record["prev"]
        return chain[::-1]

    def verify(self) -> str | None:
        """Why the on-disk index does not describe exactly the chunks readers see, or None
        (reads every chunk id: for tests and diagnosis, not for serving)."""
        committed = self.store.view()[0]
        try:
            snap = CorpusIndex(self.store, self.store_dir)._load(committed)
        except (IndexDamaged, sqlite3.Error) as exc:
            return str(exc)
        ids = snap.chunk_ids()
        if len(ids) != len(set(ids)):
            return "a chunk is indexed twice"
        if set(ids) != set(self.store.ids()):
            return "its chunks are not the store's"
        articles = {a["article_id"]: a["chunks"] for a in self.articles()}
        if articles != {a["article_id"]: a["chunks"] for a in self.store.articles()}:
            return "its articles are not the store's"
        return None

    def _load(self, c: int) -> Snapshot:
        with closing(self._connect()) as con:
            con.execute("BEGIN")  # one consistent read
            if con.execute("SELECT 1 FROM commits WHERE gen = ?", (c,)).fetchone() is None:
                raise IndexDamaged(f"it has no record of generation {c}")
            names = [
                n
                for (n,) in con.execute(
                    f"SELECT name FROM segments WHERE {visible()} ORDER BY gen, name", {"c": c}
                )
            ]
            dead_rows: dict[str, list[int]] = defaultdict(list)
            for name, row in con.execute("SELECT segment, row FROM tombstones WHERE gen <= :c", {"c": c}):
                dead_rows[name].append(row)
            edges = con.execute(f"SELECT a, b FROM copies WHERE {visible()}", {"c": c}).fetchall()
            members = sorted({x for e in edges for x in e})
            info = article_info(con, members, c)
            con.execute("COMMIT")
        parts = []
        for name in names:
            segment = self._loaded.get(name)
            if segment is None:
                try:
                    segment = seg.load(self._segments_dir, name)
                except seg.SegmentDamaged as exc:
                    raise IndexDamaged(str(exc)) from exc
            deleted = np.zeros(segment.rows, dtype=bool)
            deleted[dead_rows.get(name, [])] = True
            parts.append(seg.Live(segment, deleted))
        self._loaded = {p.segment.name: p.segment for p in parts}
        return Snapshot(c, seg.SegmentSearch(parts), copy_groups_of(edges, info))


def _snapshot_from_chunks(store: ChunkStore, c: int) -> Snapshot:
    """The keyword index and copy groups built in memory from every chunk (the fallback)."""
    ids, texts, metas = store.all_chunks(at=c)
    segment = seg.build("memory", (chunk_terms(i, t, m) for i, t, m in zip(ids, texts, metas, strict=True)))
    groups = copy_groups(article_texts(ids, texts, metas))
    info = {
        str(m.get("article_id", "")): {k: str(m.get(k, "")) for k in ("title", "source", "url", "published")}
        for m in metas
    }
    copies = {
        aid: {"group": list(group), "info": {g: info[g] for g in group}} for aid, group in groups.items()
    }
    live = seg.Live(segment, np.zeros(segment.rows, dtype=bool))
    return Snapshot(c, seg.SegmentSearch([live]), copies, from_catalog=False)


__all__ = ["ArticleStates", "CorpusIndex", "IndexDamaged", "IndexWrite", "KeywordHit", "Snapshot"]
