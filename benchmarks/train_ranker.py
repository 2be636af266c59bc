"""Train the retrieval ranker (qa_bot/search/ranker.json) and compare rankings offline.

Not a test: it prints the figures of benchmarks/ranking/README.md. Three steps:

    # 1. Every question's candidates with their features, cached under --cache (the slow
    #    part: each corpus is ingested into its own store under --store-dir, as `qa-bot eval`
    #    would, and every question embedded)
    python benchmarks/train_ranker.py collect --data ../shared/data --store-dir /tmp/rank/store
    # 2. Choose on train: 5-fold cross-validated R@1/R@5/MRR of every feature set tried,
    #    against dense alone, BM25 alone and the hand fusion; then fit the chosen set on all
    #    the train questions and write qa_bot/search/ranker.json
    python benchmarks/train_ranker.py train
    # 3. Report once on valid (the committed ranker; --live also runs the real retriever
    #    with it and checks it ranks as the offline copy does)
    python benchmarks/train_ranker.py report --live

The candidates are the ones :meth:`qa_bot.search.retrieval.HybridRetriever.candidate_pool` returns
(dense top 30, then BM25 top 30), with the features the ranker sees at run time, plus a few
computed only here for comparison: the exact cosine of keyword-only candidates, BM25 for
every candidate, the best sentence's keyword share, the title's, and (``--sentences``, slow)
the best cosine of one of the chunk's sentences, embedded here because the store keeps no
sentence vectors. A hit is the gold article or a near-duplicate copy of it, as in
``qa-bot eval``; "old" is the hand fusion as qa_bot/search/retrieval.py ranked before the ranker.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()

# name -> (corpus folder under --data, qa file under --data or absolute)
DATASETS = {
    "tydiqa": ("tydiqa_id", "tydiqa_id/qa.jsonl"),
    "facqa": ("facqa", "facqa/qa.jsonl"),
    "idkmrc": ("idk_mrc", "idk_mrc/qa.jsonl"),
    "crosslingual": ("indosum", str(ROOT / "benchmarks" / "crosslingual" / "qa.jsonl")),
}
# IDK-MRC is left out of training: its passages are TyDi's and most of its questions too.
TRAIN_ON = ("tydiqa", "facqa")
SEED = 2026
L2 = 1e-3
CHOSEN = ("cosine", "keyword", "overlap", "type_fit")
# Feature sets compared on train (cross-validated); the chosen one is CHOSEN.
TRIED = {
    "cosine + keyword (hand fusion's features)": ("cosine", "keyword"),
    "+ overlap": ("cosine", "keyword", "overlap"),
    "+ type_fit": ("cosine", "keyword", "type_fit"),
    "+ overlap + type_fit (chosen)": CHOSEN,
    "+ sentence overlap": ("cosine", "keyword", "sentence_overlap"),
    "+ title overlap": ("cosine", "keyword", "title_overlap"),
    "+ best sentence cosine": ("cosine", "keyword", "sentence_cos"),
    "chosen + best sentence cosine": (*CHOSEN, "sentence_cos"),
    "chosen + title + sentence overlap": (*CHOSEN, "title_overlap", "sentence_overlap"),
    "chosen, keyword term for every candidate": ("cosine", "bm25_all", "overlap", "type_fit"),
    "chosen, exact cosine": ("cosine_exact", "keyword", "overlap", "type_fit"),
}


# ---- collecting ---------------------------------------------------------------------------


def retriever_for(data: Path, folder: str, store_dir: Path):
    """The retriever over one corpus, in the store ``qa-bot eval`` would use under
    ``store_dir`` (ingested when missing; a second run starts at once)."""
    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.models.embeddings import embedding_name

    settings = get_settings(store_dir=store_dir)
    corpus = data / folder / "corpus.jsonl"
    key = hashlib.sha256(f"{corpus.resolve()}|{embedding_name(settings)}".encode()).hexdigest()[:12]
    settings = settings.model_copy(update={"store_dir": store_dir / "eval" / f"{folder}-corpus-{key}"})
    ingest_path(corpus, settings)
    return QABot.from_settings(settings, load_llm=False).retriever


def extra_features(question, text: str, title: str) -> dict[str, float]:
    """Lexical features tried and not kept: the best sentence's keyword share, the title's."""
    from qa_bot.search.rank_features import sentences_with_tokens
    from qa_bot.text import keyword_tokens

    n = len(question.keywords) or 1
    best = max((len(question.keywords & tokens) for _, tokens in sentences_with_tokens(text)), default=0)
    in_title = len(question.keywords & set(keyword_tokens(title))) if title else 0
    return {"sentence_overlap": best / n, "title_overlap": in_title / n}


def collect(args) -> None:
    from qa_bot.evaluation import load_qa
    from qa_bot.search.rank_features import Question
    from qa_bot.search.retrieval import _decisiveness
    from qa_bot.text import keyword_tokens, sentence_spans

    data, cache = Path(args.data), Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for name in args.datasets:
        folder, qa = DATASETS[name]
        qa_path = Path(qa) if Path(qa).is_absolute() else data / qa
        retriever = retriever_for(data, folder, Path(args.store_dir))
        embedder, store = retriever.embedder, retriever.store
        index = retriever.snapshot()
        group = {aid: g["group"][0] for aid, g in index.copies.items()}
        position = {cid: i for i, cid in enumerate(index.ids)}
        sentence_vectors: dict[str, np.ndarray] = {}
        for split in args.splits:
            items = [i for i in load_qa(qa_path, split, None) if i.answerable][: args.limit or None]
            if not items:
                continue
            rows, t0 = [], time.perf_counter()
            for n, item in enumerate(items):
                qv = np.asarray(embedder.embed_query(item.question), dtype=np.float32)
                pool = retriever.candidate_pool(item.question, query_vector=qv.tolist())
                # What the pool was made of, for the single-retriever rankings and the
                # hand fusion: the same two searches candidate_pool ran.
                dense = {
                    p.chunk_id: (r, p.score)
                    for r, p in enumerate(store.search(qv.tolist(), retriever.candidates))
                }
                keyword = index.search(item.question, retriever.candidates)
                bm25_rank = {h.chunk_id: r for r, h in enumerate(keyword)}
                tokens = [t for t in keyword_tokens(item.question) if t in index._bm25.vocab_dict]
                all_bm25 = np.asarray(index._bm25.get_scores(tokens)) if tokens else None
                vectors = store.vectors([c.passage.chunk_id for c in pool])
                question = Question.of(item.question)
                trust = index.coverage(item.question) * math.sqrt(_decisiveness(keyword))
                best_bm25 = keyword[0].score if keyword else 0.0
                cands = []
                for c in pool:
                    p = c.passage
                    bm25 = float(all_bm25[position[p.chunk_id]]) if all_bm25 is not None else 0.0
                    f = dict(c.features)
                    f.update(extra_features(question, p.text, p.title))
                    f["cosine_exact"] = float(np.dot(qv, np.asarray(vectors[p.chunk_id], dtype=np.float32)))
                    f["bm25_all"] = trust * bm25 / best_bm25 if best_bm25 > 0 else 0.0
                    if args.sentences:
                        texts = [p.text[s:e] for s, e in sentence_spans(p.text)]
                        todo = [t for t in dict.fromkeys(texts) if t not in sentence_vectors]
                        if todo:
                            sentence_vectors.update(zip(todo, embedder.encode_passages(todo), strict=True))
                        f["sentence_cos"] = max(
                            (float(np.dot(qv, sentence_vectors[t])) for t in texts), default=0.0
                        )
                    cands.append(
                        {
                            "chunk_id": p.chunk_id,
                            "group": group.get(p.article_id, p.article_id),
                            "dense_rank": dense.get(p.chunk_id, (None,))[0],
                            "dense_score": dense.get(p.chunk_id, (None, None))[1],
                            "bm25_rank": bm25_rank.get(p.chunk_id),
                            "bm25": bm25,
                            "features": f,
                        }
                    )
                rows.append(
                    {
                        "id": item.id,
                        "question": item.question,
                        "lang": item.lang,
                        "doc_id": item.doc_id,
                        "gold": group.get(item.doc_id, item.doc_id),
                        "coverage": index.coverage(item.question),
                        "decisiveness": _decisiveness(keyword),
                        "best_bm25": best_bm25,
                        "candidates": cands,
                    }
                )
                if (n + 1) % 100 == 0:
                    print(
                        f"{name} {split}: {n + 1}/{len(items)} ({time.perf_counter() - t0:.0f} s)", flush=True
                    )
            out = cache / f"{name}-{split}.pkl"
            out.write_bytes(pickle.dumps(rows))
            print(f"wrote {out}: {len(rows)} questions", flush=True)


# ---- rankings over the cached candidates ---------------------------------------------------


def load(cache: Path, name: str, split: str) -> list[dict]:
    path = Path(cache) / f"{name}-{split}.pkl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python benchmarks/train_ranker.py collect` first")
    return pickle.loads(path.read_bytes())


def matrix(row: dict, names) -> np.ndarray:
    return np.array([[c["features"][n] for n in names] for c in row["candidates"]], dtype=np.float64)


def rank_of(row: dict, scores) -> int | None:
    """1-based rank of the gold story among the first 10 distinct stories (as
    :func:`qa_bot.evaluation.gold_rank`); ties keep the candidates' order, as retrieval does."""
    seen: list[str] = []
    for i in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        g = row["candidates"][i]["group"]
        if g not in seen:
            seen.append(g)
            if len(seen) == 10:
                break
    return seen.index(row["gold"]) + 1 if row["gold"] in seen else None


