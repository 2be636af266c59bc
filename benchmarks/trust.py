"""Benchmark: how often each setup shows a wrong answer behind a citation, side by side.

For each QA set, this project and the plain LangChain setup of ``bench.py`` (1000/200
splitter, the same e5 model through HuggingFaceEmbeddings, Chroma k=4, the "stuff" prompt,
the same GGUF model) answer the same questions over the same corpus. Per set and setup:
answerable accuracy, unanswerable questions refused, answers shown, and the
**wrong-with-citation rate**: of the answers shown, those that are wrong, answer an
unanswerable question, or rest on sources none of which holds the gold answer (the plain
setup shows its four retrieved chunks as its sources). ``ours-unchecked`` is this
project's same answers finalised without the role check, to show what the check does. Not
a test; it prints figures for ``docs/evaluation.md``.

    python benchmarks/trust.py --data ../shared/data --limit 100
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench import PLAIN_PROMPT, _plain_embeddings, _refused, machine  # noqa: E402
from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()


def sets(data: Path, limit: int | None) -> dict[str, dict]:
    """The QA sets: this project's real-news set (valid split) and FacQA / IDK-MRC valid."""
    news = ROOT / "benchmarks" / "news_dev"
    return {
        "news": {
            "corpora": [data / "indosum" / "corpus.jsonl", news / "articles.jsonl"],
            "qa": news / "qa.jsonl",
            "limit": None,
        },
        "facqa": {
            "corpora": [data / "facqa" / "corpus.jsonl"],
            "qa": data / "facqa" / "qa.jsonl",
            "limit": limit,
        },
        "idk_mrc": {
            "corpora": [data / "idk_mrc" / "corpus.jsonl"],
            "qa": data / "idk_mrc" / "qa.jsonl",
            "limit": limit,
        },
    }


def run_ours(name: str, spec: dict, items, work: Path, llm) -> dict[str, dict]:
    """This project, and the same answers finalised without the role check ("ours-unchecked":
    the check runs after the model, so one run gives both)."""
    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.answer.check.finalize import finalize
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.evaluation import evaluate, summarise, wrong_with_citation
    from qa_bot.models.embeddings import load_embeddings
    from qa_bot.search.retrieval import HybridRetriever

    settings = get_settings(store_dir=work / f"ours-{name}", answer_cache=0)
    embedder = load_embeddings(settings, progress=lambda m: None)
    for corpus in spec["corpora"]:
        ingest_path(corpus, settings, embedder=embedder, show_progress=True)
    store = ChunkStore.from_settings(settings, embedder.name)
    bot = QABot(HybridRetriever.from_settings(store, embedder, settings), llm, settings)
    bot.warm_up()
    unchecked: dict[str, object] = {}
    begin = bot.checker.begin
    streams: list[tuple] = []

    def begin_kept(question, snippets, language, news):
        stream = begin(question, snippets, language, news)
        streams.append((stream, question, snippets, language))
        return stream

    def progress(result) -> None:
        print(".", end="", file=sys.stderr, flush=True)

    # The check stage keeps each answer's raw text: checked again without the role check.
    bot.checker.begin = begin_kept
    try:
        results = []
        for item in items:
            streams.clear()
            results += evaluate(bot, [item], on_item=progress)
            if streams:
                stream, question, snippets, language = streams[-1]
                unchecked[item.id] = finalize(stream.raw, question, snippets, language)
    finally:
        bot.checker.begin = begin
    print(file=sys.stderr)
    checks = [r.check_s for r in results if r.check_s is not None]
    out = {"ours": _figures(summarise(results).answers, results)}
    out["ours"]["check_ms_p50"] = round(1000 * statistics.median(checks), 1) if checks else None
    # The same answers without the check: only whether and what was shown changes.
    from qa_bot.evaluation import contains_answer

    for r, item in zip(results, items, strict=True):
        answer = unchecked.get(item.id)
        if answer is None:  # answered before the model (no snippets, a time message)
            continue
        r.found = answer.found
        if item.answerable:
            r.correct = answer.found and contains_answer(answer.text, item.answers)
            r.citations = len(answer.citations)
        r.wrong_with_citation = wrong_with_citation(answer, item)
    out["ours-unchecked"] = _figures(summarise(results).answers, results)
    return out


