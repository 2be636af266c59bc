"""One generation of the corpus index being written (see :mod:`qa_bot.corpus.index` for the
protocol): the chunks Chroma gets, the articles retired and moved, the file signatures; at
the commit, the new keyword segment and the merges the policy asks for, tombstones, catalog
rows, MinHash bands and the copy pairs the new articles form, then Chroma's commit."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.corpus import catalog
from qa_bot.corpus import segments as seg
from qa_bot.corpus.catalog import ArticleStates, visible
from qa_bot.corpus.duplicates import (
    MAX_POSTINGS,
    MIN_CONTAINMENT,
    article_texts,
    band_keys,
    containment,
    shingles,
)
from qa_bot.corpus.store import ArticleState, Generation
from qa_bot.text import keyword_tokens

if TYPE_CHECKING:
    from qa_bot.corpus.index import CorpusIndex

log = logging.getLogger(__name__)


def chunk_terms(chunk_id: str, text: str, meta: dict) -> seg.ChunkTerms:
    # The title is searchable too: people ask with words from headlines.
    return seg.ChunkTerms(
        chunk_id,
        keyword_tokens(f"{meta.get('title', '')}\n{text}"),
        str(meta.get("source", "")),
        int(meta.get("published_day", 0) or 0),
    )


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
        self._states: ArticleStates | None = None
        #: article id -> the other articles of its copy group, for articles written this run
        self.copies: dict[str, list[str]] = {}

    @property
    def number(self) -> int:
        return self.generation.number

    def states(self) -> ArticleStates:
        """The committed generation's articles (rows read as they are asked for)."""
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
            select = "SELECT path, signature FROM files"
            for path, signature in catalog.rows_in(con, select, "path", sorted(signatures), c):
                if signature == json.dumps(signatures[path]):
                    found.add(path)
        return found

    def articles_in_files(self, paths: set[str]) -> dict[str, str]:
        """The committed articles (id -> path) read from ``paths``."""
        return self.states().ids_in_files(sorted(paths))

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
                    f"UPDATE articles SET path = :path WHERE article_id = :aid AND {visible()}",
                    [{"path": path, "aid": aid, "c": c} for aid, path in self._relocated],
                )
                con.execute("COMMIT")
            if not self.changed and not (self._rebuilding or self._following):
                # Nothing new: the files' contents are the committed generation's own.
                con.execute("BEGIN IMMEDIATE")
                catalog.record_files(con, self._files, c, c)
                con.execute("COMMIT")
                self.store.finish()
                catalog.settle(con, self.store.view()[0])
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
            catalog.settle(con, g if self._following else self.store.view()[0])
            self.index._remove_unnamed_segments(con)

    # ---- what a commit writes ------------------------------------------------------------
    def _catalog_rows(self, con: sqlite3.Connection, c: int) -> dict:
        g = self.number
        at = {"c": c}
        # Tombstones: where the retired chunks sit in the committed generation's segments.
        tomb: list[tuple[str, int]] = []
        for state in self._retired.values():
            for chunk_id in state.chunk_ids:
                tomb += con.execute(
                    "SELECT l.segment, l.row FROM locations l JOIN segments s ON s.name = l.segment "
                    f"WHERE l.chunk_id = :id AND {visible('s')} AND NOT EXISTS (SELECT 1 FROM tombstones t "
                    "WHERE t.segment = l.segment AND t.row = l.row AND t.gen <= :c)",
                    {**at, "id": chunk_id},
                ).fetchall()
        # The new segment, then the merges the logarithmic policy asks for.
        new_segments: list[seg.Segment] = []
        if self._new.ids:
            terms = (
                chunk_terms(i, t, m)
                for i, t, m in zip(self._new.ids, self._new.texts, self._new.metas, strict=True)
            )  # tokenized one chunk at a time as the segment is built
            new_segments.append(seg.build(f"g{g}-0", terms))
        existing = con.execute(
            f"SELECT name, rows FROM segments WHERE {visible()} ORDER BY gen, name", at
        ).fetchall()
        dead_rows: dict[str, set[int]] = defaultdict(set)
        for name, row in con.execute("SELECT segment, row FROM tombstones WHERE gen <= :c", at):
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
            if merged.rows:  # segments whose every row is retired merge into nothing
                built[merged.name] = merged
        files = {name: seg.save(s, self.index._segments_dir) for name, s in built.items()}
        # Near-duplicates of the articles written this run.
        articles = _articles_of(self._new)
        bands, edges = self._copies(con, articles, c)
        self.states().load(list(articles))  # read now, not inside the write transaction
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
                ((name, r, s.chunk_id(r)) for r in range(s.rows)),
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
        catalog.record_files(con, self._files, c, g)
        con.execute("INSERT OR REPLACE INTO meta VALUES ('written', ?)", (str(g),))
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
        # Shingles are let go once banded and made again only for articles with candidates
        # (a few in a hundred): a whole store's shingle sets would take gigabytes.
        keys = {aid: band_keys(shingles(texts[aid])) for aid in articles}
        candidates = self._candidates(con, keys, c)
        involved = set(candidates) | {o for cs in candidates.values() for o in cs}
        grams = {aid: shingles(texts[aid]) for aid in involved if aid in articles}
        others = sorted(involved - set(grams))
        grams.update(self._stored_shingles(others, c))
        edges = set()
        for aid, cs in candidates.items():
            for other in cs:
                if other in grams and containment(grams[aid], grams[other]) >= MIN_CONTAINMENT:
                    edges.add((min(aid, other), max(aid, other)))
        log.info(
            "near-duplicates: %d new articles, %d candidate pairs, %d stored articles read, %d copy pairs",
            len(articles),
            sum(len(cs) for cs in candidates.values()),
            len(others),
            len(edges),
        )
        for a, b in sorted(edges):
            self.copies.setdefault(a, []).append(b)
            self.copies.setdefault(b, []).append(a)
        return keys, sorted(edges)

    def _candidates(self, con: sqlite3.Connection, keys: dict[str, list[int]], c: int) -> dict[str, set[str]]:
        """For each new article sharing a band key with another (new, or committed and not
        retired), those others; keys shared by more than MAX_POSTINGS articles are ignored.
        Keys are grouped with numpy arrays, not a set per key: a rebuild bands every
        article of the store at once."""
        aids = list(keys)
        flat = np.fromiter((k for aid in aids for k in keys[aid]), dtype=np.int64)
        owner = np.fromiter((i for i, aid in enumerate(aids) for _ in keys[aid]), dtype=np.int64)
        order = np.argsort(flat, kind="stable")
        flat, owner = flat[order], owner[order]
        unique, first, counts = np.unique(flat, return_index=True, return_counts=True)
        stored: dict[int, set[str]] = defaultdict(set)
        gone = set(self._retired) | set(aids)
        for key, aid in catalog.rows_in(con, "SELECT key, article_id FROM bands", "key", unique.tolist(), c):
            if aid not in gone:
                stored[key].add(aid)
        shared = set(np.flatnonzero(counts >= 2).tolist())
        shared |= set(np.searchsorted(unique, sorted(stored)).tolist())
        candidates: dict[str, set[str]] = defaultdict(set)
        for j in sorted(shared):
            new = {aids[i] for i in owner[first[j] : first[j] + counts[j]].tolist()}
            old = stored.get(int(unique[j]), set())
            if len(new) + len(old) > MAX_POSTINGS:
                continue  # boilerplate shared by many articles, not evidence of copying
            for aid in new:
                candidates[aid] |= (new | old) - {aid}
        return {aid: cs for aid, cs in candidates.items() if cs}

    def _stored_shingles(self, article_ids: Sequence[str], c: int) -> dict[str, set[int]]:
        """Shingles of committed articles, from their chunks in Chroma (candidates only)."""
        if not article_ids:
            return {}
        states = self.states()
        states.load(article_ids)
        ids = sorted({i for aid in article_ids if aid in states for i in states[aid].chunk_ids})
        # By id and without the generation filter: the catalog named these chunks for
        # generation c, and a Chroma `where` over many ids costs minutes at 100k articles.
        passages = []
        for i in range(0, len(ids), 5000):
            passages += self.store.get(ids[i : i + 5000], view=(c, False))
        parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for p in passages:
            parts[p.article_id].append((p.chunk_index, p.text))
        return {aid: shingles("\n".join(t for _, t in sorted(ch))) for aid, ch in parts.items()}


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
    return article_texts(new.ids, new.texts, new.metas)
