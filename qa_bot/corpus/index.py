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
pairs, committed generations) and one folder per segment. Every catalog row carries the
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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.corpus import segments as seg
from qa_bot.corpus.duplicates import (
    MAX_POSTINGS,
    MIN_CONTAINMENT,
    band_keys,
    containment,
    copy_groups,
    shingles,
)
from qa_bot.corpus.store import ArticleState, ChunkStore, Generation, StoreError, ingest_lock
from qa_bot.text import keyword_tokens

if TYPE_CHECKING:
    from qa_bot.types import SearchFilters

log = logging.getLogger(__name__)

INDEX_FOLDER = "index"
_CATALOG = "catalog.sqlite3"
_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT NOT NULL, gen INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
    article_hash TEXT NOT NULL, path TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL,
    source TEXT NOT NULL, published TEXT NOT NULL, chunk_ids TEXT NOT NULL,
    PRIMARY KEY (article_id, gen)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segments (
    name TEXT PRIMARY KEY, gen INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL, files TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS locations (
    segment TEXT NOT NULL, row INTEGER NOT NULL, chunk_id TEXT NOT NULL,
    PRIMARY KEY (segment, row)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS locations_chunk ON locations (chunk_id);
CREATE TABLE IF NOT EXISTS tombstones (
    segment TEXT NOT NULL, row INTEGER NOT NULL, gen INTEGER NOT NULL,
    PRIMARY KEY (segment, row, gen)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bands (
    key INTEGER NOT NULL, article_id TEXT NOT NULL, gen INTEGER NOT NULL,
    dead INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, article_id, gen)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bands_article ON bands (article_id);
CREATE TABLE IF NOT EXISTS copies (
    a TEXT NOT NULL, b TEXT NOT NULL, gen INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (a, b, gen)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS copies_b ON copies (b);
CREATE TABLE IF NOT EXISTS commits (gen INTEGER PRIMARY KEY, chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT NOT NULL, gen INTEGER NOT NULL, dead INTEGER NOT NULL DEFAULT 0,
    signature TEXT NOT NULL, PRIMARY KEY (path, gen)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS articles_path ON articles (path);
"""
# Tables whose rows carry gen/dead (see the module doc).
_STAMPED = ("articles", "segments", "bands", "copies", "files")


def _visible(alias: str = "") -> str:
    """The visibility rule of :mod:`qa_bot.corpus.store`, for the generation bound as ``:c``."""
    p = f"{alias}." if alias else ""
    return f"({p}gen <= :c AND ({p}dead = 0 OR {p}dead > :c))"


def index_folders(store_dir: Path) -> list[Path]:
    """The derived indexes in ``store_dir`` (this module's folder, and the whole-corpus
    keyword indexes ``bm25-<generation>`` of versions before it), for moving a store aside."""
    store_dir = Path(store_dir)
    return sorted(p for p in (store_dir / INDEX_FOLDER, *store_dir.glob("*bm25*")) if p.is_dir())


class IndexDamaged(Exception):
    """The catalog or a segment cannot be trusted (the message says why)."""


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


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
        return [p.segment.chunk_ids[r] for p in self.keyword.parts for r in np.flatnonzero(~p.deleted)]

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
        return [KeywordHit(h.chunk_id, h.score) for h in self.keyword.search(tokens, n, allowed)]

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
        path = self.folder / _CATALOG
        if write:
            self.folder.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(path, timeout=30, isolation_level=None)
            con.execute("PRAGMA synchronous = FULL")  # the commit must be on disk before Chroma's
            con.executescript(_SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
            return con
        if not path.is_file():
            raise IndexDamaged(f"{path} does not exist")
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None
        )

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
            _settle(con, generation.committed)
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
            f"SELECT name, files FROM segments WHERE {_visible()}", {"c": committed}
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
            for table in (*_STAMPED, "locations", "tombstones", "commits"):
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
    def article_states(self, at: int | None = None) -> dict[str, ArticleState]:
        """Every article of generation ``at`` (default: what readers see) with its chunk ids
        and fingerprint: what ingest diffs against, from the catalog (no chunk is read)."""
        at = self.store.view()[0] if at is None else at
        with closing(self._connect()) as con:
            rows = con.execute(
                f"SELECT article_id, article_hash, path, url, chunk_ids FROM articles WHERE {_visible()}",
                {"c": at},
            ).fetchall()
        return {
            aid: ArticleState(h, path, set(json.loads(ids)), {h}, url=url) for aid, h, path, url, ids in rows
        }

    def articles(self) -> list[dict]:
        """One row per article readers see: id, title, source, published, chunk count, path;
        newest first."""
        c = self.store.view()[0]
        try:
            with closing(self._connect()) as con:
                rows = con.execute(
                    "SELECT article_id, title, source, published, chunk_ids, path FROM articles "
                    f"WHERE {_visible()} ORDER BY published DESC, article_id DESC",
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
                    f"SELECT name FROM segments WHERE {_visible()} ORDER BY gen, name", {"c": c}
                )
            ]
            dead_rows: dict[str, list[int]] = defaultdict(list)
            for name, row in con.execute("SELECT segment, row FROM tombstones WHERE gen <= :c", {"c": c}):
                dead_rows[name].append(row)
            edges = con.execute(f"SELECT a, b FROM copies WHERE {_visible()}", {"c": c}).fetchall()
            members = sorted({x for e in edges for x in e})
            info = _article_info(con, members, c)
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
        return Snapshot(c, seg.SegmentSearch(parts), _groups(edges, info))


def _article_info(con: sqlite3.Connection, ids: Sequence[str], c: int) -> dict[str, dict]:
    info: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        part = list(ids[i : i + 500])
        marks = ",".join("?" * len(part))
        for aid, title, source, url, published in con.execute(
            f"SELECT article_id, title, source, url, published FROM articles WHERE article_id IN ({marks}) "
            f"AND gen <= ? AND (dead = 0 OR dead > ?)",
            (*part, c, c),
        ):
            info[aid] = {"title": title, "source": source, "url": url, "published": published}
    return info


def _groups(edges: Sequence[tuple[str, str]], info: dict[str, dict]) -> dict[str, dict]:
    """Copy groups (connected components of the copy pairs), as retrieval folds them."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        if a in info and b in info:
            parent[root(a)] = root(b)
    members: dict[str, list[str]] = defaultdict(list)
    for x in list(parent):
        members[root(x)].append(x)
    out = {}
    for group in members.values():
        if len(group) > 1:
            ordered = sorted(group)
            entry = {"group": ordered, "info": {g: info[g] for g in ordered}}
            for g in ordered:
                out[g] = entry
    return out


def _snapshot_from_chunks(store: ChunkStore, c: int) -> Snapshot:
    """The keyword index and copy groups built in memory from every chunk (the fallback)."""
    ids, texts, metas = store.all_chunks(at=c)
    segment = seg.build("memory", [_terms(i, t, m) for i, t, m in zip(ids, texts, metas, strict=True)])
    from qa_bot.corpus.duplicates import article_texts

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


def _terms(chunk_id: str, text: str, meta: dict) -> seg.ChunkTerms:
    # The title is searchable too: people ask with words from headlines.
    return seg.ChunkTerms(
        chunk_id,
        keyword_tokens(f"{meta.get('title', '')}\n{text}"),
        str(meta.get("source", "")),
        int(meta.get("published_day", 0) or 0),
    )


def _settle(con: sqlite3.Connection, c: int) -> None:
    """Undo rows of generations after ``c`` (never committed) and finish the clean-up of
    ``c``'s retirements: the catalog as of ``c``, in one transaction."""
    con.execute("BEGIN IMMEDIATE")
    for table in _STAMPED:
        con.execute(f"DELETE FROM {table} WHERE gen > :c", {"c": c})
        con.execute(f"UPDATE {table} SET dead = 0 WHERE dead > :c", {"c": c})
        con.execute(f"DELETE FROM {table} WHERE dead > 0 AND dead <= :c", {"c": c})
    con.execute("DELETE FROM tombstones WHERE gen > :c", {"c": c})
    con.execute("DELETE FROM tombstones WHERE segment NOT IN (SELECT name FROM segments)")
    con.execute("DELETE FROM locations WHERE segment NOT IN (SELECT name FROM segments)")
    con.execute("DELETE FROM commits WHERE gen > :c OR gen < :c - 5", {"c": c})
    con.execute("COMMIT")


@dataclass
class _Pending:
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict] = field(default_factory=list)


class IndexWrite:
    """One generation being written (see the module doc). Made by :meth:`CorpusIndex.begin`."""

    def __init__(
        self, index: CorpusIndex, generation: Generation, *, rebuilding: bool = False, following: bool = False
    ) -> None:
        """``rebuilding``: the catalog of the committed generation is written afresh;
        ``following``: the catalog catches up with generations another machine committed.
        Neither writes to Chroma."""
        self.index = index
        self.store = index.store
        self.generation = generation
        self._rebuilding = rebuilding
        self._following = following
        self._new = _Pending()
        self._retired: dict[str, ArticleState] = {}
        self._relocated: list[tuple[str, str]] = []  # (article id, new path)
        self._relocated_chunks = _Pending()
        self._files: dict[str, str] = {}
        self._states: dict[str, ArticleState] | None = None
        #: article id -> the other articles of its copy group, for articles written this run
        self.copies: dict[str, list[str]] = {}

    @property
    def number(self) -> int:
        return self.generation.number

    def states(self) -> dict[str, ArticleState]:
        """The committed generation's articles (read once per run)."""
        if self._states is None:
            self._states = self.index.article_states(self.generation.committed)
        return self._states

    def put(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]] | np.ndarray,
        metas: Sequence[dict],
    ) -> None:
        """Write chunks to Chroma as records of this generation, and index them."""
        self.store.put(ids, texts, vectors, metas, generation=self.number)
        self.adopt(ids, texts, metas)

    def adopt(self, ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict]) -> None:
        """Index chunks Chroma already holds as records of this generation (written by an
        interrupted run and reused)."""
        self._new.ids += list(ids)
        self._new.texts += list(texts)
        self._new.metas += list(metas)

    def retire(self, article_id: str) -> ArticleState:
        """Take an article of the committed generation out from this generation on."""
        state = self.states()[article_id]
        if not self._following:
            self.store.retire(sorted(state.chunk_ids), self.number)
        self._retired[article_id] = state
        return state

    def relocate(self, article_id: str, path: str, ids: Sequence[str], metas: Sequence[dict]) -> None:
        """Record a new path for an unchanged article (provenance only: rewritten in place,
        in Chroma and the catalog, without a new generation of its chunks)."""
        self._relocated.append((article_id, path))
        self._relocated_chunks.ids += list(ids)
        self._relocated_chunks.metas += list(metas)

    # ---- files read before (ingest skips those whose signature is unchanged) ----------------
    def unchanged_files(self, signatures: dict[str, tuple]) -> set[str]:
        """The files (of ``signatures``: path -> size, times, inode, loader key) whose
        signature is the one recorded when the committed corpus read them."""
        if not signatures:
            return set()
        c = self.generation.committed
        found = set()
        with closing(self.index._connect()) as con:
            paths = sorted(signatures)
            for i in range(0, len(paths), 500):
                part = paths[i : i + 500]
                marks = ",".join("?" * len(part))
                for path, signature in con.execute(
                    f"SELECT path, signature FROM files WHERE path IN ({marks}) "
                    "AND gen <= ? AND (dead = 0 OR dead > ?)",
                    (*part, c, c),
                ):
                    if signature == json.dumps(signatures[path]):
                        found.add(path)
        return found

    def articles_in_files(self, paths: set[str]) -> dict[str, str]:
        """The committed articles (id -> path) read from ``paths``."""
        c = self.generation.committed
        out: dict[str, str] = {}
        if not paths:
            return out
        with closing(self.index._connect()) as con:
            ordered = sorted(paths)
            for i in range(0, len(ordered), 500):
                part = ordered[i : i + 500]
                marks = ",".join("?" * len(part))
                for aid, path in con.execute(
                    f"SELECT article_id, path FROM articles WHERE path IN ({marks}) "
                    "AND gen <= ? AND (dead = 0 OR dead > ?)",
                    (*part, c, c),
                ):
                    out[aid] = path
        return out

    def record_files(self, signatures: dict[str, tuple]) -> None:
        """Record the signatures of files read whole whose articles the store holds as read
        (written with the commit)."""
        self._files.update({path: json.dumps(sig) for path, sig in signatures.items()})

    @property
    def changed(self) -> bool:
        return bool(self._new.ids or self._retired)

    def commit(self) -> None:
        """Make this generation what readers see (see the module doc), or, when nothing
        changed, just write relocations and settle. Then clean up."""
        c, g = self.generation.committed, self.number
        if self._relocated_chunks.ids and not self._following:
            # One call for all of them: Chroma's cost is per call (84 ms an article otherwise).
            self.store.update_metadata(self._relocated_chunks.ids, self._relocated_chunks.metas)
        with closing(self.index._connect(write=True)) as con:
            if self._relocated:
                con.execute("BEGIN IMMEDIATE")
                con.executemany(
                    f"UPDATE articles SET path = :path WHERE article_id = :aid AND {_visible()}",
                    [{"path": path, "aid": aid, "c": c} for aid, path in self._relocated],
                )
                con.execute("COMMIT")
            if not self.changed and not (self._rebuilding or self._following):
                # Nothing new: the files' contents are the committed generation's own.
                con.execute("BEGIN IMMEDIATE")
                _record_files(con, self._files, c, c)
                con.execute("COMMIT")
                self.store.finish()
                _settle(con, self.store.view()[0])
                return
            planned = set(self._new.ids)
            # Records an interrupted run wrote but this one did not take up must not appear.
            if self.generation.leftovers - planned:
                self.store.delete(sorted(self.generation.leftovers - planned))
            rows = self._catalog_rows(con, c)
            con.execute("BEGIN IMMEDIATE")
            try:
                self._write_rows(con, rows, c, g)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if not (self._rebuilding or self._following):
                if self.store.location is None:
                    # Machines following the Chroma server catch up from this (see snapshot).
                    self.store.log_change(
                        g, {"prev": c, "retired": sorted(self._retired), "moved": dict(self._relocated)}
                    )
                self.store.commit(g)
                self.store.finish()
            _settle(con, g if self._following else self.store.view()[0])
            self.index._remove_unnamed_segments(con)

    # ---- what a commit writes ------------------------------------------------------------
    def _catalog_rows(self, con: sqlite3.Connection, c: int) -> dict:
        g = self.number
        visible = {"c": c}
        # Tombstones: where the retired chunks sit in the committed generation's segments.
        tomb: list[tuple[str, int]] = []
        for state in self._retired.values():
            for chunk_id in state.chunk_ids:
                tomb += con.execute(
                    "SELECT l.segment, l.row FROM locations l JOIN segments s ON s.name = l.segment "
                    f"WHERE l.chunk_id = :id AND {_visible('s')} AND NOT EXISTS (SELECT 1 FROM tombstones t "
                    "WHERE t.segment = l.segment AND t.row = l.row AND t.gen <= :c)",
                    {**visible, "id": chunk_id},
                ).fetchall()
        # The new segment, then the merges the logarithmic policy asks for.
        new_segments: list[seg.Segment] = []
        if self._new.ids:
            terms = [
                _terms(i, t, m)
                for i, t, m in zip(self._new.ids, self._new.texts, self._new.metas, strict=True)
            ]
            new_segments.append(seg.build(f"g{g}-0", terms))
        existing = con.execute(
            f"SELECT name, rows FROM segments WHERE {_visible()} ORDER BY gen, name", visible
        ).fetchall()
        dead_rows: dict[str, set[int]] = defaultdict(set)
        for name, row in con.execute("SELECT segment, row FROM tombstones WHERE gen <= :c", visible):
            dead_rows[name].add(row)
        for name, row in tomb:
            dead_rows[name].add(row)
        order = [(name, rows) for name, rows in existing] + [(s.name, s.rows) for s in new_segments]
        plan = seg.merge_plan(
            [rows - len(dead_rows[name]) for name, rows in order], [len(dead_rows[name]) for name, _ in order]
        )
        merged_away: list[str] = []
        built = {s.name: s for s in new_segments}
        for n, group in enumerate(plan, start=1):
            parts = []
            for i in group:
                name = order[i][0]
                source = built.pop(name, None) or seg.load(self.index._segments_dir, name)
                mask = np.zeros(source.rows, dtype=bool)
                mask[sorted(dead_rows[name])] = True
                parts.append((source, mask))
                merged_away.append(name)
            merged = seg.merge(f"g{g}-{n}", parts)
            built[merged.name] = merged
        files = {name: seg.save(s, self.index._segments_dir) for name, s in built.items()}
        # Near-duplicates of the articles written this run.
        articles = _articles_of(self._new)
        bands, edges = self._copies(con, articles, c)
        return {
            "tombstones": [(n, r) for n, r in tomb if n not in merged_away],
            "segments": built,
            "files": files,
            "merged_away": [n for n in merged_away if n not in built],
            "articles": articles,
            "bands": bands,
            "edges": edges,
        }

    def _write_rows(self, con: sqlite3.Connection, rows: dict, c: int, g: int) -> None:
        stamp = g
        cg = {"c": c, "g": g}
        if self._retired:
            marks = [(aid,) for aid in self._retired]
            for table, column in (
                ("articles", "article_id"),
                ("bands", "article_id"),
                ("copies", "a"),
                ("copies", "b"),
            ):
                con.executemany(
                    f"UPDATE {table} SET dead = {g} WHERE {column} = ? AND gen <= {c} AND dead = 0", marks
                )
        for aid, row in rows["articles"].items():
            if not self._rebuilding and aid not in self._retired and aid in self.states():
                # Written again without being retired (an older chunk-id scheme): replaced.
                con.execute(
                    f"UPDATE articles SET dead = {g} WHERE article_id = ? AND gen <= {c} AND dead = 0", (aid,)
                )
            con.execute(
                "INSERT OR REPLACE INTO articles (article_id, gen, dead, article_hash, path, url, title, "
                "source, published, chunk_ids) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
                (aid, stamp, *row),
            )
        for name, s in rows["segments"].items():
            con.execute(
                "INSERT INTO segments (name, gen, dead, rows, files) VALUES (?, ?, 0, ?, ?)",
                (name, stamp, s.rows, json.dumps(rows["files"][name])),
            )
            con.executemany(
                "INSERT INTO locations (segment, row, chunk_id) VALUES (?, ?, ?)",
                ((name, r, chunk_id) for r, chunk_id in enumerate(s.chunk_ids)),
            )
        con.executemany(
            "UPDATE segments SET dead = :g WHERE name = :n", [{**cg, "n": n} for n in rows["merged_away"]]
        )
        con.executemany(
            "INSERT OR IGNORE INTO tombstones (segment, row, gen) VALUES (?, ?, ?)",
            ((n, r, stamp) for n, r in rows["tombstones"]),
        )
        con.executemany(
            "INSERT OR IGNORE INTO bands (key, article_id, gen) VALUES (?, ?, ?)",
            ((key, aid, stamp) for aid, keys in rows["bands"].items() for key in keys),
        )
        con.executemany(
            "INSERT OR IGNORE INTO copies (a, b, gen) VALUES (?, ?, ?)",
            ((a, b, stamp) for a, b in rows["edges"]),
        )
        _record_files(con, self._files, c, g)
        chunks = (
            con.execute(
                "SELECT COALESCE(SUM(rows), 0) FROM segments WHERE gen <= :g AND (dead = 0 OR dead > :g)", cg
            ).fetchone()[0]
            - con.execute(
                "SELECT COUNT(*) FROM tombstones t JOIN segments s ON s.name = t.segment "
                "WHERE t.gen <= :g AND s.gen <= :g AND (s.dead = 0 OR s.dead > :g)",
                cg,
            ).fetchone()[0]
        )
        con.execute("INSERT OR REPLACE INTO commits (gen, chunks) VALUES (?, ?)", (g, chunks))

    def _copies(
        self, con: sqlite3.Connection, articles: dict[str, tuple], c: int
    ) -> tuple[dict[str, list[int]], list[tuple[str, str]]]:
        """Band keys of the new articles, and the copy pairs they form with the committed
        corpus and with each other (candidates by shared band, judged by exact containment)."""
        texts = _article_texts(self._new)
        grams = {aid: shingles(texts[aid]) for aid in articles}
        keys = {aid: band_keys(grams[aid]) for aid in articles}
        buckets: dict[int, set[str]] = defaultdict(set)
        for aid, ks in keys.items():
            for k in ks:
                buckets[k].add(aid)
        stored: dict[int, set[str]] = defaultdict(set)
        all_keys = sorted(buckets)
        gone = set(self._retired) | set(articles)
        for i in range(0, len(all_keys), 500):
            part = all_keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for key, aid in con.execute(
                f"SELECT key, article_id FROM bands WHERE key IN ({marks}) "
                "AND gen <= ? AND (dead = 0 OR dead > ?)",
                (*part, c, c),
            ):
                if aid not in gone:
                    stored[key].add(aid)
        candidates: dict[str, set[str]] = defaultdict(set)
        for key, new in buckets.items():
            old = stored.get(key, set())
            if len(new) + len(old) > MAX_POSTINGS:
                continue  # boilerplate shared by many articles, not evidence of copying
            for aid in new:
                candidates[aid] |= (new | old) - {aid}
        others = sorted({o for cs in candidates.values() for o in cs} - set(grams))
        grams.update(self._stored_shingles(others, c))
        edges = set()
        for aid, cs in candidates.items():
            for other in cs:
                if other in grams and containment(grams[aid], grams[other]) >= MIN_CONTAINMENT:
                    edges.add((min(aid, other), max(aid, other)))
        for a, b in sorted(edges):
            self.copies.setdefault(a, []).append(b)
            self.copies.setdefault(b, []).append(a)
        return keys, sorted(edges)

    def _stored_shingles(self, article_ids: Sequence[str], c: int) -> dict[str, set[int]]:
        """Shingles of committed articles, from their chunks in Chroma (candidates only)."""
        if not article_ids:
            return {}
        states = self.states()
        ids = sorted({i for aid in article_ids if aid in states for i in states[aid].chunk_ids})
        passages = self.store.get(ids, view=(c, True))
        parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for p in passages:
            parts[p.article_id].append((p.chunk_index, p.text))
        return {aid: shingles("\n".join(t for _, t in sorted(ch))) for aid, ch in parts.items()}


def _record_files(con: sqlite3.Connection, files: dict[str, str], c: int, g: int) -> None:
    """File signatures as of generation ``g`` (the committed ``c`` itself when nothing changed):
    a file's row from before is retired by ``g``, or replaced in place when ``g == c``."""
    for path, signature in files.items():
        if g == c:
            con.execute(
                "DELETE FROM files WHERE path = ? AND gen <= ? AND (dead = 0 OR dead > ?)", (path, c, c)
            )
        else:
            con.execute("UPDATE files SET dead = ? WHERE path = ? AND gen <= ? AND dead = 0", (g, path, c))
        con.execute(
            "INSERT OR REPLACE INTO files (path, gen, dead, signature) VALUES (?, ?, 0, ?)",
            (path, g, signature),
        )


def _articles_of(new: _Pending) -> dict[str, tuple]:
    """Catalog rows (hash, path, url, title, source, published, chunk ids) of the articles
    whose chunks ``new`` holds."""
    chunk_ids: dict[str, list[str]] = defaultdict(list)
    first: dict[str, dict] = {}
    for chunk_id, meta in zip(new.ids, new.metas, strict=True):
        aid = str(meta.get("article_id", ""))
        chunk_ids[aid].append(chunk_id)
        first.setdefault(aid, meta)
    return {
        aid: (
            str(m.get("article_hash", "")),
            str(m.get("path", "")),
            str(m.get("url", "")),
            str(m.get("title", "")),
            str(m.get("source", "")),
            str(m.get("published", "")),
            json.dumps(sorted(chunk_ids[aid])),
        )
        for aid, m in first.items()
    }


def _article_texts(new: _Pending) -> dict[str, str]:
    from qa_bot.corpus.duplicates import article_texts

    return article_texts(new.ids, new.texts, new.metas)


@contextmanager
def writing(index: CorpusIndex) -> Iterator[IndexWrite]:
    """Hold the lock and begin a generation; committed by the caller."""
    with index.lock():
        yield index.begin()


__all__ = ["CorpusIndex", "IndexDamaged", "IndexWrite", "KeywordHit", "Snapshot", "StoreError", "writing"]
