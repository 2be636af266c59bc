"""The keyword index's segments score exactly as one bm25s index over the same live chunks."""

from __future__ import annotations

import random

import numpy as np
import pytest

from qa_bot.corpus import segments as seg
from qa_bot.text import keyword_tokens
from tests.conftest import FOUNDING

QUERIES = [
    "Kapan Dewan Keamanan PBB bertemu?",
    "Siapa Sekretaris Jenderal NATO?",
    "pasukan Korea Utara di Kursk",
    "harga cabai rawit naik",
    "Ukraina Rusia Rusia",  # a repeated word counts twice, as in bm25s
    "kata yang tidak ada xyzzy",
]


def _chunks(n: int, seed: int = 7) -> list[seg.ChunkTerms]:
    """``n`` chunks recombined from the founding article's sentences and a few extra words."""
    sentences = [s for s in FOUNDING.read_text().split(". ") if len(s) > 20]
    extra = ["harga cabai rawit naik di pasar", "banjir merendam Semarang", "kereta cepat ditambah"]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.sample(sentences, 3) + rng.sample(extra, 1))
        out.append(
            seg.ChunkTerms(f"c{i}", keyword_tokens(text), rng.choice(["Antara", "CNN"]), 20241000 + i % 28)
        )
    return out


def _bm25s(chunks: list[seg.ChunkTerms], query: str) -> dict[str, float]:
    import bm25s

    index = bm25s.BM25()
    index.index([list(c.tokens) for c in chunks], show_progress=False)
    tokens = [t for t in keyword_tokens(query) if t in index.vocab_dict]
    if not tokens:
        return {}
    scores = index.get_scores(tokens)
    return {c.chunk_id: float(s) for c, s in zip(chunks, scores, strict=True) if s > 0}


def _split(chunks, cuts, gone):
    parts, start = [], 0
    for i, end in enumerate([*cuts, len(chunks)]):
        s = seg.build(f"s{i}", chunks[start:end])
        deleted = np.asarray([c.chunk_id in gone for c in chunks[start:end]], dtype=bool)
        parts.append(seg.Live(s, deleted))
        start = end
    return parts


@pytest.mark.parametrize("query", QUERIES)
def test_segments_with_tombstones_score_as_bm25s_over_the_live_chunks(query):
    chunks = _chunks(60)
    gone = {f"c{i}" for i in (3, 17, 18, 40, 59)}
    search = seg.SegmentSearch(_split(chunks, [25, 50], gone))
    got = {h.chunk_id: h.score for h in search.search(keyword_tokens(query), 100)}
    want = _bm25s([c for c in chunks if c.chunk_id not in gone], query)
    assert got.keys() == want.keys()
    for chunk_id, score in want.items():
        assert got[chunk_id] == pytest.approx(score, rel=1e-4)


def test_top_n_is_best_first_and_positive_only():
    chunks = _chunks(40)
    search = seg.SegmentSearch(_split(chunks, [10, 20, 30], set()))
    hits = search.search(keyword_tokens("harga cabai rawit"), 5)
    scores = [h.score for h in hits]
    assert len(hits) == 5 and scores == sorted(scores, reverse=True) and min(scores) > 0
    assert search.search([], 5) == [] and search.search(["xyzzy"], 5) == []


def test_merging_segments_gives_the_same_index_as_building_one():
    chunks = _chunks(50)
    gone = {"c1", "c20", "c33"}
    parts = _split(chunks, [20, 35], gone)
    merged = seg.merge("m", [(p.segment, p.deleted) for p in parts])
    live = [c for c in chunks if c.chunk_id not in gone]
    assert [merged.chunk_id(r) for r in range(merged.rows)] == [c.chunk_id for c in live]
    single = seg.build("one", live)
    assert merged.words == single.words
    for name in ("indptr", "docs", "tfs", "lengths", "days", "sources"):
        a, b = getattr(merged, name), getattr(single, name)
        if name == "sources":  # numbered per segment: compare the names
            a = [merged.source_names[i] for i in a]
            b = [single.source_names[i] for i in b]
        assert list(a) == list(b), name


