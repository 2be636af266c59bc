"""Many people asking at once: concurrent clients on the chat app's API, on loopback.

    python -m benchmarks.load --clients 20 --seconds 180

Starts ``qa-bot serve`` on a free loopback port over a fresh store of ``--corpus``, then
has ``--clients`` clients (each its own gradio_client) ask questions in a loop until
``--seconds`` have passed (a client finishes the question it is waiting for). Halfway, an
article is uploaded and the corpus re-ingested through the app while the questions keep
coming. Reports every request's outcome, latency percentiles, throughput, the server's
memory sampled every 2 s, and whether each question got the same answer every time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The founding article's 18 development questions (two of them it cannot answer): twenty
# clients start on eighteen different model runs.
QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "benchmarks" / "founding_questions.jsonl").read_text().splitlines()
    if line.strip()
]
NEW_ARTICLE = (
    "---\ntitle: Harga cabai naik\nsource: Antara\npublished: 2024-10-28\n---\n"
    "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram. "
    "Pedagang menyebut pasokan dari Jawa Tengah berkurang karena hujan.\n"
)
NEW_QUESTION = "Berapa harga cabai rawit di Pasar Induk Kramat Jati?"


@dataclass
class Outcome:
    client: int
    question: str
    started: float
    seconds: float
    text: str = ""
    error: str = ""
    cached: bool = False


@dataclass
class LoadResult:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0

    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error]

    def latencies(self) -> list[float]:
        return sorted(o.seconds for o in self.outcomes if not o.error)

    def answers(self) -> dict[str, set[str]]:
        by_question: dict[str, set[str]] = {}
        for o in self.outcomes:
            if not o.error:
                by_question.setdefault(o.question, set()).add(o.text)
        return by_question


def ask_load(
    url: str,
    questions: list[str],
    clients: int = 20,
    *,
    seconds: float | None = None,
    rounds: int | None = None,
) -> LoadResult:
    """``clients`` threads asking ``questions`` (client i starts at question i) until
    ``seconds`` have passed or each has asked ``rounds`` questions."""
    from gradio_client import Client

    result = LoadResult()
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds if seconds is not None else None
    gate = threading.Barrier(clients)

    def client(i: int) -> None:
        try:
            api = Client(url, verbose=False)
        except Exception as exc:  # counted, not raised: a lost client is a finding
            with lock:
                result.outcomes.append(Outcome(i, "(connect)", 0.0, 0.0, error=repr(exc)))
            gate.wait()
            return
        gate.wait()  # every client connected: the load starts at once
        n = 0
        while (rounds is None or n < rounds) and (deadline is None or time.monotonic() < deadline):
            question = questions[(i + n) % len(questions)]
            t = time.monotonic()
            outcome = Outcome(i, question, t - start, 0.0)
            try:
                data = api.predict(question, [], "", "", api_name="/ask")
                if "error" in data:
                    outcome.error = str(data["error"])
                else:
                    outcome.text = data["text"]
                    outcome.cached = "cached" in data.get("timings", {})
            except Exception as exc:
                outcome.error = repr(exc)
            outcome.seconds = time.monotonic() - t
            with lock:
                result.outcomes.append(outcome)
            n += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall_seconds = time.monotonic() - start
    return result


def reingest(url: str, name: str, text: str) -> str:
    """Upload an article through the app and re-ingest; returns the app's report."""
    from gradio_client import Client, handle_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text)
        report, *_ = Client(url, verbose=False).predict([handle_file(str(path))], api_name="/reingest")
    return report


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def rss_mb(pid: int) -> float:
    """Memory in use by ``pid`` and its children (the answer model runs in a worker)."""
    from benchmarks.bench import children, status_kb

    return sum(status_kb(p, "VmRSS") for p in (pid, *children(pid))) / 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", default=str(ROOT / "corpus"), help="corpus folder (copied)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument(
        "--answer-cache", type=int, default=256, help="QA_BOT_ANSWER_CACHE of the server (0 = off)"
    )
    parser.add_argument("--json", help="write the outcomes here")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="qa-bot-load-"))
    corpus = work / "corpus"
    shutil.copytree(args.corpus, corpus)
    qa_bot = Path(sys.executable).with_name("qa-bot")
    env = {
        **os.environ,
        "QA_BOT_STORE_DIR": str(work / "store"),
        "QA_BOT_CORPUS_DIR": str(corpus),
        "QA_BOT_ANSWER_CACHE": str(args.answer_cache),
    }
    subprocess.run([str(qa_bot), "ingest", "--quiet", str(corpus)], env=env, check=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [str(qa_bot), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    try:
        _wait_until_answering(url)
        t0 = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - t0, rss_mb(server.pid)))
                stop.wait(2)

        threading.Thread(target=sample, daemon=True).start()
        ingest_report: list[str] = []

        def ingest_halfway() -> None:
            time.sleep(args.seconds / 2)
            started = time.monotonic()
            ingest_report.append(reingest(url, "cabai.md", NEW_ARTICLE))
            ingest_report.append(f"re-ingest took {time.monotonic() - started:.1f} s")

        ingester = threading.Thread(target=ingest_halfway, daemon=True)
        ingester.start()
        result = ask_load(url, QUESTIONS, args.clients, seconds=args.seconds)
        ingester.join()
        after = ask_load(url, [NEW_QUESTION], 1, rounds=1)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    lat = result.latencies()
    model_lat = sorted(o.seconds for o in result.outcomes if not o.error and not o.cached)
    print(
        f"{args.clients} clients for {args.seconds:.0f} s (ran {result.wall_seconds:.0f} s), "
        f"corpus {args.corpus}"
    )
    cached = sum(o.cached for o in result.outcomes)
    print(
        f"requests: {len(result.outcomes)}, errors: {len(result.errors())}, "
        f"answered from the cache: {cached} (answer cache {args.answer_cache})"
    )
    for o in result.errors()[:5]:
        print(f"  error ({o.question}): {o.error[:200]}")
    print(f"throughput: {len(lat) / result.wall_seconds * 60:.1f} answers/min")
    print(
        "latency s: "
        + ", ".join(f"p{int(q * 100)} {percentile(lat, q):.1f}" for q in (0.5, 0.9, 0.95, 0.99))
        + f", max {max(lat):.1f}"
    )
    if model_lat and len(model_lat) != len(lat):
        print(
            "latency s, answers the model wrote: "
            + ", ".join(f"p{int(q * 100)} {percentile(model_lat, q):.1f}" for q in (0.5, 0.9, 0.95, 0.99))
        )
    rss = [m for _, m in samples]
    if rss:
        print(
            f"server RSS MB: first {rss[0]:.0f}, last {rss[-1]:.0f}, min {min(rss):.0f}, max {max(rss):.0f} "
            f"({len(rss)} samples)"
        )
    distinct = [len(a) for a in result.answers().values()]
    varied = sum(d > 1 for d in distinct)
    print(f"questions asked: {len(distinct)}, with more than one distinct answer: {varied}")
    print("\n".join(ingest_report))
    print(f"after the re-ingest, {NEW_QUESTION!r}: {after.outcomes[0].text or after.outcomes[0].error}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"outcomes": [o.__dict__ for o in result.outcomes], "rss": samples, "ingest": ingest_report},
                ensure_ascii=False,
                indent=1,
            )
        )
    return 1 if result.errors() else 0


def _wait_until_answering(url: str, timeout: float = 600) -> None:
    """Until the app is up and its bot is loaded (the first answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = ask_load(url, QUESTIONS[:1], 1, rounds=1)
            if not result.errors():
                return
        except Exception:
            pass
        time.sleep(2)
    raise SystemExit(f"the app at {url} did not answer within {timeout:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