def _figures(answers: dict, results) -> dict:
    first = [r.first_token_s for r in results if r.answerable and r.first_token_s is not None]
    return {
        "accuracy": answers["accuracy"],
        "unanswerable_refused": answers["abstention_recall"],
        "shown": answers["shown"],
        "wrong_with_citation": answers["wrong_with_citation"],
        "first_token_s_p50": round(statistics.median(first), 2) if first else None,
    }


def run_plain(name: str, spec: dict, items, work: Path, llm) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_core.messages import HumanMessage
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from qa_bot.evaluation import contains_answer

    folder = work / f"plain-{name}"
    embeddings = _plain_embeddings(get_settings())
    if not (folder / "done").exists():
        docs = []
        for corpus in spec["corpora"]:
            for line in corpus.open(encoding="utf-8"):
                r = json.loads(line)
                docs.append(Document(page_content=r["text"], metadata={"id": r["id"]}))
        chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        Chroma.from_documents(chunks, embeddings, persist_directory=str(folder))
        (folder / "done").write_text("")
    store = Chroma(persist_directory=str(folder), embedding_function=embeddings)
    rows = []
    for item in items:
        t0 = time.perf_counter()
        docs = store.similarity_search(item.question, k=4)
        prompt = PLAIN_PROMPT.format(
            context="\n\n".join(d.page_content for d in docs), question=item.question
        )
        first, parts = None, []
        for chunk in llm.stream([HumanMessage(content=prompt)]):
            if chunk.content and first is None:
                first = time.perf_counter() - t0
            parts.append(str(chunk.content))
        text = "".join(parts)
        shown = not _refused(text)
        right = item.answerable and contains_answer(text, item.answers)
        held = item.answerable and any(contains_answer(d.page_content, item.answers) for d in docs)
        rows.append(
            {"answerable": item.answerable, "shown": shown, "right": right, "held": held, "first": first}
        )
        print(".", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    ans = [r for r in rows if r["answerable"]]
    unans = [r for r in rows if not r["answerable"]]
    shown = [r for r in rows if r["shown"]]
    wrong = [r for r in shown if not (r["right"] and r["held"])]
    first = [r["first"] for r in ans if r["first"] is not None]
    return {
        "accuracy": round(sum(r["shown"] and r["right"] for r in ans) / len(ans), 3) if ans else None,
        "unanswerable_refused": round(sum(not r["shown"] for r in unans) / len(unans), 3) if unans else None,
        "shown": len(shown),
        "wrong_with_citation": round(len(wrong) / len(shown), 3) if shown else None,
        "first_token_s_p50": round(statistics.median(first), 2) if first else None,
        "check_ms_p50": None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=100, help="first N valid questions of FacQA and IDK-MRC")
    ap.add_argument("--sets", default="news,facqa,idk_mrc")
    ap.add_argument("--setups", default="ours,plain")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qa-bot-trust"), help="stores, kept between runs")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from qa_bot.evaluation import load_qa
    from qa_bot.models.chat import load_chat_model

    llm = load_chat_model(get_settings(), progress=lambda m: None)
    figures: dict = {"machine": machine(), "sets": {}}
    for name, spec in sets(args.data, args.limit).items():
        if name not in args.sets.split(","):
            continue
        items = load_qa(spec["qa"], "valid", spec["limit"])
        figures["sets"][name] = {"questions": len(items)}
        for setup in args.setups.split(","):
            print(f"--- {name}: {setup} ({len(items)} questions) ---", file=sys.stderr)
            if setup == "plain":
                figures["sets"][name]["plain"] = run_plain(name, spec, items, args.work, llm)
            else:
                figures["sets"][name].update(run_ours(name, spec, items, args.work, llm))
    print(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def render(figures: dict) -> str:
    keys = (
        "accuracy",
        "unanswerable_refused",
        "shown",
        "wrong_with_citation",
        "first_token_s_p50",
        "check_ms_p50",
    )
    lines = [f"machine: {figures['machine']}"]
    for name, by_setup in figures["sets"].items():
        lines.append(f"\n{name} (valid, {by_setup['questions']} questions)")
        setups = [s for s in ("ours", "ours-unchecked", "plain") if s in by_setup]
        lines.append(f"{'figure':24} " + " ".join(f"{s:>15}" for s in setups))
        for key in keys:
            cells = ["-" if by_setup[s].get(key) is None else str(by_setup[s][key]) for s in setups]
            lines.append(f"{key:24} " + " ".join(f"{c:>15}" for c in cells))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
