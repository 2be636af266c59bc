"""``qa-bot``: setup | ingest | remove | ask | serve | eval. Thin: each command calls one library function."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.config import apply_offline_env

if TYPE_CHECKING:
    from ingest.report import IngestReport
    from qa_bot.config import Settings
    from qa_bot.evaluation import ItemResult


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa-bot", description="Question answering over Indonesian news.")
    p.add_argument("--store-dir", help="store location (default: QA_BOT_STORE_DIR or the user data dir)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("setup", help="prepare the default models (once; shows progress)")

    ing = sub.add_parser(
        "ingest",
        help="ingest files, folders or URLs (.txt, .md, .jsonl, .html, RSS/Atom feeds; http(s) feeds, pages)",
    )
    ing.add_argument("path", help="a file, a folder, or the http(s) URL of a feed or a news article")
    ing.add_argument("--json", action="store_true", help="print the report as JSON")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    ing.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the store (e.g. a damaged one) from PATH and from the texts it still holds; "
        "the old store is moved aside, not deleted",
    )

    rm = sub.add_parser("remove", help="remove articles from the store by id (their files are not touched)")
    rm.add_argument("ids", nargs="+", metavar="ID", help="article id, as ingest reports and the app lists it")
    rm.add_argument("--json", action="store_true", help="print the report as JSON")

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    ask.add_argument("-k", type=int, help="passages given to the model")
    ask.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    ask.add_argument("--since", type=date.fromisoformat, help="published on or after YYYY-MM-DD")
    ask.add_argument("--until", type=date.fromisoformat, help="published on or before YYYY-MM-DD")

    ev = sub.add_parser(
        "eval",
        help="measure retrieval, answers, abstention and citations on a QA set, "
        "or report the chat's thumbs up/down (--feedback)",
    )
    # --corpus and --qa are required unless --feedback is given; _eval checks that, with
    # argparse's own message, as argparse cannot make one option depend on another.
    ev.set_defaults(eval_parser=ev)
    ev.add_argument(
        "--corpus",
        action="append",
        help="corpus JSONL or folder (repeatable; all go into one store of their own)",
    )
    ev.add_argument("--qa", help="QA JSONL: question, answers, doc_id[, answerable, split]")
    ev.add_argument(
        "--feedback",
        nargs="?",
        const="",
        metavar="PATH",
        help="instead of a QA set, report the ratings given in the chat "
        "(default PATH: feedback.jsonl in the store folder)",
    )
    ev.add_argument("--split", default="valid", help="which split to ask ('all' for every one)")
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--retrieval-only", action="store_true", help="skip the LLM: retrieval figures only")
    ev.add_argument("--out", default="eval-results", help="folder for the JSON and PNG results")

    serve = sub.add_parser("serve", help="run the web chat")
    serve.add_argument("--host", help="bind address (default QA_BOT_APP_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default QA_BOT_APP_PORT or 7860)")
    serve.add_argument("--corpus", help="corpus folder the app manages (default QA_BOT_CORPUS_DIR or corpus)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 error with a message, 2 usage)."""
    apply_offline_env()
    args = _parser().parse_args(argv)
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import StoreError
    from qa_bot.models.common import ModelError

    try:
        overrides = {"store_dir": args.store_dir} if args.store_dir else {}
        settings = get_settings(**overrides)
        return _COMMANDS[args.command](args, settings)
    except (ModelError, StoreError) as exc:
        print(f"qa-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa-bot: interrupted", file=sys.stderr)
        return 130


