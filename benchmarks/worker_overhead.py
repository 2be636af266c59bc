"""What the supervised model worker costs: time to first token with the answer model in its
worker process against the same model in the asking process (not a test).

Both bots answer the same questions over the same store, alternately (worker, in-process,
in-process, worker, ...), so a drift in the machine's speed falls on both. The answer cache
is off, so every question runs the model; the prompt prefix is loaded from its saved state
by both, as the app does at start.

    .venv/bin/python -m benchmarks.worker_overhead [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench import machine
from qa_bot.config import apply_offline_env, get_settings

ROOT = Path(__file__).resolve().parents[1]


def first_token_s(bot, question: str) -> tuple[float, str]:
    from qa_bot.types import Token

    t0 = time.perf_counter()
    first = None
    answer = None
    for event in bot.stream(question):
        if isinstance(event, Token) and first is None:
            first = time.perf_counter() - t0
        answer = event
    return (first if first is not None else time.perf_counter() - t0), answer.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked of each bot")
    args = parser.parse_args()
    apply_offline_env()
    from ingest.pipeline import ingest_path
    from qa_bot import QABot

    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "benchmarks" / "founding_questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(store_dir=Path(tmp) / "store", answer_cache=0)
        ingest_path(ROOT / "corpus", settings)
        bots = {
            "worker": QABot.from_settings(settings.model_copy(update={"llm_worker": True})),
            "in-process": QABot.from_settings(settings.model_copy(update={"llm_worker": False})),
        }
        warm = {name: bot.warm_up() for name, bot in bots.items()}
        times: dict[str, list[float]] = {name: [] for name in bots}
        same = 0
        for r in range(args.rounds):
            for i, question in enumerate(questions):
                order = list(bots) if (r + i) % 2 == 0 else list(reversed(bots))
                texts = {}
                for name in order:
                    seconds, texts[name] = first_token_s(bots[name], question)
                    times[name].append(seconds)
                same += texts["worker"] == texts["in-process"]
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"machine: {machine()}")
    print(f"prefix state at start: {warm}")
    print(f"same answer text from both: {same} of {len(questions) * args.rounds}")
    for name, values in times.items():
        p50, mean = statistics.median(values), statistics.fmean(values)
        print(f"{name:11} first token p50 {p50:.3f} s, mean {mean:.3f} s ({len(values)} answers)")
    ratio = statistics.median(times["worker"]) / statistics.median(times["in-process"])
    print(f"worker / in-process, p50: {ratio:.3f}")


if __name__ == "__main__":
    main()
