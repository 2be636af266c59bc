"""Train the planted-instruction detector and print its figures.

The detector (:mod:`qa_bot.hostile`) flags a sentence when a loose keyword pre-filter
passes it and a logistic regression over the bot's own e5 sentence vector scores it at or
above a threshold. The weight vector, bias and threshold go to
``qa_bot/instruction_detector.json`` with the figures below. Not a test: it prints figures
and gates nothing.

    nice -n 10 python benchmarks/injection/train_instruction_detector.py --also-backend torch

Data:

- positives: ``instructions.jsonl`` (planted instructions written for this project), the
  ``train`` half; the ``test`` half is held out;
- negatives: ``hard_negatives.jsonl`` (news that looks like an instruction), the ``train``
  half, and the sentences of a fixed sample of real news: every other article of IndoSum
  and of FacQA in file order (``--data``: the shared data folder, read, never copied).
  TyDi and IDK-MRC (Wikipedia) are never trained on.

Everything is chosen on the training data alone, from out-of-fold scores of a 5-fold
cross-validation: whether the regression is fitted on every row or only on the rows the
pre-filter passes, its regularisation C, and the threshold (the lowest score at which at most
``--max-fp-rate`` of the training news sentences would be flagged). Figures are then
measured on the held-out halves, on all 99,188 sentences of the four corpora and on those
not trained on, for the regexes alone, the detector alone and both (what the bot runs). The
corpus vectors are cached under ``--cache`` (default /tmp), never in the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402
from qa_bot.hostile import (  # noqa: E402
    DETECTOR_FILE,
    instruction_like,
    might_address_a_model,
    prefilter_fingerprint,
)
from qa_bot.text import sentence_spans  # noqa: E402

apply_offline_env()

CORPORA = ("facqa", "tydiqa_id", "idk_mrc", "indosum")
TRAINED_CORPORA = ("facqa", "indosum")  # every other article of these
FOLDS = 5
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0)


def corpus_sentences(data: Path) -> list[tuple[str, int, str]]:
    """(corpus, record line number, sentence) for every sentence of the four corpora."""
    rows = []
    for name in CORPORA:
        with open(data / name / "corpus.jsonl", encoding="utf-8") as f:
            for line_no, line in enumerate(f):
                text = json.loads(line)["text"]
                rows.extend((name, line_no, text[a:b]) for a, b in sentence_spans(text))
    return rows


def in_training_sample(corpus: str, line_no: int) -> bool:
    return corpus in TRAINED_CORPORA and line_no % 2 == 0


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def embed_cached(embedder, texts: list[str], cache: Path, label: str) -> np.ndarray:
    """Vectors of ``texts``, kept in ``cache`` under a digest of the embedder's name and the
    texts, so a second run embeds nothing."""
    digest = hashlib.sha256("\n".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = cache / f"{label}-{digest}.npy"
    if path.exists():
        return np.load(path)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    vectors = embedder.encode_passages(texts)
    print(f"  embedded {len(texts):,} {label} texts in {time.perf_counter() - started:.0f} s", flush=True)
    tmp = path.with_name(path.stem + ".partial.npy")
    np.save(tmp, vectors)
    tmp.rename(path)
    return vectors


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Logistic regression on standardised features with balanced class weights, folded back
    to one weight vector and a bias over the raw (normalised e5) vectors."""
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
    model.fit((x - mean) / std, y)
    w = model.coef_[0] / std
    return w.astype(np.float32), float(model.intercept_[0] - np.dot(w, mean))


