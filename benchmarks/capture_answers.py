"""Ask a QA set once and keep what the model wrote beside what it read, for tuning the check.

The citation check (``qa_bot.answer.check.claim_check``) runs after the model: its settings can be chosen
offline on captured (question, raw answer, snippets) without asking the model again. Each
line of the output is one question: the QA item, the model's raw text and the snippets it
read (text, article id, title, publication date). Long runs show progress on stderr.

    python -m benchmarks.capture_answers --corpus ../shared/data/facqa/corpus.jsonl \
        --qa ../shared/data/facqa/qa.jsonl --split train --limit 150 --out /tmp/cap-facqa.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", action="append", required=True, help="corpus JSONL or folder (repeatable)")
    p.add_argument("--qa", required=True)
    p.add_argument("--split", default="train", help="split to ask ('all' for every one)")
    p.add_argument("--limit", type=int)
    p.add_argument("--skip", type=int, default=0, help="leave out the first N questions of the split")
    p.add_argument("--answerable-only", action="store_true")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--store-root", default="/tmp/qa-bot-capture", help="stores for the corpora, kept between runs"
    )
    args = p.parse_args(argv)

    from qa_bot.config import apply_offline_env, get_settings

    apply_offline_env()
    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.evaluation import load_qa

    items = load_qa(Path(args.qa), None if args.split == "all" else args.split)[args.skip :]
    if args.answerable_only:
        items = [i for i in items if i.answerable]
    items = items[: args.limit] if args.limit else items
    key = hashlib.sha256("|".join(str(Path(c).resolve()) for c in args.corpus).encode()).hexdigest()[:12]
    settings = get_settings(store_dir=Path(args.store_root) / key, answer_cache=0)
    for corpus in args.corpus:
        print(f"{corpus}: {ingest_path(Path(corpus), settings).summary()}", file=sys.stderr)
    bot = QABot.from_settings(settings)
    bot.warm_up()

    seen: list[tuple] = []
    original = bot.checker.begin

    def capture(question, snippets, language, news):
        stream = original(question, snippets, language, news)
        seen.append((stream, question, snippets, language))
        return stream

    bot.checker.begin = capture  # the check stage sees the model's raw text
    t0 = time.perf_counter()
    with Path(args.out).open("w", encoding="utf-8") as out:
        for n, item in enumerate(items, start=1):
            seen.clear()
            answer = bot.ask(item.question)
            if seen:
                stream, search, snippets, language = seen[-1]
                raw = stream.raw
            else:  # refused before the model (nothing retrieved)
                raw, search, snippets, language = "", item.question, [], answer.language
            row = {
                "item": item.__dict__,
                "search": search,
                "language": language,
                "raw": raw,
                "shown": answer.text,
                "found": answer.found,
                "first_token_s": answer.timings.get("first_token_s"),
                "snippets": [
                    {
                        "text": s.text,
                        "passage": s.passage.text,
                        "start": s.start,
                        "article_id": s.passage.article_id,
                        "title": s.passage.title,
                        "published": s.passage.published,
                        "score": s.score,
                    }
                    for s in snippets
                ],
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            rate = (time.perf_counter() - t0) / n
            print(f"\r{n}/{len(items)} questions, {rate:.1f} s each", end="", file=sys.stderr)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
