"""Recall of the incremental (MinHash LSH) copy finder against the exact batch finder.

``qa_bot.corpus.duplicates.copy_groups`` compares every pair of articles sharing a rare
shingle; the incremental index (``qa_bot.corpus.index``) compares a new article only with
the articles sharing one of its 20 band keys, then judges those candidates exactly. The
verification is exact, so the LSH can only lose pairs, never invent them: this script
measures how many it loses on real news, and which kinds of syndicated copy it loses.

It takes the IndoSum articles (which hold no syndicated copies of their own), adds
``--copies`` synthetic copies of randomly chosen articles with one recorded edit each
(new dateline, "Baca juga" line, one word in ten replaced, tail dropped, paragraph
appended, first half or first 30% kept), then finds copy pairs both ways:

- exact: an inverted index of shingles, postings longer than ``MAX_POSTINGS`` ignored,
  a pair linked when its shared shingles cover ``MIN_CONTAINMENT`` of the smaller set
  (``copy_groups``'s rule, kept as pairs; its groups are checked to match);
- incremental: articles inserted one by one in a seeded random order, each compared with
  the articles already in its band buckets (a bucket over ``MAX_POSTINGS`` skipped, as the
  index does), candidates verified with ``containment``.

    nice -n 19 .venv/bin/python benchmarks/duplicates/recall.py --seed 0 --copies 600
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from qa_bot.corpus.duplicates import (  # noqa: E402
    BAND_ROWS,
    BANDS,
    MAX_POSTINGS,
    MIN_CONTAINMENT,
    band_keys,
    containment,
    copy_groups,
    linked_groups,
    shared_shares,
    shingles,
)
from qa_bot.text import split_sentences  # noqa: E402

KINDS = {
    "a": "dateline prefix",
    "b": "dateline + Baca juga line",
    "c": "one word in ten replaced",
    "d": "last 20% of sentences dropped",
    "e": "2-3 sentences of another article appended",
    "f": "first half kept",
    "g": "first 30% kept",
}
DATELINES = [
    "JAKARTA, KOMPAS.com - ",
    "Jakarta, CNN Indonesia -- ",
    "SURABAYA, ANTARA News - ",
    "Bandung, Tribunnews.com - ",
    "MEDAN, Okezone - ",
    "Jakarta (ANTARA) - ",
]
WORD = re.compile(r"\w+")


def load(path: Path) -> dict[str, str]:
    """IndoSum articles: id -> text (title first when the row has one; IndoSum's are null)."""
    texts = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            texts[row["id"]] = "\n\n".join(p for p in (row.get("title"), row["text"]) if p)
    return texts


def sentences(text: str) -> list[tuple[int, str]]:
    """(paragraph number, sentence) in order, so a cut copy keeps its paragraphs."""
    return [(p, s) for p, para in enumerate(text.split("\n\n")) for s in split_sentences(para)]


def join(parts: list[tuple[int, str]]) -> str:
    paras: dict[int, list[str]] = defaultdict(list)
    for p, s in parts:
        paras[p].append(s)
    return "\n\n".join(" ".join(ss) for _, ss in sorted(paras.items()))


def make_copy(kind: str, text: str, other: str, rng: random.Random) -> str:
    """A syndicated copy of ``text`` with the edit ``kind``; ``other`` lends foreign words."""
    sents = sentences(text)
    if kind == "a":
        return rng.choice(DATELINES) + text
    if kind == "b":
        paras = text.split("\n\n")
        # "Baca juga" lines link to another story: its first words stand in for a headline.
        headline = " ".join(WORD.findall(other)[: rng.randint(6, 10)])
        at = max(1, len(paras) // 2)
        return rng.choice(DATELINES) + "\n\n".join([*paras[:at], f"Baca juga: {headline}", *paras[at:]])
    if kind == "c":
        vocab = WORD.findall(other) or ["juga"]
        # Each replaced word breaks the five shingles over it: containment ~0.9^5 = 0.59.
        return WORD.sub(lambda m: rng.choice(vocab) if rng.random() < 0.1 else m.group(), text)
    if kind == "d":
        return join(sents[: max(1, len(sents) - max(1, round(0.2 * len(sents))))])
    if kind == "e":
        extra = [s for _, s in sentences(other)][: rng.randint(2, 3)]
        return text + "\n\n" + " ".join(extra)
    keep = 0.5 if kind == "f" else 0.3
    return join(sents[: max(1, round(keep * len(sents)))])


def exact_pairs(grams: dict[str, set[int]]) -> tuple[set[tuple[str, str]], dict[tuple[str, str], float]]:
    """copy_groups's rule as pairs, plus every pair's share of shared rare shingles."""
    share = shared_shares(grams)
    return {p for p, s in share.items() if s >= MIN_CONTAINMENT}, share


def lsh_pairs(
    grams: dict[str, set[int]], keys: dict[str, list[int]], order: list[str]
) -> tuple[set[tuple[str, str]], list[int], int]:
    """The incremental finder: pairs found, candidates checked per article, buckets skipped."""
    buckets: dict[int, list[str]] = defaultdict(list)
    found, checked, skipped = set(), [], 0
    for aid in order:
        candidates: set[str] = set()
        for key in keys[aid]:
            bucket = buckets[key]
            bucket.append(aid)
            if len(bucket) > MAX_POSTINGS:  # counted with the new article, as the index does
                skipped += 1
                continue
            candidates.update(bucket[:-1])
        checked.append(len(candidates))
        for other in candidates:
            if containment(grams[aid], grams[other]) >= MIN_CONTAINMENT:
                found.add((aid, other) if aid < other else (other, aid))
    return found, checked, skipped


def groups(ids: list[str], pairs: set[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """Each article's transitive group (itself alone when it has no copies)."""
    linked = linked_groups(ids, pairs)
    return {a: frozenset(linked.get(a, (a,))) for a in ids}


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def row(name: str, pairs: list[tuple[str, str]], exact: set, lsh: set, grams: dict, bands: dict) -> dict:
    """Figures for one set of true pairs (a kind of synthetic copy, or the natural pairs)."""
    keys = [(a, b) if a < b else (b, a) for a, b in pairs]
    in_exact = [p for p in keys if p in exact]
    js = [jaccard(grams[a], grams[b]) for a, b in keys]
    return {
        "name": name,
        "pairs": len(keys),
        "exact_found": len(in_exact),
        # Sharing a band key, before verification: tells LSH misses from threshold misses.
        "lsh_candidate": sum(bool(set(bands[a]) & set(bands[b])) for a, b in keys),
        "lsh_found": sum(p in lsh for p in keys),
        # Against the exact finder: the pairs it links that LSH lost.
        "lsh_recall_of_exact": sum(p in lsh for p in in_exact) / len(in_exact) if in_exact else None,
        "mean_containment": statistics.fmean(containment(grams[a], grams[b]) for a, b in keys)
        if keys
        else None,
        "mean_jaccard": statistics.fmean(js) if js else None,
        "min_jaccard": min(js) if js else None,
        # What the band design promises at each pair's Jaccard: 1 - (1 - J^r)^b.
        "predicted_candidate": statistics.fmean(1 - (1 - j**BAND_ROWS) ** BANDS for j in js) if js else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--copies", type=int, default=600)
    ap.add_argument("--out", type=Path, default=Path("/tmp/duplicates-recall.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)

    texts = load(args.data / "indosum" / "corpus.jsonl")
    originals = list(texts)
    truth: dict[str, list[tuple[str, str]]] = defaultdict(list)  # kind -> (copy, source)
    kinds = list(KINDS)
    # Distinct sources, so each group is one article and its one copy.
    for i, src in enumerate(rng.sample(originals, args.copies)):
        kind = kinds[i % len(kinds)]
        other = src
        while other == src:
            other = rng.choice(originals)
        cid = f"copy-{i:04d}-{kind}"
        texts[cid] = make_copy(kind, texts[src], texts[other], rng)
        truth[kind].append((cid, src))

    t = time.perf_counter()
    grams = {aid: shingles(text) for aid, text in texts.items()}
    t_shingles = time.perf_counter() - t
    t = time.perf_counter()
    exact, share = exact_pairs(grams)
    t_exact = time.perf_counter() - t
    order = list(texts)
    rng.shuffle(order)  # copies arrive interleaved with everything else
    t = time.perf_counter()
    bands = {aid: band_keys(grams[aid]) for aid in order}
    lsh, checked, skipped = lsh_pairs(grams, bands, order)
    t_lsh = time.perf_counter() - t

    ids = list(texts)
    g_exact, g_lsh = groups(ids, exact), groups(ids, lsh)
    batch = copy_groups(texts)  # the shipped batch finder: must agree with exact_pairs
    batch_agrees = all(batch.get(a, (a,)) == tuple(sorted(g_exact[a])) for a in ids)
    natural = sorted(
        p for p in exact if p[0] in grams and not p[0].startswith("copy-") and not p[1].startswith("copy-")
    )
    near = [
        p
        for p, s in share.items()
        if 0.5 <= s < MIN_CONTAINMENT and not any(x.startswith("copy-") for x in p)
    ]

    rows = [row(f"({k}) {KINDS[k]}", truth[k], exact, lsh, grams, bands) for k in kinds]
    everything = [p for k in kinds for p in truth[k]]
    rows.append(row("all synthetic copies", everything, exact, lsh, grams, bands))
    rows.append(row("natural IndoSum pairs (exact)", natural, exact, lsh, grams, bands))
    # Not copies by the rule, but the closest natural pairs show whether LSH even sees them.
    rows.append(row("natural pairs, shared 0.5-0.8 (not copies)", near, exact, lsh, grams, bands))
    summary = {
        "articles": len(originals),
        "copies": args.copies,
        "seed": args.seed,
        "exact_pairs": len(exact),
        "lsh_pairs": len(lsh),
        "lsh_recall_of_exact": len(exact & lsh) / len(exact) if exact else None,
        "false_pairs": len(lsh - exact),  # LSH pairs the exact finder does not link
        "candidates_per_article_mean": statistics.fmean(checked),
        "candidates_per_article_p99": sorted(checked)[int(0.99 * (len(checked) - 1))],
        "candidates_per_article_max": max(checked),
        "candidate_pairs_total": sum(checked),
        "all_pairs": len(ids) * (len(ids) - 1) // 2,
        "band_lookups_skipped_over_max_postings": skipped,
        "articles_in_different_group": sum(g_exact[a] != g_lsh[a] for a in ids),
        "copy_groups_agrees_with_exact_pairs": batch_agrees,
        "seconds": {"shingles": t_shingles, "exact_index": t_exact, "lsh_incremental": t_lsh},
    }
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2), encoding="utf-8")

    def f(x: float | None, p: int = 2) -> str:
        return "-" if x is None else f"{x:.{p}f}"

    print(
        "| pairs | n | exact finds | LSH candidates | LSH finds | LSH recall of exact "
        "| containment | Jaccard (min) | predicted P(candidate) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['name']} | {r['pairs']} | {r['exact_found']} | {r['lsh_candidate']} | {r['lsh_found']} | "
            f"{f(r['lsh_recall_of_exact'], 3)} | {f(r['mean_containment'])} | "
            f"{f(r['mean_jaccard'])} ({f(r['min_jaccard'])}) | {f(r['predicted_candidate'], 3)} |"
        )
    print()
    for k, v in summary.items():
        print(f"- {k}: {v if not isinstance(v, float) else round(v, 4)}")
    print(f"\nresults: {args.out}")


if __name__ == "__main__":
    main()
