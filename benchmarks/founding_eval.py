"""Quick answer check on the founding article: benchmarks/founding_questions.jsonl.

A development aid, not the evaluation (that is `qa-bot eval` on public data sets): the
questions are our own, 14 answerable and 4 not. A question counts as answered when the
answer contains one of its expected strings and a citation quotes the supporting
sentence; an unanswerable one counts when the bot says so with no citation.

    python benchmarks/founding_eval.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()


def main() -> None:
    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.types import Token

    rows = [json.loads(line) for line in (ROOT / "benchmarks" / "founding_questions.jsonl").open()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(store_dir=tmp)
        ingest_path(ROOT / "corpus", settings)
        bot = QABot.from_settings(settings)
        bot.warm_up()
        correct = cited = 0
        first_tokens, first_shown = [], []
        # The check stage keeps the model's own text: shown beside the checked answer.
        streams = []
        begin = bot.checker.begin

        def keep(*args, **kwargs):
            streams.append(begin(*args, **kwargs))
            return streams[-1]

        bot.checker.begin = keep
        for row in rows:
            streams.clear()
            for event in bot.stream(row["question"]):
                if not isinstance(event, Token):
                    answer = event
            raw = [streams[-1].raw] if streams else []
            if row["answers"]:
                ok = answer.found and any(a.lower() in answer.text.lower() for a in row["answers"])
                cite_ok = any(row["support"] in c.quote for c in answer.citations)
            else:
                ok = cite_ok = not answer.found and not answer.citations
            correct += ok
            cited += ok and cite_ok
            first_tokens.append(answer.timings.get("first_token_s", 0.0))
            first_shown.append(answer.timings.get("first_shown_s", answer.timings.get("total_s", 0.0)))
            mark = "ok " if ok and cite_ok else "BAD"
            print(
                f"{mark} {row['question']}\n    model: {''.join(raw).strip()}\n    final: {answer.text}"
                f"\n    refusal_p: {answer.refusal_p}"
            )
        n = len(rows)
        print(
            f"\nanswered correctly {correct}/{n}, correctly and with the right citation {cited}/{n}, "
            f"mean time to first token {sum(first_tokens) / n:.2f} s, to the first checked text shown "
            f"{sum(first_shown) / n:.2f} s"
        )


if __name__ == "__main__":
    main()