def _setup(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.models.embeddings import load_embeddings
    from qa_bot.models.prepare.gguf import prepare_default_gguf
    from qa_bot.models.prepare.model_check import check_answer_model

    load_embeddings(settings)
    if not settings.llm_base_url and settings.llm_model_path is None:
        prepare_default_gguf(settings)
    # A llama.cpp build that crashes on this CPU is found here, not at the first question.
    check = check_answer_model(settings)
    if check is not None:
        print(check.summary())
    print("models ready")
    return 0


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.article import LoadError
    from ingest.pipeline import ingest_path
    from ingest.rebuild import RebuildReport, rebuild_store

    show_progress = not args.quiet and not args.json
    report: RebuildReport | IngestReport
    try:
        if args.rebuild:
            report = rebuild_store(args.path, settings, show_progress=show_progress)
        else:
            report = ingest_path(args.path, settings, show_progress=show_progress)
    except LoadError as exc:
        print(f"qa-bot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.render())
    if isinstance(report, RebuildReport) and report.failed:
        print(f"qa-bot: {report.failed}", file=sys.stderr)
        return 1
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.remove import remove_articles

    report = remove_articles(args.ids, settings)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.render())
    if report.unknown:
        print(f"qa-bot: not in the store: {', '.join(map(repr, report.unknown))}", file=sys.stderr)
        return 1
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot import QABot, SearchFilters

    if not args.question.strip():
        print(
            'qa-bot: the question is empty: ask something, e.g. qa-bot ask "Siapa Sekjen NATO?"',
            file=sys.stderr,
        )
        return 2
    import logging

    from qa_bot.models.supervised_chat import AnswerModelCrashed

    # A crash of the model's worker is reported below, once; the supervisor's log line
    # (meant for the app's log) would say it twice.
    logging.getLogger("qa_bot.models.supervised_chat").setLevel(logging.CRITICAL)
    bot = QABot.from_settings(settings, require_documents=True)
    filters = SearchFilters(tuple(args.source), args.since, args.until)
    try:
        bot.warm_up()  # the fixed prompt prefix from disk (ms) instead of re-read (~5 s)
        answer = bot.ask(args.question, filters=filters, k=args.k)
    except AnswerModelCrashed as exc:
        print(
            f"qa-bot: the answer model crashed while answering ({exc.reason}). Ask again; if it "
            "happens every time, run `qa-bot setup` to check that the llama.cpp build runs here.",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published[:10], c.url) if x)
        print(f"\n[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        # The supporting sentence(s); the whole passage is in --json.
        print("    “" + " ".join(c.quote.split()) + "”")
        for copy in c.copies:
            print(
                f"    same story also in: {' — '.join(x for x in (copy.source, copy.title, copy.url) if x)}"
            )
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.app import launch

    if args.corpus:
        settings = settings.model_copy(update={"corpus_dir": Path(args.corpus)})
    launch(settings, host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.feedback is not None:
        if args.corpus or args.qa:
            args.eval_parser.error("--feedback reads the chat's ratings only: leave out --corpus and --qa")
        return _eval_feedback(args, settings)
    missing = [flag for flag, value in (("--corpus", args.corpus), ("--qa", args.qa)) if value is None]
    if missing:
        args.eval_parser.error(f"the following arguments are required: {', '.join(missing)}")
    return _eval_qa(args, settings)


def _eval_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.feedback import FEEDBACK_FILE, feedback_report, load_feedback, render_report

    path = Path(args.feedback) if args.feedback else Path(settings.store_dir) / FEEDBACK_FILE
    if not path.exists():
        print(
            f"qa-bot: no feedback at {path}: it is written when readers rate answers with the "
            "thumbs up/down in the chat (qa-bot serve)",
            file=sys.stderr,
        )
        return 1
    try:
        records, problems = load_feedback(path)
    except OSError as exc:
        print(f"qa-bot: cannot read the feedback at {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(render_report(feedback_report(records)))
    # A bad line costs that line only; saying which keeps the file mendable by hand.
    for problem in problems:
        print(f"qa-bot: {path}: skipped {problem}", file=sys.stderr)
    return 0


def _eval_qa(args: argparse.Namespace, settings: Settings) -> int:
    import hashlib
    import time

    from tqdm import tqdm

    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.evaluation import draw_chart, evaluate, load_qa, render_table, summarise
    from qa_bot.models.embeddings import embedding_name

    corpora, qa = [Path(c) for c in args.corpus], Path(args.qa)
    for path in (*corpora, qa):
        if not path.exists() or (path == qa and not path.is_file()):
            print(f"qa-bot: {path} is not a file", file=sys.stderr)
            return 2
    items = load_qa(qa, None if args.split == "all" else args.split, args.limit)
    if not items:
        print(f"qa-bot: no questions in {qa} for split {args.split!r}", file=sys.stderr)
        return 2
    # Each corpus gets its own store beside the main one, kept between runs (re-ingest is
    # incremental, so a second run starts at once).
    names = "|".join(str(c.resolve()) for c in corpora)
    key = hashlib.sha256(f"{names}|{embedding_name(settings)}".encode()).hexdigest()[:12]
    corpus = corpora[0]
    store = Path(settings.store_dir) / "eval" / f"{corpus.parent.name}-{corpus.stem}-{key}"
    settings = settings.model_copy(update={"store_dir": store})
    for corpus in corpora:
        report = ingest_path(corpus, settings, show_progress=True)
        print(f"corpus {corpus}: {report.summary()} ({report.seconds:.1f} s)", file=sys.stderr)
    bot = QABot.from_settings(settings, load_llm=not args.retrieval_only)
    if not args.retrieval_only:
        bot.warm_up()
    bar = tqdm(total=len(items), desc="questions", unit="q", file=sys.stderr)
    hits = {"r1": 0, "n": 0}

    def on_item(result: ItemResult) -> None:
        if result.answerable:
            hits["n"] += 1
            hits["r1"] += result.rank == 1
            bar.set_postfix_str(f"R@1 {hits['r1'] / hits['n']:.3f}")
        bar.update(1)

    results = evaluate(bot, items, retrieval_only=args.retrieval_only, on_item=on_item)
    bar.close()
    summary = summarise(results)
    name = f"{qa.parent.name or qa.stem}-{args.split}{'-retrieval' if args.retrieval_only else ''}"
    title = f"{name}: {len(items)} questions"
    print(render_table(summary, title))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    json_path = out / f"{name}-{stamp}.json"
    json_path.write_text(
        json.dumps(
            {
                "corpus": [str(c) for c in corpora],
                "qa": str(qa),
                "split": args.split,
                "summary": summary.to_dict(),
                "items": [r.__dict__ for r in results],
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    png_path = draw_chart(summary, title, out / f"{name}-{stamp}.png")
    print(f"\nwrote {json_path} and {png_path}")
    return 0


_COMMANDS = {
    "setup": _setup,
    "ingest": _ingest,
    "remove": _remove,
    "ask": _ask,
    "serve": _serve,
    "eval": _eval,
}

if __name__ == "__main__":
    sys.exit(main())
