"""The corpus index's catalog: one SQLite file (Python's standard library) of the rows that
say what a store generation is made of besides Chroma's records: articles (what ingest
diffs against), keyword segments and where each chunk sits in them, tombstones, MinHash
bands, copy pairs, file signatures and committed generations.

Every row of the stamped tables carries the generation that wrote it (``gen``) and the one
that retired it (``dead``), with the visibility rule of :mod:`qa_bot.corpus.store`, so the
catalog and Chroma act as one transaction (see :mod:`qa_bot.corpus.index`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path

from qa_bot.corpus.duplicates import linked_groups
from qa_bot.corpus.store import ArticleState

CATALOG_FILE = "catalog.sqlite3"
SCHEMA_VERSION = "1"
SCHEMA = """
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
CREATE INDEX IF NOT EXISTS articles_url ON articles (url) WHERE url != '';
CREATE INDEX IF NOT EXISTS articles_dead ON articles (dead) WHERE dead != 0;
CREATE INDEX IF NOT EXISTS segments_dead ON segments (dead) WHERE dead != 0;
CREATE INDEX IF NOT EXISTS bands_dead ON bands (dead) WHERE dead != 0;
CREATE INDEX IF NOT EXISTS copies_dead ON copies (dead) WHERE dead != 0;
CREATE INDEX IF NOT EXISTS files_dead ON files (dead) WHERE dead != 0;
"""
# Tables whose rows carry gen/dead (see the module doc).
STAMPED = ("articles", "segments", "bands", "copies", "files")


class IndexDamaged(Exception):
    """The catalog or a segment cannot be trusted (the message says why)."""


def connect(path: Path, write: bool = False) -> sqlite3.Connection:
    """The catalog at ``path``: created with its schema for a writer, read-only for a reader.

    Raises:
        IndexDamaged: a reader asked for a catalog that does not exist.
    """
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        con.execute("PRAGMA synchronous = FULL")  # the commit must be on disk before Chroma's
        con.executescript(SCHEMA)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        return con
    if not path.is_file():
        raise IndexDamaged(f"{path} does not exist")
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30, isolation_level=None)


def visible(alias: str = "") -> str:
    """The visibility rule of :mod:`qa_bot.corpus.store`, for the generation bound as ``:c``."""
    p = f"{alias}." if alias else ""
    return f"({p}gen <= :c AND ({p}dead = 0 OR {p}dead > :c))"


def rows_in(con: sqlite3.Connection, select: str, column: str, values: Sequence, c: int) -> Iterator[tuple]:
    """The rows of ``select`` (``SELECT ... FROM table``) whose ``column`` is one of ``values``
    and that are visible at generation ``c``, asked 500 values at a time (SQLite caps a
    statement's variables)."""
    values = list(values)
    for i in range(0, len(values), 500):
        part = values[i : i + 500]
        marks = ",".join("?" * len(part))
        yield from con.execute(
            f"{select} WHERE {column} IN ({marks}) AND gen <= ? AND (dead = 0 OR dead > ?)", (*part, c, c)
        )


class ArticleStates(Mapping[str, ArticleState]):
    """The articles of one committed generation, read from the catalog as they are asked
    for: an ingest that touches k articles reads k rows, not the archive (iterating reads
    every id, for suggestions and checks)."""

    def __init__(self, path: Path, at: int) -> None:
        self._path = path
        self._at = at
        self._known: dict[str, ArticleState | None] = {}

    def _rows(self, where: str, values: Sequence[str]) -> list[tuple]:
        select = "SELECT article_id, article_hash, path, url, chunk_ids FROM articles"
        with closing(connect(self._path)) as con:
            return list(rows_in(con, select, where, values, self._at))

    def _remember(self, rows: list[tuple]) -> dict[str, ArticleState]:
        found = {
            aid: ArticleState(h, path, set(json.loads(ids)), {h}, url=url) for aid, h, path, url, ids in rows
        }
        self._known.update(found)
        return found

    def load(self, ids: Sequence[str]) -> None:
        """Read the rows of ``ids`` at once (one query per 500)."""
        wanted = [i for i in dict.fromkeys(ids) if i not in self._known]
        if not wanted or not self._path.is_file():
            self._known.update(dict.fromkeys(wanted))
            return
        found = self._remember(self._rows("article_id", wanted))
        self._known.update({i: None for i in wanted if i not in found})

    def __getitem__(self, article_id: str) -> ArticleState:
        if article_id not in self._known:
            self.load([article_id])
        state = self._known[article_id]
        if state is None:
            raise KeyError(article_id)
        return state

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self.get(article_id) is not None

    def ids(self) -> list[str]:
        if not self._path.is_file():
            return []
        with closing(connect(self._path)) as con:
            return [
                aid
                for (aid,) in con.execute(
                    f"SELECT article_id FROM articles WHERE {visible()} ORDER BY article_id", {"c": self._at}
                )
            ]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())

    def __len__(self) -> int:
        return len(self.ids())

    def with_urls(self, urls: Sequence[str]) -> dict[str, ArticleState]:
        """The articles (by id) stored under one of ``urls``."""
        return self._remember(self._rows("url", sorted(set(urls)))) if urls else {}

    def in_files(self, paths: Sequence[str]) -> dict[str, ArticleState]:
        """The articles (by id) read from one of ``paths``."""
        return self._remember(self._rows("path", sorted(set(paths)))) if paths else {}

    def paths(self) -> set[str]:
        """Every path (file or URL) articles were read from (one scan of the path index)."""
        if not self._path.is_file():
            return set()
        with closing(connect(self._path)) as con:
            return {
                p
                for (p,) in con.execute(
                    f"SELECT DISTINCT path FROM articles WHERE {visible()}", {"c": self._at}
                )
            }

    def ids_in_files(self, paths: Sequence[str]) -> dict[str, str]:
        """id -> path of the articles read from ``paths`` (no chunk lists read)."""
        if not paths or not self._path.is_file():
            return {}
        with closing(connect(self._path)) as con:
            select = "SELECT article_id, path FROM articles"
            return dict(rows_in(con, select, "path", sorted(set(paths)), self._at))