def dense_scores(row: dict) -> list[float]:
    return [c["dense_score"] if c["dense_score"] is not None else -9.0 for c in row["candidates"]]


def bm25_scores(row: dict) -> list[float]:
    return [-c["bm25_rank"] if c["bm25_rank"] is not None else -99.0 for c in row["candidates"]]


def old_scores(row: dict, weight: float = 0.1) -> list[float]:
    """The hand fusion as qa_bot/search/retrieval.py computed it before the ranker (a keyword-only
    candidate scores the dense floor plus its keyword term)."""
    floor = min((c["dense_score"] for c in row["candidates"] if c["dense_score"] is not None), default=0.0)
    w = weight * row["coverage"] * math.sqrt(row["decisiveness"])
    out = []
    for c in row["candidates"]:
        s = c["dense_score"] if c["dense_score"] is not None else floor
        if w > 0 and c["bm25_rank"] is not None:
            s += w * c["bm25"] / row["best_bm25"]
        out.append(s)
    return out


def figures(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "R@1": round(sum(r == 1 for r in ranks) / n, 3),
        "R@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "MRR": round(sum(1 / r for r in ranks if r) / n, 3),
    }


def fit(rows: list[dict], names, l2: float = L2) -> np.ndarray:
    """Weights of a linear score trained listwise: the softmax over a question's candidates
    should put its mass on the gold story's chunks (a question whose gold is not among its
    candidates, or is all of them, teaches nothing and is skipped). L-BFGS from zero on
    standardised features with a little L2: deterministic, the same rows give the same
    weights."""
    from scipy.optimize import minimize

    xs, qs, golds = [], [], []
    for r in rows:
        gold = np.array([c["group"] == r["gold"] for c in r["candidates"]])
        if gold.any() and not gold.all():
            xs.append(matrix(r, names))
            qs.append(np.full(len(gold), len(golds)))
            golds.append(gold)
    x, q, gold = np.concatenate(xs), np.concatenate(qs), np.concatenate(golds)
    nq = len(golds)
    std = x.std(axis=0) + 1e-9
    z = (x - x.mean(axis=0)) / std
    starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]])

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = z @ w
        e = np.exp(s - np.maximum.reduceat(s, starts)[q])
        eg = np.where(gold, e, 0.0)
        all_sum, gold_sum = np.bincount(q, e, nq), np.bincount(q, eg, nq)
        value = float(np.sum(np.log(all_sum) - np.log(gold_sum)) / nq + l2 / 2 * w @ w)
        return value, z.T @ (e / all_sum[q] - eg / gold_sum[q]) / nq + l2 * w

    w = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x
    # Weights of the raw features (the mean shifts every candidate of a question alike),
    # divided by the cosine's so that a score reads like a cosine plus bonuses.
    w = w / std
    return w / w[0]


