"""Benchmark: first-time setup, ingest throughput and answer latency on this machine.

Not a test: it prints figures for the README and never gates anything.

    python benchmarks/bench.py --indosum ../shared/data/indosum/corpus.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indosum", type=Path, help="IndoSum corpus.jsonl (first N articles are ingested)")
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--questions", type=Path, default=ROOT / "benchmarks" / "founding_questions.jsonl")
    ap.add_argument("--max-questions", type=int, default=6)
    ap.add_argument("--skip-setup", action="store_true", help="skip the first-time model preparation")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    figures: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }

    from qa_bot.models import (
        load_chat_model,
        load_embeddings,
        prepare_default_embedding,
        prepare_default_gguf,
    )

    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_setup:
            fresh = get_settings(cache_dir=Path(tmp) / "cache", store_dir=Path(tmp) / "s0")
            _, t_e5 = timed(lambda: prepare_default_embedding(fresh, progress=lambda m: None))
            _, t_gguf = timed(lambda: prepare_default_gguf(fresh, progress=lambda m: None, show_bar=False))
            figures["setup_embedding_s"] = round(t_e5, 1)
            figures["setup_llm_s"] = round(t_gguf, 1)
            import shutil

            shutil.rmtree(Path(tmp) / "cache")

        settings = get_settings(store_dir=Path(tmp) / "founding")
        embedder, t_load = timed(lambda: load_embeddings(settings, progress=lambda m: None))
        figures["embedding_load_s"] = round(t_load, 1)

        from ingest.pipeline import ingest_path

        report, t = timed(lambda: ingest_path(ROOT / "corpus", settings, embedder=embedder))
        figures["ingest_founding"] = {
            "articles": len(report.added),
            "chunks": report.chunks_written,
            "seconds": round(t, 2),
            "chunks_per_s": round(report.chunks_written / t, 1),
        }
        print(f"ingest founding article: {report.chunks_written} chunks in {t:.2f} s", file=sys.stderr)

        if args.indosum:
            jsonl = Path(tmp) / "indosum.jsonl"
            with args.indosum.open() as src, jsonl.open("w") as dst:
                dst.writelines(itertools.islice(src, args.articles))
            s2 = get_settings(store_dir=Path(tmp) / "indosum")
            report, t = timed(lambda: ingest_path(jsonl, s2, embedder=embedder, show_progress=True))
            figures["ingest_indosum"] = {
                "articles": len(report.added),
                "chunks": report.chunks_written,
                "seconds": round(t, 1),
                "chunks_per_s": round(report.chunks_written / t, 1),
            }
            again, t2 = timed(lambda: ingest_path(jsonl, s2, embedder=embedder))
            figures["reingest_unchanged_indosum_s"] = round(t2, 2)

        from qa_bot import QABot
        from qa_bot.bot import Token
        from qa_bot.retrieval import HybridRetriever
        from qa_bot.store import ChunkStore

        llm, t_llm = timed(lambda: load_chat_model(settings, progress=lambda m: None))
        figures["llm_load_s"] = round(t_llm, 1)
        store = ChunkStore.from_settings(settings, embedder.name)
        bot = QABot(HybridRetriever.from_settings(store, embedder, settings), llm, settings)
        _, t_warm = timed(bot.warm_up)
        figures["llm_warm_up_s"] = round(t_warm, 1)
        rows = [json.loads(line) for line in args.questions.open()][: args.max_questions]
        per_question = []
        for row in rows:
            t0 = time.perf_counter()
            first = None
            for event in bot.stream(row["question"]):
                if isinstance(event, Token) and first is None:
                    first = time.perf_counter() - t0
                answer = event
            per_question.append(
                {
                    "question": row["question"],
                    "retrieval_ms": round(1000 * answer.timings["retrieval_s"], 1),
                    "selection_ms": round(1000 * answer.timings.get("selection_s", 0), 1),
                    "first_token_s": round(first or 0, 2),
                    "total_s": round(time.perf_counter() - t0, 2),
                    "answer": answer.text,
                }
            )
            print(json.dumps(per_question[-1], ensure_ascii=False), file=sys.stderr)
        figures["questions"] = per_question
        for key in ("retrieval_ms", "first_token_s", "total_s"):
            values = [q[key] for q in per_question]
            figures[f"{key}_median"] = round(statistics.median(values), 2)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
