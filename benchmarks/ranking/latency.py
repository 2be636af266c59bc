"""Retrieval latency before and after the ranker, on one corpus, same process.

Not a test: it prints p50/p95 of ``HybridRetriever.retrieve`` for the code at a git
revision (default HEAD, read with ``git show``) and for the working tree, question by
question in alternating order so both meet the same machine load. The question vector is
computed once and passed in (``query_vector``), so the figures are retrieval's own cost;
embedding the question is reported apart (it is the same before and after).

    python benchmarks/ranking/latency.py --store /tmp/rank/store/eval/tydiqa_id-corpus-<key> \\
        --qa ../shared/data/tydiqa_id/qa.jsonl --split valid
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()


def old_module(rev: str):
    """qa_bot/search/retrieval.py as of ``rev``, imported as a module of the qa_bot package."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:qa_bot/search/retrieval.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "retrieval_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("qa_bot.retrieval_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", required=True, help="a store folder (e.g. one `qa-bot eval` made)")
    parser.add_argument("--qa", required=True)
    parser.add_argument("--split", default="valid")
    parser.add_argument("--k", type=int, default=4, help="passages asked for (the bot asks for 4)")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the questions")
    parser.add_argument("--rev", default="HEAD", help="the git revision measured as 'before'")
    args = parser.parse_args()

    from qa_bot.corpus.store import ChunkStore
    from qa_bot.evaluation import load_qa
    from qa_bot.models.embeddings import load_embeddings
    from qa_bot.search.retrieval import HybridRetriever

    settings = get_settings(store_dir=args.store)
    embedder = load_embeddings(settings)
    store = ChunkStore.from_settings(settings, embedder.name)
    before = old_module(args.rev).HybridRetriever.from_settings(store, embedder, settings)
    after = HybridRetriever.from_settings(store, embedder, settings)
    questions = [i.question for i in load_qa(Path(args.qa), args.split)]
    t = time.perf_counter()
    vectors = [embedder.embed_query(q) for q in questions]
    embed_ms = 1000 * (time.perf_counter() - t) / len(questions)
    for r in (before, after):  # load the keyword index, warm caches
        for q, v in zip(questions[:20], vectors[:20], strict=True):
            r.retrieve(q, args.k, query_vector=v)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for n in range(args.rounds):
        for i, (q, v) in enumerate(zip(questions, vectors, strict=True)):
            pair = [("before", before), ("after", after)]
            for name, r in pair if (i + n) % 2 == 0 else pair[::-1]:
                t = time.perf_counter()
                r.retrieve(q, args.k, query_vector=v)
                times[name].append(1000 * (time.perf_counter() - t))
    print(
        f"CPU: {cpu_model()}; store {args.store} ({store.count()} chunks); "
        f"{len(questions)} questions x {args.rounds}, k={args.k}"
    )
    print(f"embedding a question (same before and after): {embed_ms:.1f} ms mean")
    for name, values in times.items():
        print(f"retrieve, {name}: p50 {pct(values, 50):.1f} ms, p95 {pct(values, 95):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
