"""Near-duplicate articles: the same wire story syndicated by several outlets.

Two articles are copies when most of the shorter one's word 5-grams ("shingles") occur in
the longer one: outlets re-run agency copy with their own dateline, headline, a changed
word or a "Baca juga" line, which leaves most 5-grams intact, while two different reports
on the same event share only quotes and names. Copies are grouped transitively, so the
bot cites one copy and can name the rest.

Incrementally (:mod:`qa_bot.corpus.index`), a new article is compared only with the articles
its MinHash signature shares a band with: :data:`BANDS` bands of
:data:`BAND_ROWS` hashes, so a pair with Jaccard similarity J becomes a candidate with
probability 1 - (1 - J^2)^20: 0.94 at J = 0.36 (an article holding 80% of the shingles of
one twice its length), 0.997 at J = 0.5, 0.05 at J = 0.05. Candidates are then judged
exactly, by :func:`containment` of their shingles, as :func:`copy_groups` judges every pair.

Example:
    >>> story = "Presiden Ukraina mengumumkan pasukan Ukraina menangkap dua tentara Korea Utara di Kursk."
    >>> groups = copy_groups({"a": "Jakarta, A — " + story, "b": "Bandung, B — " + story + " Baca juga."})
    >>> groups["a"], groups["b"]
    (('a', 'b'), ('a', 'b'))
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

SHINGLE = 5
# Share of the shorter article's shingles found in the other one. Measured: the test
# fixtures' syndicated copy (new dateline, one reworded phrase, a "Baca juga" line) 0.88;
# across all 3,463 IndoSum articles, which hold no syndicated copies, the highest pair is
# 0.70 (two CNN reports on different days sharing background paragraphs), then 0.66 (two
# outlets rewriting one press release); 1.93 s for the whole set.
MIN_CONTAINMENT = 0.8
# A shingle in more articles than this is boilerplate ("kata dia kepada wartawan"), not
# evidence of copying, and would make candidate counting quadratic.
MAX_POSTINGS = 30
_WORD = re.compile(r"\w+")
BANDS = 20
BAND_ROWS = 2


def shingles(text: str) -> set[int]:
    """Hashed word 5-grams of ``text`` (lowercased); a short text gives its whole word list."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return {zlib.crc32(" ".join(words).encode())} if words else set()
    return {zlib.crc32(" ".join(words[i : i + SHINGLE]).encode()) for i in range(len(words) - SHINGLE + 1)}


def shared_shares(sets: Mapping[str, set[int]]) -> dict[tuple[str, str], float]:
    """For every pair of articles sharing a shingle held by at most :data:`MAX_POSTINGS`
    articles, the share of the smaller one's shingles the other holds (its containment)."""
    postings: dict[int, list[str]] = defaultdict(list)
    for aid, grams in sets.items():
        for g in grams:
            postings[g].append(aid)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for ids in postings.values():
        if 1 < len(ids) <= MAX_POSTINGS:
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    shared[(a, b) if a < b else (b, a)] += 1
    return {(a, b): n / max(1, min(len(sets[a]), len(sets[b]))) for (a, b), n in shared.items()}


def copy_groups(texts: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """For each article id that has copies, its whole group (sorted ids, itself included)."""
    shares = shared_shares({aid: shingles(text) for aid, text in texts.items()})
    return linked_groups(texts, [pair for pair, share in shares.items() if share >= MIN_CONTAINMENT])


def linked_groups(ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """For each of ``ids`` linked to another by ``pairs`` (transitively), its whole group
    (sorted ids, itself included); pairs naming an id outside ``ids`` are ignored.

    Example:
        >>> linked_groups("abcd", [("a", "b"), ("b", "c"), ("d", "x")])["a"]
        ('a', 'b', 'c')
    """
    parent = {aid: aid for aid in ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        if a in parent and b in parent:
            parent[root(a)] = root(b)
    groups: dict[str, list[str]] = defaultdict(list)
    for aid in parent:
        groups[root(aid)].append(aid)
    return {aid: tuple(sorted(members)) for members in groups.values() if len(members) > 1 for aid in members}


def article_texts(
    ids: Iterable[str], texts: Iterable[str], metas: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Each article's text, rebuilt from its chunks in order (from the store's chunk lists)."""
    parts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for _, text, meta in zip(ids, texts, metas, strict=True):
        parts[str(meta.get("article_id", ""))].append((int(meta.get("chunk_index", 0)), text))
    return {aid: "\n".join(t for _, t in sorted(chunks)) for aid, chunks in parts.items()}


def containment(a: set[int], b: set[int]) -> float:
    """Share of the smaller shingle set found in the other (0 when one is empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def band_keys(grams: set[int]) -> list[int]:
    """The LSH bucket keys of a shingle set (one per band; [] for an empty set): articles
    sharing a key are candidates to be copies (see the module doc).

    The MinHash is the textbook one (a random affine hash per row, modulo a prime, its
    minimum over the shingles), computed with numpy here: datasketch's ``MinHash`` gives the
    same, but importing datasketch imports scipy, 0.76 s of every ingest that adds an article
    (measured), for twenty lines of arithmetic.

    Example:
        >>> story = "Presiden Ukraina mengumumkan pasukan Ukraina menangkap dua tentara Korea Utara."
        >>> a, b = band_keys(shingles(story)), band_keys(shingles("Jakarta, A - " + story))
        >>> len(a), bool(set(a) & set(b))
        (20, True)
    """
    if not grams:
        return []
    x = np.fromiter(grams, dtype=np.uint64, count=len(grams))
    # a < 2**31 and x < 2**32 keep a * x + b below 2**64: exact before the modulus.
    values = ((x[:, None] * _A[None, :] + _B[None, :]) % _PRIME).min(axis=0).astype("<u8")
    keys = []
    for band in range(BANDS):
        part = values[band * BAND_ROWS : (band + 1) * BAND_ROWS].tobytes()
        digest = hashlib.blake2b(part, digest_size=8, person=band.to_bytes(2, "little")).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))  # fits SQLite's INTEGER
    return keys


_PRIME = np.uint64(4_294_967_311)  # the smallest prime above 2**32 (shingles are crc32 values)
_rng = np.random.default_rng(18)
_A = _rng.integers(1, 2**31, size=BANDS * BAND_ROWS, dtype=np.uint64)
_B = _rng.integers(0, 2**32, size=BANDS * BAND_ROWS, dtype=np.uint64)