def folds(rows: list[dict], k: int = 5) -> list[list[int]]:
    """Question indices in ``k`` folds; the questions of one gold passage stay together (TyDi
    asks several of one passage, which must not be split between training and testing)."""
    golds = sorted({r["gold"] for r in rows})
    random.Random(SEED).shuffle(golds)
    fold_of = {g: i % k for i, g in enumerate(golds)}
    return [[i for i, r in enumerate(rows) if fold_of[r["gold"]] == f] for f in range(k)]


def cross_validated(rows: list[dict], names) -> list[int | None]:
    """Each question's gold rank under weights fitted on the other folds."""
    ranks: list[int | None] = [None] * len(rows)
    for fold in folds(rows):
        held = set(fold)
        w = fit([r for i, r in enumerate(rows) if i not in held], names)
        for i in fold:
            ranks[i] = rank_of(rows[i], matrix(rows[i], names) @ w)
    return ranks


def table(title: str, columns: list[str], lines: list[tuple[str, list[dict]]]) -> str:
    head = f"| {title} | " + " | ".join(f"{c} R@1 / R@5 / MRR" for c in columns) + " |"
    out = [head, "|" + "---|" * (len(columns) + 1)]
    for label, figs in lines:
        cells = [f"{f['R@1']:.3f} / {f['R@5']:.3f} / {f['MRR']:.3f}" for f in figs]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def compare(per: dict[str, list[dict]], title: str) -> str:
    """Dense alone, BM25 alone, the hand fusion and every feature set of :data:`TRIED`
    (5-fold cross-validated over the datasets' questions pooled), per dataset."""
    names = list(per)
    rows = [r for name in names for r in per[name]]
    tag = [name for name in names for _ in per[name]]

    def split(ranks):
        return [figures([r for r, t in zip(ranks, tag, strict=True) if t == name]) for name in names]

    lines = [
        ("dense alone", split([rank_of(r, dense_scores(r)) for r in rows])),
        ("BM25 alone", split([rank_of(r, bm25_scores(r)) for r in rows])),
        ("hand fusion (old)", split([rank_of(r, old_scores(r)) for r in rows])),
    ]
    have = set(rows[0]["candidates"][0]["features"])
    for label, features in TRIED.items():
        if set(features) <= have:
            lines.append((f"ranker: {label}", split(cross_validated(rows, features))))
    return table(title, names, lines)


