"""``qa-bot``: setup | ingest | ask | serve. Thin: each command calls one library function."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from qa_bot.config import apply_offline_env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qa-bot", description="Question answering over Indonesian news.")
    p.add_argument("--store-dir", help="store location (default: QA_BOT_STORE_DIR or the user data dir)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("setup", help="prepare the default models (once; shows progress)")

    ing = sub.add_parser("ingest", help="ingest a file or folder of articles (.txt, .md, .jsonl)")
    ing.add_argument("path")
    ing.add_argument("--json", action="store_true", help="print the report as JSON")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")

    ask = sub.add_parser("ask", help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the answer and citations as JSON")
    ask.add_argument("-k", type=int, help="passages given to the model")
    ask.add_argument("--source", action="append", default=[], help="only this source (repeatable)")
    ask.add_argument("--since", type=date.fromisoformat, help="published on or after YYYY-MM-DD")
    ask.add_argument("--until", type=date.fromisoformat, help="published on or before YYYY-MM-DD")

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
    from qa_bot.models import ModelError
    from qa_bot.store import StoreError

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


def _setup(args, settings) -> int:
    from qa_bot.models import load_embeddings, prepare_default_gguf

    load_embeddings(settings)
    if not settings.llm_base_url and settings.llm_model_path is None:
        prepare_default_gguf(settings)
    print("models ready")
    return 0


def _ingest(args, settings) -> int:
    from ingest.loaders import LoadError
    from ingest.pipeline import ingest_path

    try:
        report = ingest_path(args.path, settings, show_progress=not args.quiet and not args.json)
    except LoadError as exc:
        print(f"qa-bot: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.render())
    return 0


def _ask(args, settings) -> int:
    from qa_bot import QABot, SearchFilters

    if not args.question.strip():
        print(
            'qa-bot: the question is empty: ask something, e.g. qa-bot ask "Siapa Sekjen NATO?"',
            file=sys.stderr,
        )
        return 2
    bot = QABot.from_settings(settings, require_documents=True)
    filters = SearchFilters(tuple(args.source), args.since, args.until)
    answer = bot.ask(args.question, filters=filters, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(answer.text)
    for c in answer.citations:
        meta = ", ".join(x for x in (c.source, c.published[:10], c.url) if x)
        print(f"\n[{c.number}] {c.title}" + (f" ({meta})" if meta else ""))
        # The supporting sentence(s); the whole passage is in --json.
        print("    “" + " ".join(c.quote.split()) + "”")
    return 0


def _serve(args, settings) -> int:
    from ui.app import launch

    if args.corpus:
        settings = settings.model_copy(update={"corpus_dir": Path(args.corpus)})
    launch(settings, host=args.host, port=args.port)
    return 0


_COMMANDS = {"setup": _setup, "ingest": _ingest, "ask": _ask, "serve": _serve}

if __name__ == "__main__":
    sys.exit(main())
