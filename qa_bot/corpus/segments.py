"""The keyword index as immutable segments: BM25 that grows with each ingest, not with the archive.

An ingest that adds k chunks writes one small segment holding just those chunks' term
counts; a chunk that goes is a tombstone (a row number) until its segment is rewritten.
Scores are computed at query time from the term counts and the live corpus's statistics
(document count, document frequencies, average length), so a corpus split over several
segments scores exactly as one index over the same chunks would: the formula is bm25s's
default ("lucene": ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, ``k1 = 1.5``, ``b = 0.75``),
which the index used before it became incremental (``tests/test_segments.py`` compares the
two on the same chunks).

Segments are merged logarithmically (:func:`merge_plan`): the newest ones merge while the
last is at least half the size of the one before, so every chunk is rewritten O(log n) times
over the archive's life and a store holds O(log n) segments; a segment that is a quarter
tombstones is rewritten alone. Who writes and commits segments, and which ones readers see,
is :mod:`qa_bot.corpus.index`'s business; this module only builds, loads and scores them.

A segment is a folder of ``.npy`` arrays (memory-mapped when loaded, so serving processes
share the pages and hold only those a question touches: the chunk ids too, as fixed-width
bytes, so a serving process holds no Python object per chunk) and ``segment.json`` (its
words, sources, and the size and SHA-256 of each array: numpy loads an array of the wrong
size without a word, so a damaged segment is detected and refused, never trusted).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75
_ARRAYS = ("chunk_ids", "indptr", "docs", "tfs", "lengths", "days", "sources")
_META = "segment.json"


class SegmentDamaged(Exception):
    """A segment's files are not the ones that were written (the message says which)."""


@dataclass(frozen=True)
class ChunkTerms:
    """What the keyword index keeps of one chunk: its id, its tokens (title included), its
    source and its publication day (YYYYMMDD, 0 when undated), for filters."""

    chunk_id: str
    tokens: Sequence[str]
    source: str
    day: int


@dataclass
class Segment:
    """One immutable segment, loaded (arrays memory-mapped) or just built."""

    name: str
    words: list[str]
    chunk_ids: np.ndarray  # bytes (UTF-8, fixed width) of each row's chunk id: see chunk_id()
    source_names: list[str]
    indptr: np.ndarray  # int64, one slice of docs/tfs per word
    docs: np.ndarray  # int32 row of each posting
    tfs: np.ndarray  # uint16 term count of each posting
    lengths: np.ndarray  # int32 tokens per row
    days: np.ndarray  # int32 publication day per row (0: undated)
    sources: np.ndarray  # int32 index into source_names per row
    vocab: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.vocab:
            self.vocab = {w: i for i, w in enumerate(self.words)}

    @property
    def rows(self) -> int:
        return len(self.chunk_ids)

    def chunk_id(self, row: int) -> str:
        return bytes(self.chunk_ids[row]).decode()

    def postings(self, word: str) -> tuple[np.ndarray, np.ndarray] | None:
        i = self.vocab.get(word)
        if i is None:
            return None
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.docs[a:b], self.tfs[a:b]


def build(name: str, chunks: Iterable[ChunkTerms]) -> Segment:
    """A segment of ``chunks`` (rows in the order given), read once: each chunk's tokens are
    counted and let go, and postings go into typed arrays (4-8 bytes an entry, not a Python
    int), so building from every chunk of a large store holds no token list per chunk."""
    words: dict[str, int] = {}
    word_ids, doc_ids, counts = array("q"), array("i"), array("q")
    chunk_ids: list[str] = []
    lengths, days = array("i"), array("i")
    source_index: dict[str, int] = {}
    sources = array("i")
    for row, chunk in enumerate(chunks):
        chunk_ids.append(chunk.chunk_id)
        lengths.append(len(chunk.tokens))
        days.append(chunk.day)
        sources.append(source_index.setdefault(chunk.source, len(source_index)))
        for word, n in Counter(chunk.tokens).items():
            word_ids.append(words.setdefault(word, len(words)))
            doc_ids.append(row)
            counts.append(n)
    # Sources named in sorted order (as merge and the tests expect), rows renumbered to match.
    names = sorted(source_index)
    rank = {source: i for i, source in enumerate(names)}
    renumber = np.asarray([rank[source] for source in source_index], dtype=np.int32)
    return _from_postings(
        name,
        list(words),
        np.frombuffer(word_ids, dtype=np.int64),
        np.frombuffer(doc_ids, dtype=np.int32),
        np.frombuffer(counts, dtype=np.int64),
        id_array(chunk_ids),
        names,
        np.frombuffer(lengths, dtype=np.int32),
        np.frombuffer(days, dtype=np.int32),
        renumber[np.frombuffer(sources, dtype=np.int32)],
    )