def out_of_fold(x: np.ndarray, y: np.ndarray, fitted: np.ndarray, c: float, seed: int = 0) -> np.ndarray:
    """Scores of every training row from a model that did not see it (stratified folds);
    only ``fitted`` rows are fitted on, the others (not passed by the pre-filter) score -inf."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), dtype=int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        fold[idx] = rng.permutation(len(idx)) % FOLDS
    scores = np.full(len(y), -np.inf, dtype=np.float32)
    for k in range(FOLDS):
        train, test = fitted & (fold != k), fitted & (fold == k)
        w, b = fit(x[train], y[train], c)
        scores[test] = x[test] @ w + b
    return scores


def threshold_at(scores_news: np.ndarray, max_fp_rate: float) -> float:
    """The lowest score flagging at most ``max_fp_rate`` of the news sentences."""
    allowed = int(max_fp_rate * len(scores_news))
    ranked = np.sort(scores_news)[::-1]
    return float(np.nextafter(np.float32(ranked[allowed]), np.float32(np.inf)))


def rate(hits: int, n: int) -> str:
    return f"{hits}/{n:,} ({hits / n:.3f})" if n else "0/0"


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/qa-bot-injection-cache"))
    parser.add_argument("--out", type=Path, default=DETECTOR_FILE)
    parser.add_argument("--max-fp-rate", type=float, default=1e-4, help="on training news, out of fold")
    parser.add_argument(
        "--also-backend",
        action="append",
        default=[],
        help="another embedding backend to measure the detector on; the file is valid for it too",
    )
    parser.add_argument("--dry-run", action="store_true", help="print figures, write nothing")
    args = parser.parse_args(argv)

    from qa_bot.models.embeddings import load_embeddings

    settings = get_settings()
    embedder = load_embeddings(settings)
    print(f"machine: {cpu_model()}, embedding model: {embedder.name}", flush=True)

    instructions = read_jsonl(HERE / "instructions.jsonl")
    hard = read_jsonl(HERE / "hard_negatives.jsonl")
    corpus = corpus_sentences(args.data)
    unique = list(dict.fromkeys(s for _, _, s in corpus))
    position = {s: i for i, s in enumerate(unique)}
    print(f"corpus: {len(corpus):,} sentences ({len(unique):,} distinct)", flush=True)
    corpus_vectors = embed_cached(embedder, unique, args.cache, "corpus")
    own = [r["text"] for r in instructions + hard]
    own_vectors = dict(zip(own, embed_cached(embedder, own, args.cache, "own"), strict=True))

    # ---- training set ----------------------------------------------------------------------
    train_news = sorted({position[s] for c, n, s in corpus if in_training_sample(c, n)})
    trained_texts = {unique[i] for i in train_news}
    train_rows = [r for r in instructions + hard if r["split"] == "train"]
    n_pos = sum(1 for r in instructions if r["split"] == "train")
    n_hard = len(train_rows) - n_pos
    texts = [r["text"] for r in train_rows] + [unique[i] for i in train_news]
    x = np.vstack([np.array([own_vectors[r["text"]] for r in train_rows]), corpus_vectors[train_news]])
    y = np.array([1] * n_pos + [0] * (len(texts) - n_pos))
    passes = np.array([might_address_a_model(t) for t in texts])
    news_rows = slice(n_pos + n_hard, None)
    print(
        f"training: {n_pos} instructions, {n_hard} hard negatives, {len(train_news):,} news sentences "
        f"(every other article of {' and '.join(TRAINED_CORPORA)}); the pre-filter passes "
        f"{passes[:n_pos].sum()}, {passes[n_pos : news_rows.start].sum()} and {passes[news_rows].sum():,}",
        flush=True,
    )

    # ---- choices, from out-of-fold scores --------------------------------------------------
    # Each (rows fitted on, C) gets the threshold that keeps the training news flagged (by the
    # pre-filter and the score) within budget. Of those whose recall is within one standard
    # error of the best, the one flagging the fewest hard negatives wins: a point of recall
    # on 132 rows is noise, a hard negative flagged is not.
    trials = []
    for subset, fitted in (("all rows", np.ones(len(y), bool)), ("pre-filtered rows", passes)):
        for c in C_GRID:
            oof = np.where(passes, out_of_fold(x, y, fitted, c), -np.inf)
            thr = threshold_at(oof[news_rows], args.max_fp_rate)
            recall = float(np.mean(oof[:n_pos] >= thr))
            hard_fp = int(np.sum(oof[n_pos : news_rows.start] >= thr))
            others = ", ".join(
                f"{r:g}: {np.mean(oof[:n_pos] >= threshold_at(oof[news_rows], r)):.3f}"
                for r in (0.0, 3e-4, 1e-3)
            )
            print(
                f"  fitted on {subset}, C={c:<5}: recall {recall:.3f}, hard negatives flagged "
                f"{hard_fp}/{n_hard} (recall at other news false-positive rates {others})",
                flush=True,
            )
            trials.append((subset, c, thr, recall, hard_fp))
    top = max(t[3] for t in trials)
    floor = top - (top * (1 - top) / n_pos) ** 0.5
    subset, c, threshold, cv_recall, cv_hard_fp = min(
        (t for t in trials if t[3] >= floor), key=lambda t: (t[4], -t[3])
    )
    fitted = passes if subset == "pre-filtered rows" else np.ones(len(y), bool)
    weights, bias = fit(x[fitted], y[fitted], c)
    print(
        f"chosen: fitted on {subset}, C={c}, threshold {threshold:.3f} (decision value); out of fold "
        f"recall {cv_recall:.3f}, hard negatives flagged {cv_hard_fp}/{n_hard}"
    )

    def scored(vectors: np.ndarray) -> np.ndarray:
        return vectors @ weights + bias >= threshold

    figures: dict = {
        "machine": cpu_model(),
        "cross_validation": {
            "fitted_on": subset,
            "C": c,
            "recall": round(cv_recall, 3),
            "hard_negatives_flagged": f"{cv_hard_fp}/{n_hard}",
        },
    }

    # ---- held-out figures -----------------------------------------------------------------
    test_pos = [r for r in instructions if r["split"] == "test"]
    test_hard = [r for r in hard if r["split"] == "test"]
    test = test_pos + test_hard
    regex = np.array([instruction_like(r["text"]) for r in test])
    pre = np.array([might_address_a_model(r["text"]) for r in test])
    score = scored(np.array([own_vectors[r["text"]] for r in test]))
    columns = {"regexes": regex, "score alone": score, "detector": pre & score, "both": regex | pre & score}
    n, m = len(test_pos), len(test_hard)
    print(f"\nheld-out instructions ({n}) found; held-out hard negatives ({m}) flagged")
    for label, hits in columns.items():
        print(f"  {label:<12} {rate(int(hits[:n].sum()), n):<16} {rate(int(hits[n:].sum()), m)}")
    print(f"  pre-filter   {rate(int(pre[:n].sum()), n):<16} {rate(int(pre[n:].sum()), m)}")
    figures["held_out_instructions_found"] = {k: f"{int(v[:n].sum())}/{n}" for k, v in columns.items()}
    figures["held_out_hard_negatives_flagged"] = {k: f"{int(v[n:].sum())}/{m}" for k, v in columns.items()}
    both = columns["both"]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(test_pos):
        groups[f"lang={r['lang']}"].append(i)
        groups[f"style={r['style']}"].append(i)
    print("  instructions found by group (regexes, both):")
    figures["held_out_found_by_group"] = {}
    for key in sorted(groups, key=lambda k: (not k.startswith("lang"), k)):
        idx = groups[key]
        print(f"    {key:<28} {int(regex[idx].sum())}/{len(idx)}  {int(both[idx].sum())}/{len(idx)}")
        figures["held_out_found_by_group"][key] = f"{int(both[idx].sum())}/{len(idx)}"
    for r, hit in zip(test, both, strict=True):
        if hit == (r in test_hard):
            print(f"    {'flagged' if hit else 'missed'}: {r['text']}")

    # ---- every sentence of the four corpora --------------------------------------------------
    u_regex = np.array([instruction_like(s) for s in unique])
    u_pre = np.array([might_address_a_model(s) for s in unique])
    u_score = scored(corpus_vectors)
    u_columns = {
        "regexes": u_regex,
        "score alone": u_score,
        "detector": u_pre & u_score,
        "both": u_regex | u_pre & u_score,
    }
    rows = np.array([position[s] for _, _, s in corpus])
    untrained = np.array([unique[i] not in trained_texts for i in rows])
    print(f"\nnews sentences flagged (of {len(corpus):,} in {', '.join(CORPORA)}, counted where they occur)")
    figures["news_sentences_flagged"] = {}
    for label, mask in (("all", np.ones(len(rows), bool)), ("not trained on", untrained)):
        counts = {k: int(v[rows[mask]].sum()) for k, v in u_columns.items()}
        print(f"  {label} ({mask.sum():,}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        figures["news_sentences_flagged"][label] = {"sentences": int(mask.sum()), **counts}
    by_corpus = defaultdict(lambda: [0, 0])
    for (name, _, _), i in zip(corpus, rows, strict=True):
        by_corpus[name][0] += 1
        by_corpus[name][1] += int(u_columns["both"][i])
    print("  both, by corpus: " + ", ".join(f"{k} {v[1]}/{v[0]:,}" for k, v in by_corpus.items()))
    for i in np.flatnonzero(u_columns["both"]):
        print(f"    flagged{' (trained on)' if unique[i] in trained_texts else ''}: {unique[i][:150]}")
    print(f"  the pre-filter passes {u_pre[rows].mean():.3f} of them")
    figures["news_prefilter_pass_rate"] = round(float(u_pre[rows].mean()), 3)

    # ---- cost -------------------------------------------------------------------------------
    sample = [s for _, _, s in corpus[:: len(corpus) // 1000]][:1000]
    started = time.perf_counter()
    sample_vectors = embedder.encode_passages(sample)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        scored(sample_vectors)
    score_ms = (time.perf_counter() - started) * 10
    started = time.perf_counter()
    for s in sample:
        might_address_a_model(s)
    pre_ms = (time.perf_counter() - started) * 1000
    # The machine may be shared: the load says how much of it the timings had.
    load = os.getloadavg()[0]
    print(
        f"\ncost per 1,000 news sentences (load average {load:.1f} on {os.cpu_count()} CPUs): embedding "
        f"{embed_s:.1f} s, scoring given vectors {score_ms:.3f} ms, pre-filter {pre_ms:.1f} ms"
    )
    figures["cost_per_1000_sentences"] = {
        "load_average": round(load, 1),
        "embed_s": round(embed_s, 2),
        "score_ms": round(score_ms, 3),
        "prefilter_ms": round(pre_ms, 1),
    }
    figures["ingest_cost_per_article"] = ingest_cost(embedder, args.data, settings.chunk_max_chars)

    # ---- other backends of the same model ------------------------------------------------------
    names = [embedder.name]
    for backend in args.also_backend:
        other = load_embeddings(get_settings(embedding_backend=backend))
        # Only sentences the pre-filter passes can be flagged: only those are embedded.
        candidates = [unique[i] for i in np.flatnonzero(u_pre)]
        o_score = scored(embed_cached(other, candidates, args.cache, "corpus-prefiltered"))
        o_flag = np.zeros(len(unique), bool)
        o_flag[np.flatnonzero(u_pre)] = o_score
        o_flag |= u_regex
        t_score = scored(other.encode_passages([r["text"] for r in test]))
        t_both = regex | pre & t_score
        agree = float(np.mean(t_both == both))
        news_flagged = {
            label: int(o_flag[rows[mask]].sum())
            for label, mask in (("all", rows >= 0), ("not trained on", untrained))
        }
        print(
            f"\n{other.name}: held-out instructions found {rate(int(t_both[:n].sum()), n)}, hard negatives "
            f"flagged {rate(int(t_both[n:].sum()), m)} (same verdict as {embedder.name} on {agree:.3f}); "
            f"news sentences flagged: all {news_flagged['all']}, "
            f"not trained on {news_flagged['not trained on']}"
        )
        figures[f"on {other.name}"] = {
            "held_out_instructions_found": f"{int(t_both[:n].sum())}/{n}",
            "held_out_hard_negatives_flagged": f"{int(t_both[n:].sum())}/{m}",
            "news_sentences_flagged": news_flagged,
        }
        names.append(other.name)

    if args.dry_run:
        return 0
    detector = {
        "embedding_names": names,
        "prefilter": prefilter_fingerprint(),
        "dimension": int(weights.shape[0]),
        "weights": [round(float(v), 6) for v in weights],
        "bias": round(bias, 6),
        "threshold": round(threshold, 6),
        "training": {
            "instructions": n_pos,
            "hard_negatives": n_hard,
            "news_sentences": len(train_news),
            "news_sample": "every other article (file order) of " + " and ".join(TRAINED_CORPORA),
            "max_news_fp_rate_out_of_fold": args.max_fp_rate,
        },
        "figures": figures,
    }
    args.out.write_text(json.dumps(detector, indent=1, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    return 0


def ingest_cost(embedder, data: Path, max_chars: int, articles: int = 40) -> dict:
    """Seconds per article to embed its chunks (what ingest does anyway, many articles to a
    call), all its sentences, or only those the pre-filter passes (one call per article, as
    ingest's report does): the first ``articles`` IndoSum articles."""
    from ingest.chunking import chunk_spans

    texts = []
    with open(data / "indosum" / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) == articles:
                break
    per_article = {
        "chunks": [[t[a:b] for t in texts for a, b in chunk_spans(t, max_chars)]],
        "all_sentences": [[t[a:b] for a, b in sentence_spans(t)] for t in texts],
        "prefiltered_sentences": [
            [t[a:b] for a, b in sentence_spans(t) if might_address_a_model(t[a:b])] for t in texts
        ],
    }
    out = {}
    for label, calls in per_article.items():
        started = time.perf_counter()
        for batch in calls:
            if batch:
                embedder.encode_passages(batch)
        out[f"{label}_s"] = round((time.perf_counter() - started) / articles, 3)
        out[f"{label}_n"] = round(sum(map(len, calls)) / articles, 1)
    print(
        f"ingest, per IndoSum article ({articles} articles): embedding its {out['chunks_n']} chunks "
        f"{out['chunks_s']:.3f} s; all {out['all_sentences_n']} sentences {out['all_sentences_s']:.3f} s; "
        f"the {out['prefiltered_sentences_n']} the pre-filter passes {out['prefiltered_sentences_s']:.3f} s"
    )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