def article_info(con: sqlite3.Connection, ids: Sequence[str], c: int) -> dict[str, dict]:
    """Title, source, url and publication date of the articles ``ids`` visible at ``c``."""
    select = "SELECT article_id, title, source, url, published FROM articles"
    return {
        aid: {"title": title, "source": source, "url": url, "published": published}
        for aid, title, source, url, published in rows_in(con, select, "article_id", ids, c)
    }


def copy_groups_of(edges: Sequence[tuple[str, str]], info: dict[str, dict]) -> dict[str, dict]:
    """Copy groups (connected components of the copy pairs among the articles of ``info``),
    as retrieval folds them."""
    out: dict[str, dict] = {}
    for aid, group in linked_groups(info, edges).items():
        if aid not in out:
            entry = {"group": list(group), "info": {g: info[g] for g in group}}
            out.update(dict.fromkeys(group, entry))
    return out


def settle(con: sqlite3.Connection, c: int) -> None:
    """Undo rows of generations after ``c`` (never committed) and finish the clean-up of
    ``c``'s retirements: the catalog as of ``c``, in one transaction.

    It costs what there is to clean: retired rows are found through partial indexes (only
    retired rows are in them), and rows of later generations are looked for only when the
    catalog records having written one (``meta.written``), i.e. after a killed run.
    """
    con.execute("BEGIN IMMEDIATE")
    row = con.execute("SELECT value FROM meta WHERE key = 'written'").fetchone()
    ahead = row is not None and int(row[0]) > c
    dropped = [
        n
        for (n,) in con.execute(
            "SELECT name FROM segments WHERE (dead != 0 AND dead <= :c) OR (:ahead AND gen > :c)",
            {"c": c, "ahead": ahead},
        )
    ]
    for name in dropped:
        con.execute("DELETE FROM locations WHERE segment = ?", (name,))
        con.execute("DELETE FROM tombstones WHERE segment = ?", (name,))
    for table in STAMPED:
        if ahead:
            con.execute(f"DELETE FROM {table} WHERE gen > :c", {"c": c})
        con.execute(f"UPDATE {table} SET dead = 0 WHERE dead != 0 AND dead > :c", {"c": c})
        con.execute(f"DELETE FROM {table} WHERE dead != 0 AND dead <= :c", {"c": c})
    if ahead:
        con.execute("DELETE FROM tombstones WHERE gen > :c", {"c": c})
    con.execute("DELETE FROM commits WHERE gen > :c OR gen < :c - 5", {"c": c})
    con.execute("INSERT OR REPLACE INTO meta VALUES ('written', ?)", (str(c),))
    con.execute("COMMIT")


def record_files(con: sqlite3.Connection, files: dict[str, str], c: int, g: int) -> None:
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
