"""Regression guard: a fast slice of ``qa-bot eval`` on the public data sets.

The thresholds sit a few points under the figures measured when they were set (see the
README's evaluation table), so that a real regression breaks them: retrieval that loses its
dense or its keyword side, a prompt the model stops following, a citation check that lets
wrong answers through or rejects right ones, abstention that stops working. Skipped when
the data sets are not on this machine (``QA_BOT_EVAL_DATA`` points at them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa_bot.evaluation import evaluate, gold_rank, load_qa, summarise

from .conftest import ROOT, bot_for

pytestmark = pytest.mark.slow


def _data_dir() -> Path | None:
    candidates = [os.environ.get("QA_BOT_EVAL_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "facqa" / "qa.jsonl").is_file():
            return Path(candidate)
    return None


# Thresholds, one or two questions under the figures measured when they were set (greedy
# decoding makes the runs repeatable): FacQA answers 0.40 accuracy (8/20), citation
# precision 0.778; IDK-MRC abstention 0.333 (4/12), accuracy 0.417 (5/12).
ACCURACY_FACQA, CITATION_PRECISION_FACQA = 0.30, 0.65
ABSTENTION_IDK, ACCURACY_IDK = 0.25, 0.33

DATA = _data_dir()
if DATA is None:
    pytest.skip("evaluation data not found: set QA_BOT_EVAL_DATA", allow_module_level=True)


def _ingested(settings_factory, embedder, rows: list[dict], tmp_path_factory):
    from ingest.pipeline import ingest_path

    folder = tmp_path_factory.mktemp("eval-corpus")
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    settings = settings_factory()
    report = ingest_path(folder, settings, embedder=embedder)
    assert len(report.added) == len(rows)
    return settings


@pytest.fixture(scope="module")
def facqa_settings(settings_factory, embedder, tmp_path_factory):
    rows = [json.loads(line) for line in (DATA / "facqa" / "corpus.jsonl").open(encoding="utf-8")]
    return _ingested(settings_factory, embedder, rows, tmp_path_factory)


def test_facqa_retrieval_fused_and_each_side(facqa_settings, embedder):
    """All 311 valid questions over the full FacQA corpus (1,369 news passages)."""
    bot = bot_for(facqa_settings, embedder, None)
    items = load_qa(DATA / "facqa" / "qa.jsonl", "valid")
    fused = summarise(evaluate(bot, items, retrieval_only=True)).retrieval
    retriever, index = bot.retriever, bot.retriever.snapshot()
    dense = keyword = 0
    for item in items:
        vector = embedder.embed_query(item.question)
        dense += gold_rank(retriever.store.search(vector, 10), item.doc_id) == 1
        hits = retriever.store.get([h.chunk_id for h in index.search(item.question, 10)])
        keyword += gold_rank(hits, item.doc_id) == 1
    n = len(items)
    figures = (round(dense / n, 3), round(keyword / n, 3), fused["R@1"], fused["MRR"])
    # Measured when set: dense 0.688, keyword 0.714 (raw hits: an identical copy of the
    # gold passage ranking first is a miss), fused R@1 0.762 and MRR 0.832 (copies folded,
    # so such a copy counts; 0.720 / 0.808 before folding). Fusion must beat both sides, so
    # losing either side (or the folding) breaks the last line.
    print("quality guard: facqa retrieval", figures)
    assert figures[0] >= 0.66 and figures[1] >= 0.69, figures
    assert figures[2] >= 0.755 and figures[3] >= 0.82, figures


def test_facqa_answers(facqa_settings, embedder, llm):
    """The first 20 valid questions answered by the real model: right, and cited right."""
    bot = bot_for(facqa_settings, embedder, llm)
    items = load_qa(DATA / "facqa" / "qa.jsonl", "valid", limit=20)
    answers = summarise(evaluate(bot, items)).answers
    figures = (answers["accuracy"], answers["citation_precision"])
    print("quality guard: facqa answers", figures)
    assert figures[0] >= ACCURACY_FACQA and figures[1] >= CITATION_PRECISION_FACQA, figures


def test_idk_mrc_abstains_and_still_answers(settings_factory, embedder, llm, tmp_path_factory):
    """12 answerable and 12 unanswerable valid IDK-MRC questions over their passages plus
    300 others: the bot must refuse a share of the unanswerable and answer the others."""
    qa = [json.loads(line) for line in (DATA / "idk_mrc" / "qa.jsonl").open(encoding="utf-8")]
    valid = [r for r in qa if r["split"] == "valid"]
    chosen = [r for r in valid if r["answerable"]][:12] + [r for r in valid if not r["answerable"]][:12]
    corpus = [json.loads(line) for line in (DATA / "idk_mrc" / "corpus.jsonl").open(encoding="utf-8")]
    needed = {r["doc_id"] for r in chosen}
    rows = [c for c in corpus if c["id"] in needed] + [c for c in corpus if c["id"] not in needed][:300]
    settings = _ingested(settings_factory, embedder, rows, tmp_path_factory)
    qa_path = tmp_path_factory.mktemp("idk") / "qa.jsonl"
    qa_path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in chosen))
    answers = summarise(evaluate(bot_for(settings, embedder, llm), load_qa(qa_path))).answers
    figures = (answers["abstention_recall"], answers["accuracy"])
    print("quality guard: idk-mrc", figures)
    assert figures[0] >= ABSTENTION_IDK and figures[1] >= ACCURACY_IDK, figures