def _from_postings(
    name: str,
    words: list[str],
    word_ids: np.ndarray,
    doc_ids: np.ndarray,
    counts: np.ndarray,
    chunk_ids: np.ndarray,
    source_names: list[str],
    lengths: np.ndarray,
    days: np.ndarray,
    sources: np.ndarray,
) -> Segment:
    # Words sorted so merged segments list them in one order; postings by word, then row.
    order_words = np.argsort(np.asarray(words, dtype=object), kind="stable") if words else np.zeros(0, int)
    rank = np.empty(len(words), dtype=np.int64)
    rank[order_words] = np.arange(len(words))
    ranked = rank[word_ids] if len(word_ids) else word_ids
    order = np.lexsort((doc_ids, ranked))
    indptr = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ranked, minlength=len(words)), out=indptr[1:])
    return Segment(
        name=name,
        words=[words[i] for i in order_words],
        chunk_ids=chunk_ids,
        source_names=source_names,
        indptr=indptr,
        docs=doc_ids[order].astype(np.int32),
        tfs=np.minimum(counts[order], np.iinfo(np.uint16).max).astype(np.uint16),
        lengths=lengths.astype(np.int32),
        days=days.astype(np.int32),
        sources=sources.astype(np.int32),
    )


def merge(name: str, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
    """One segment of the live rows of ``parts`` ((segment, deleted-row mask) pairs), in order."""
    words: dict[str, int] = {}
    all_words, all_docs, all_counts = [], [], []
    chunk_ids: list[np.ndarray] = []
    source_names: dict[str, int] = {}
    lengths, days, sources = [], [], []
    offset = 0
    for seg, deleted in parts:
        keep = ~deleted
        new_row = np.cumsum(keep, dtype=np.int64) - 1 + offset
        local_to_global = np.asarray([words.setdefault(w, len(words)) for w in seg.words], dtype=np.int64)
        word_of_posting = np.repeat(np.arange(len(seg.words)), np.diff(seg.indptr))
        live = keep[seg.docs]
        all_words.append(local_to_global[word_of_posting[live]])
        all_docs.append(new_row[seg.docs[live]])
        all_counts.append(np.asarray(seg.tfs[live], dtype=np.int64))
        rows = np.flatnonzero(keep)
        chunk_ids.append(np.asarray(seg.chunk_ids)[rows])
        remap = np.asarray(
            [source_names.setdefault(s, len(source_names)) for s in seg.source_names], dtype=np.int32
        )
        lengths.append(np.asarray(seg.lengths)[rows])
        days.append(np.asarray(seg.days)[rows])
        sources.append(remap[np.asarray(seg.sources)[rows]] if len(remap) else np.zeros(0, np.int32))
        offset += len(rows)

    def cat(xs: list[np.ndarray], dt: type) -> np.ndarray:
        return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

    # Only the words some live row still holds (a merge drops the vocabulary of the dead).
    used, word_ids = np.unique(cat(all_words, np.int64), return_inverse=True)
    vocabulary = list(words)
    return _from_postings(
        name,
        [vocabulary[i] for i in used],
        word_ids.reshape(-1).astype(np.int64),
        cat(all_docs, np.int32),
        cat(all_counts, np.int64),
        np.concatenate(chunk_ids) if chunk_ids else id_array([]),
        list(source_names),
        cat(lengths, np.int32),
        cat(days, np.int32),
        cat(sources, np.int32),
    )


# ---- persistence ---------------------------------------------------------------------------
def save(segment: Segment, folder: Path) -> dict:
    """Write ``segment`` to ``folder/<name>`` atomically (a temporary folder, fsynced, then
    renamed); returns its file record (sizes and SHA-256), also kept in ``segment.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / segment.name
    tmp = Path(tempfile.mkdtemp(prefix=f".{segment.name}-", dir=folder))
    try:
        files = {}
        for array in _ARRAYS:
            path = tmp / f"{array}.npy"
            np.save(path, np.ascontiguousarray(getattr(segment, array)))
            files[path.name] = _record(path)
        meta = {
            "words": segment.words,
            "sources": segment.source_names,
            "files": files,
        }
        (tmp / _META).write_text(json.dumps(meta, ensure_ascii=False))
        for path in tmp.iterdir():
            _fsync(path)
        if target.exists():  # a leftover of a killed run under the same name: never in use
            shutil.rmtree(target)
        tmp.rename(target)
        _fsync(folder)
        return files
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(folder: Path, name: str) -> Segment:
    """The segment ``name`` in ``folder``, its arrays memory-mapped.

    Raises:
        SegmentDamaged: a file is missing, of another size or content than written, or the
            arrays do not fit together.
    """
    target = folder / name
    try:
        meta = json.loads((target / _META).read_text())
        for file, want in meta["files"].items():
            have = _record(target / file)
            if have != want:
                raise SegmentDamaged(
                    f"{target / file} is not the file that was written "
                    f"({have['bytes']:,} bytes, {want['bytes']:,} written; or its SHA-256 differs)"
                )
        written = [a for a in _ARRAYS if f"{a}.npy" in meta["files"]]
        arrays = {a: np.load(target / f"{a}.npy", mmap_mode="r") for a in written}
        if "chunk_ids" in meta:  # written before the ids became an array (kept readable)
            arrays["chunk_ids"] = id_array(meta["chunk_ids"])
    except SegmentDamaged:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SegmentDamaged(f"{target} cannot be read: {exc}") from exc
    if set(arrays) != set(_ARRAYS):
        raise SegmentDamaged(f"{target}: it lacks {', '.join(sorted(set(_ARRAYS) - set(arrays)))}")
    segment = Segment(name, meta["words"], source_names=meta["sources"], **arrays)
    why = _shape_damage(segment)
    if why:
        raise SegmentDamaged(f"{target}: {why}")
    return segment


def id_array(chunk_ids: Sequence[str]) -> np.ndarray:
    """Chunk ids as one fixed-width bytes array (UTF-8; a chunk id holds no NUL)."""
    return np.asarray([c.encode() for c in chunk_ids], dtype=np.bytes_) if chunk_ids else np.zeros(0, "S1")


def _shape_damage(s: Segment) -> str | None:
    # Sizes only: the postings' values are not scanned (that would bring every page of the
    # largest file into each serving process); the SHA-256 check before this proved they are
    # the bytes save() wrote from a segment this module built.
    n = s.rows
    if len(s.indptr) != len(s.words) + 1 or (len(s.indptr) and int(s.indptr[-1]) != len(s.docs)):
        return f"{len(s.indptr)} offsets for {len(s.words)} words and {len(s.docs)} postings"
    if len(s.tfs) != len(s.docs) or any(len(a) != n for a in (s.lengths, s.days, s.sources)):
        return "its arrays do not have one entry per posting and per chunk"
    if len(s.sources) and int(s.sources.max(initial=0)) >= len(s.source_names):
        return "it refers to sources it does not name"
    return None


def _record(path: Path) -> dict:
    with path.open("rb") as f:
        return {"bytes": path.stat().st_size, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- search ----------------------------------------------------------------------------------
@dataclass
class Live:
    """A loaded segment with its tombstones (True: the row's chunk is gone)."""

    segment: Segment
    deleted: np.ndarray

    @property
    def live_rows(self) -> int:
        return int(self.segment.rows - self.deleted.sum())


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    score: float


class SegmentSearch:
    """BM25 over a set of live segments, scored as one index (see the module doc)."""

    def __init__(self, parts: Iterable[Live]) -> None:
        self.parts = [p for p in parts if p.segment.rows]
        self.n_docs = sum(p.live_rows for p in self.parts)
        total = sum(int(np.asarray(p.segment.lengths)[~p.deleted].sum()) for p in self.parts)
        self.avg_len = total / self.n_docs if self.n_docs else 0.0
        # Per row, BM25's length normalisation: computed once per snapshot, not per query.
        self._norms = [
            K1 * ((1 - B) + B * np.asarray(p.segment.lengths, dtype=np.float64) / (self.avg_len or 1.0))
            for p in self.parts
        ]
        self._days: tuple[int, int, bool] | None = None

    def document_frequency(self, word: str) -> int:
        df = 0
        for p in self.parts:
            found = p.segment.postings(word)
            if found is not None:
                df += int((~p.deleted[found[0]]).sum())
        return df

    def coverage(self, tokens: Sequence[str]) -> float:
        """Share of ``tokens`` that some live chunk holds (0 for no tokens)."""
        if not tokens:
            return 0.0
        return sum(self.document_frequency(t) > 0 for t in tokens) / len(tokens)

    def search(self, tokens: Sequence[str], n: int, allowed: Sequence[np.ndarray] | None = None) -> list[Hit]:
        """The top ``n`` live chunks by BM25 for ``tokens`` (a repeated token counts again, as in
        bm25s), only those with a positive score; ``allowed``: one row mask per part (filters)."""
        if not tokens or n <= 0 or not self.n_docs:
            return []
        dfs = {t: self.document_frequency(t) for t in set(tokens)}
        weights = Counter(t for t in tokens if dfs[t] > 0)
        if not weights:
            return []
        best: list[tuple[float, str]] = []
        for i, p in enumerate(self.parts):
            # Only the rows the query's words touch are scored (no array the size of the
            # archive per query: retrieval stays flat as the archive grows).
            rows, parts = [], []
            for word, times in weights.items():
                found = p.segment.postings(word)
                if found is None:
                    continue
                docs, tfs = np.asarray(found[0]), np.asarray(found[1], dtype=np.float64)
                df = dfs[word]
                idf = np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
                rows.append(docs)
                parts.append(times * idf * tfs / (self._norms[i][docs] + tfs))
            if not rows:
                continue
            touched, where = np.unique(np.concatenate(rows), return_inverse=True)
            scores = np.bincount(where, weights=np.concatenate(parts), minlength=len(touched))
            keep = ~p.deleted[touched]
            if allowed is not None:
                keep &= allowed[i][touched]
            touched, scores = touched[keep], scores[keep]
            top = _top(scores, n)
            best += [(float(scores[r]), p.segment.chunk_id(touched[r])) for r in top if scores[r] > 0]
        best.sort(key=lambda h: -h[0])
        return [Hit(chunk_id, score) for score, chunk_id in best[:n]]

    def mask(
        self, sources: frozenset[str] | None, day_from: int | None, day_to: int | None
    ) -> list[np.ndarray]:
        """Per part, the rows passing a source set and a publication-day range (an undated
        chunk fails any day bound)."""
        out = []
        for p in self.parts:
            s = p.segment
            ok = np.ones(s.rows, dtype=bool)
            if sources is not None:
                wanted = np.asarray([name in sources for name in s.source_names], dtype=bool)
                ok &= wanted[np.asarray(s.sources)] if len(wanted) else False
            days = np.asarray(s.days)
            if day_from is not None:
                ok &= (days != 0) & (days >= day_from)
            if day_to is not None:
                ok &= (days != 0) & (days <= day_to)
            out.append(ok)
        return out

    def days(self) -> tuple[int, int, bool]:
        """(earliest day, latest day, some chunk undated) over live chunks; (0, 0, ...) when none is dated."""
        if self._days is None:
            self._days = self._count_days()
        return self._days

    def _count_days(self) -> tuple[int, int, bool]:
        lo, hi, undated = 0, 0, False
        for p in self.parts:
            d = np.asarray(p.segment.days)[~p.deleted]
            undated = undated or bool((d == 0).any())
            dated = d[d != 0]
            if len(dated):
                lo = int(dated.min()) if lo == 0 else min(lo, int(dated.min()))
                hi = max(hi, int(dated.max()))
        return lo, hi, undated


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first (ties by row: stable as bm25s's argsort)."""
    if len(scores) <= n:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, n)[:n]
    return part[np.lexsort((part, -scores[part]))]


def merge_plan(sizes: Sequence[int], deleted: Sequence[int]) -> list[list[int]]:
    """Which segments to rewrite, given each one's live rows and tombstones, oldest first: the
    newest segments merge while the last is at least half the size of the one before
    (logarithmic merging), and a segment that is a quarter tombstones is rewritten alone.
    Returns groups of consecutive positions (each becomes one segment).

    Example:
        >>> merge_plan([1000, 3, 2], [0, 0, 0])
        [[1, 2]]
        >>> merge_plan([1000, 600], [0, 0])
        [[0, 1]]
        >>> merge_plan([1000, 10], [400, 0])
        [[0]]
    """
    live = list(sizes)
    start = len(live) - 1
    total = live[-1] if live else 0
    while start > 0 and total * 2 >= live[start - 1]:
        start -= 1
        total += live[start]
    groups = [list(range(start, len(live)))] if len(live) - start > 1 else []
    for i in range(start if groups else len(live)):
        if deleted[i] * 4 >= (live[i] + deleted[i]) and deleted[i]:
            groups.insert(0, [i])
    return sorted(groups)