def test_saved_segment_loads_memory_mapped_and_scores_the_same(tmp_path):
    chunks = _chunks(30)
    built = seg.build("g1-0", chunks)
    seg.save(built, tmp_path)
    loaded = seg.load(tmp_path, "g1-0")
    # Nothing per chunk is a Python object: the ids too stay on disk until a hit names one.
    assert isinstance(loaded.docs, np.memmap) and isinstance(loaded.chunk_ids, np.memmap)
    assert [loaded.chunk_id(r) for r in range(loaded.rows)] == [c.chunk_id for c in chunks]
    live = lambda s: seg.SegmentSearch([seg.Live(s, np.zeros(s.rows, dtype=bool))])  # noqa: E731
    query = keyword_tokens("Sekretaris Jenderal NATO")
    assert live(loaded).search(query, 10) == live(built).search(query, 10)


def test_a_segment_written_with_its_chunk_ids_in_segment_json_still_loads(tmp_path):
    # The format of the first segmented stores (ids listed in segment.json): still read.
    import json

    chunks = _chunks(12)
    seg.save(seg.build("g1-0", chunks), tmp_path)
    folder = tmp_path / "g1-0"
    meta = json.loads((folder / "segment.json").read_text())
    del meta["files"]["chunk_ids.npy"]
    (folder / "chunk_ids.npy").unlink()
    meta["chunk_ids"] = [c.chunk_id for c in chunks]
    (folder / "segment.json").write_text(json.dumps(meta))
    loaded = seg.load(tmp_path, "g1-0")
    assert [loaded.chunk_id(r) for r in range(loaded.rows)] == [c.chunk_id for c in chunks]


def test_a_segment_missing_its_chunk_ids_is_refused(tmp_path):
    import json

    seg.save(seg.build("g1-0", _chunks(5)), tmp_path)
    meta_path = tmp_path / "g1-0" / "segment.json"
    meta = json.loads(meta_path.read_text())
    del meta["files"]["chunk_ids.npy"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(seg.SegmentDamaged, match="chunk_ids"):
        seg.load(tmp_path, "g1-0")


def test_a_merge_keeps_only_the_words_of_live_rows():
    only_dead = seg.ChunkTerms("dead", ["xyzzy", "banjir"], "CNN", 20241001)
    alive = seg.ChunkTerms("alive", ["banjir", "semarang"], "CNN", 20241002)
    first = seg.build("a", [only_dead, alive])
    merged = seg.merge("m", [(first, np.asarray([True, False]))])
    assert merged.words == ["banjir", "semarang"] and merged.rows == 1
    assert seg.merge("none", [(first, np.asarray([True, True]))]).rows == 0


def test_filters_mask_sources_and_days():
    chunks = _chunks(28)
    search = seg.SegmentSearch(_split(chunks, [14], set()))
    (a, b) = search.mask(frozenset({"CNN"}), 20241005, 20241010)
    rows = [c for c, ok in zip(chunks, [*a, *b], strict=True) if ok]
    assert rows and all(c.source == "CNN" and 20241005 <= c.day <= 20241010 for c in rows)
    assert len(rows) == sum(c.source == "CNN" and 20241005 <= c.day <= 20241010 for c in chunks)


def test_logarithmic_merging_keeps_few_segments_and_rewrites_each_chunk_a_few_times():
    """10,000 ingests of 1-20 chunks: the store never holds more segments than ~log2 of its
    chunks, and the chunks written by merges stay within a small multiple of those added."""
    rng = random.Random(1)
    sizes: list[int] = []
    added = rewritten = most = 0
    for _ in range(10_000):
        k = rng.randint(1, 20)
        added += k
        sizes.append(k)
        for group in seg.merge_plan(sizes, [0] * len(sizes)):
            total = sum(sizes[i] for i in group)
            rewritten += total
            sizes[group[0] : group[-1] + 1] = [total]
        most = max(most, len(sizes))
    assert sum(sizes) == added
    assert most <= np.log2(added) + 2
    assert rewritten <= added * np.log2(added) / 2