def train(args) -> None:
    cache = Path(args.cache)
    per = {name: load(cache, name, "train") for name in TRAIN_ON}
    first = {name: rows[: args.first] for name, rows in per.items()}
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in first.items())
    print(compare(first, f"train, first {counts}; ranker 5-fold CV"), end="\n\n", flush=True)
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in per.items())
    print(compare(per, f"train, all: {counts}; ranker 5-fold CV"), end="\n\n", flush=True)
    rows = [r for name in TRAIN_ON for r in per[name]]
    w = fit(rows, CHOSEN)
    out = Path(args.out)
    out.write_text(
        json.dumps(
            {
                "about": (
                    "Linear ranker of retrieval candidates (qa_bot/search/rank_features.py): score = "
                    "sum(weight * feature). Written by benchmarks/train_ranker.py train."
                ),
                "trained_on": {name: f"{len(per[name])} answerable train questions" for name in TRAIN_ON},
                "l2": L2,
                "weights": {n: round(float(x), 5) for n, x in zip(CHOSEN, w, strict=True)},
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {out}: {json.loads(out.read_text())['weights']}")


def report(args) -> None:
    from qa_bot.search.rank_features import Ranker

    cache = Path(args.cache)
    ranker = Ranker.load(Path(args.ranker))
    names = list(ranker.weights)
    w = np.array([ranker.weights[n] for n in names])
    results, live = {}, {}
    for name in args.datasets:
        rows = load(cache, name, args.split)
        new = [rank_of(r, matrix(r, names) @ w) for r in rows]
        results[name] = {
            "dense alone": figures([rank_of(r, dense_scores(r)) for r in rows]),
            "BM25 alone": figures([rank_of(r, bm25_scores(r)) for r in rows]),
            "hand fusion (old)": figures([rank_of(r, old_scores(r)) for r in rows]),
            "ranker (new)": figures(new),
        }
        langs = sorted({r["lang"] for r in rows})
        if len(langs) > 1:
            for lang in langs:
                sub = [(r, n) for r, n in zip(rows, new, strict=True) if r["lang"] == lang]
                results[f"{name}[{lang}]"] = {
                    "dense alone": figures([rank_of(r, dense_scores(r)) for r, _ in sub]),
                    "BM25 alone": figures([rank_of(r, bm25_scores(r)) for r, _ in sub]),
                    "hand fusion (old)": figures([rank_of(r, old_scores(r)) for r, _ in sub]),
                    "ranker (new)": figures([n for _, n in sub]),
                }
        if args.live:
            live[name] = check_live(args, name, rows, new, ranker)
    columns = list(results)
    lines = [(label, [results[c][label] for c in columns]) for label in next(iter(results.values()))]
    print(table(f"{args.split} (answerable)", columns, lines))
    for name, (agree, n) in live.items():
        print(
            f"{name}: the real retriever with {args.ranker} ranked the gold where the offline copy "
            f"did for {agree}/{n} questions"
        )


def check_live(args, name: str, rows: list[dict], offline: list[int | None], ranker) -> tuple[int, int]:
    """How many questions the real retriever (with ``ranker``) ranks the gold where the
    offline copy does (the figures above are only as good as this agreement)."""
    from qa_bot.evaluation import gold_rank

    folder, _ = DATASETS[name]
    retriever = retriever_for(Path(args.data), folder, Path(args.store_dir))
    retriever.ranker = ranker
    agree = 0
    for row, want in zip(rows, offline, strict=True):
        agree += gold_rank(retriever.retrieve(row["question"], 30), row["doc_id"], 10) == want
    return agree, len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", default="/tmp/rank/features", help="where collected candidates are kept")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="candidates and features of each question, cached")
    c.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    c.add_argument("--splits", nargs="+", default=["train", "valid"])
    c.add_argument("--limit", type=int, default=0, help="first N answerable questions of each split (0: all)")
    c.add_argument("--sentences", action="store_true", help="also the best sentence cosine (slow)")
    t = sub.add_parser("train", help="compare feature sets on train and write the ranker")
    t.add_argument("--out", default=str(ROOT / "qa_bot" / "ranker.json"))
    t.add_argument("--first", type=int, default=1000, help="the first table: the first N questions of each")
    r = sub.add_parser("report", help="dense, BM25, hand fusion and the ranker on one split")
    r.add_argument("--split", default="valid")
    r.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    r.add_argument("--ranker", default=str(ROOT / "qa_bot" / "ranker.json"))
    r.add_argument("--live", action="store_true", help="also check the real retriever agrees")
    for p in (c, r):
        p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
        p.add_argument("--store-dir", default="/tmp/rank/store")
    args = parser.parse_args()
    {"collect": collect, "train": train, "report": report}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
