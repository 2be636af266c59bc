"""Scale benchmark: how the cost of ingest and retrieval grows with the archive (issue 18).

Not a test: it prints figures and never gates anything. A synthetic archive is grown in
steps (default 10k, 50k, 100k, 200k articles) in one work folder; at each step the store
is grown to N articles by a bulk ingest, then each phase runs in its own process, so its
memory is its own:

a. ``qa-bot ingest <folder>`` (the real CLI and model) on the unchanged folder, run twice:
   the first run after the bulk ingest reads the store from disk ("cold"), the second is
   the figure (an hourly feed poll finds the store in the page cache);
b. the same after adding one new 2-sentence article (the issue's target: at most 1.0 s
   more than (a) at 100k articles, and (a) under 3 s);
c. the same after adding 100 new articles (one JSONL file);
d. hybrid retrieval (``HybridRetriever.retrieve``) of 50 real FacQA/TyDi valid questions
   in a process that loads the store as the app does, and that process's memory;
e. the store's size on disk and its parts; f. chunks, bytes per chunk.

The one-article and 100-article files are removed again after (c) and the store is brought
back to N articles by an ingest (timed as "remove 101"), so every step measures an archive
of exactly N articles.

The archive: articles recombined from the real sentences of IndoSum, FacQA and TyDi QA
(4-12 sentences each, a title from the first, an outlet from a short list, a date spread
over 2025), seeded, so every run builds the same archive; step n's articles are a prefix
of step n+1's. Each sampled sentence has a quarter of its words swapped for words drawn
from the same corpora (``--mutate``): 83k sentences drawn 1.6 million times would otherwise
make every sentence recur in ~20 articles, and the near-duplicate finder
(``qa_bot/corpus/duplicates.py``), which counts shared word 5-grams pair by pair, would
measure an artefact of the recombination, not an archive of distinct stories.

An unchanged run loads no embedding model (nothing to embed), so (b)'s model load is
reported and taken out of the difference (b)-(a) as the issue asks (process start and
model load cancel out).

The bulk ingest does not pay for the embedding model: its embedder returns seeded random
unit vectors (384 dimensions, e5-small's) while claiming the real model's name, so later
``qa-bot ingest`` runs with the real model are accepted by the store. The stored vectors
are random, so retrieval figures measure cost, never quality.

Resumable: the state is kept in ``<work>/state.json``; a step whose store is complete is
reused, and a step already measured is reported from the state (``--remeasure`` measures
the last built step again). Nothing outside ``--work`` is ever deleted.

    python benchmarks/scale.py --data ../shared/data                  # 10k .. 200k (hours)
    python benchmarks/scale.py --data ../shared/data --steps 500,2000 # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench import status_kb  # noqa: E402
from qa_bot.config import apply_offline_env, get_settings  # noqa: E402

apply_offline_env()

DEFAULT_STEPS = "10000,50000,100000,200000"
PER_FILE = 1000  # articles per JSONL file of the archive
DIM = 384  # multilingual-e5-small
VECTOR_BYTES = DIM * 4  # one float32 vector: what "the vectors themselves" cost per chunk
SEED = 18  # the number
OUTLETS = ("Antara", "Kompas", "Tempo", "Detik", "CNN Indonesia", "Kumparan", "Republika", "Liputan6")
FIRST_DAY = dt.date(2025, 1, 1)
EXTRA_ONE = "zz-extra-one.jsonl"
EXTRA_HUNDRED = "zz-extra-hundred.jsonl"
QUESTIONS = 50
STATE_VERSION = 1
RANDOM_NOTE = (
    "bulk vectors are seeded random unit vectors (not e5's): retrieval figures measure cost, not quality"
)


# ---- memory ----------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:
        return found  # the process ended
    for task in tasks:
        try:
            found.extend(int(c) for c in task.read_text().split())
        except OSError:
            continue  # the thread ended while being listed
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], children(pid)
    while todo:
        c = todo.pop()
        out.append(c)
        todo.extend(children(c))
    return out


def own_peak_mb() -> float:
    """This process's peak RSS plus its live children's."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round((own + sum(status_kb(c, "VmHWM") for c in descendants(os.getpid()))) / 1024, 1)


class PhaseFailed(Exception):
    """A phase's process failed or was stopped (over the memory limit); the message says which."""


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def run_measured(cmd: Sequence[str], env: dict, log: Path | None, limit_mb: float) -> dict:
    """Run ``cmd`` (output to ``log``; ``None``: to our stderr, for progress): wall time and
    peak RSS of it plus its children.

    The process's own peak comes from ``wait4`` (exact); its children's from their VmHWM,
    sampled every 50 ms while they live (a child shorter than that can be missed). The
    process and its children are killed (by their ids) when together they hold more than
    ``limit_mb`` or the machine has under 1 GB left: the store's memory grows with it,
    and the machine is shared.
    """
    started = time.perf_counter()
    out = log.open("w") if log is not None else None
    try:
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=out or sys.stderr, stderr=subprocess.STDOUT if out else None
        )
        seen: dict[int, int] = {}
        stopped: list[str] = []
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                tree = descendants(proc.pid)
                for c in tree:
                    seen[c] = max(seen.get(c, 0), status_kb(c, "VmHWM"))
                held = sum(status_kb(p, "VmRSS") for p in (proc.pid, *tree)) / 1024
                left = mem_available_mb()
                if held > limit_mb or left < 1024:
                    stopped.append(
                        f"stopped at {held:,.0f} MB RSS (limit {limit_mb:,.0f} MB, {left:,.0f} MB left on "
                        "the machine)"
                    )
                    for p in (*reversed(tree), proc.pid):
                        try:
                            os.kill(p, 9)
                        except OSError:
                            pass  # already gone
                    return
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if out is not None:
            out.close()
    if stopped or proc.returncode != 0:
        why = stopped[0] if stopped else f"exit status {proc.returncode}"
        if proc.returncode == -9 and not stopped:
            why += " (SIGKILL: the kernel's out-of-memory killer?)"
        tail = ""
        if log is not None:
            last = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-15:])
            tail = f"; the end of {log}:\n{last}" if last.strip() else ""
        raise PhaseFailed(
            f"{Path(cmd[0]).name} {' '.join(map(str, cmd[1:3]))} failed after {seconds:.0f} s, {why}{tail}"
        )
    own_mb = usage.ru_maxrss / 1024
    children_mb = sum(seen.values()) / 1024
    return {
        "seconds": round(seconds, 3),
        "peak_rss_mb": round(own_mb + children_mb, 1),
        "own_peak_rss_mb": round(own_mb, 1),
        "children_peak_rss_mb": round(children_mb, 1),
        "children_seen": len(seen),
    }


def machine() -> dict:
    cpu = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), ""
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    if not cpu:
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            platform.processor() or platform.machine(),
        )
    import chromadb

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "chromadb": chromadb.__version__,
    }


# ---- the synthetic archive -------------------------------------------------------------------
class Archive:
    """Articles recombined from the real sentences of the shared corpora, seeded.

    Article ``i`` depends only on the seed and its file (``i // PER_FILE``), so files can be
    written in any order and a step's articles are a prefix of the next step's.
    """

    def __init__(self, data: Path, seed: int, mutate: float) -> None:
        from qa_bot.text import sentence_spans

        self.seed, self.mutate = seed, mutate
        seen: set[str] = set()
        pool: list[str] = []
        for name in ("indosum", "facqa", "tydiqa_id"):
            with (data / name / "corpus.jsonl").open(encoding="utf-8") as f:
                for line in f:
                    for para in json.loads(line)["text"].split("\n"):
                        for a, b in sentence_spans(para):
                            s = " ".join(para[a:b].split())
                            if len(s.split()) >= 4 and s not in seen:
                                seen.add(s)
                                pool.append(s)
        self.pool = pool
        # Replacement words, drawn from the running text: the corpora's word frequencies.
        self.words = [w for s in pool for w in s.split()]

    def _mutated(self, rng: np.random.Generator, sentence: str) -> str:
        words = sentence.split()
        if self.mutate <= 0:
            return sentence
        swap = np.flatnonzero(rng.random(len(words)) < self.mutate)
        for i, j in zip(swap, rng.integers(0, len(self.words), len(swap)), strict=True):
            words[i] = self.words[j]
        return " ".join(words)

    def _article(self, rng: np.random.Generator, article_id: str, n_sentences: int) -> dict:
        picks = rng.integers(0, len(self.pool), n_sentences)
        sentences = [self._mutated(rng, self.pool[i]) for i in picks]
        # Paragraphs of 1-3 sentences, separated by blank lines as in IndoSum.
        paragraphs, i = [], 0
        while i < len(sentences):
            n = int(rng.integers(1, 4))
            paragraphs.append(" ".join(sentences[i : i + n]))
            i += n
        title_words = sentences[0].rstrip(".!?").split()[:12]
        day = FIRST_DAY + dt.timedelta(days=int(rng.integers(0, 365)))
        return {
            "id": article_id,
            "title": " ".join(title_words),
            "source": OUTLETS[int(rng.integers(0, len(OUTLETS)))],
            "published": day.isoformat(),
            "text": "\n\n".join(paragraphs),
        }

    def file_rows(self, k: int) -> list[dict]:
        """The ``PER_FILE`` articles of archive file ``k``."""
        rng = np.random.default_rng([self.seed, k])
        return [
            self._article(rng, f"scale-{k * PER_FILE + j:07d}", int(rng.integers(4, 13)))
            for j in range(PER_FILE)
        ]

    def extra_one(self) -> list[dict]:
        """The one new article of phase (b): two sentences."""
        return [self._article(np.random.default_rng([self.seed, 10**6]), "scale-extra-one", 2)]

    def extra_hundred(self) -> list[dict]:
        """The 100 new articles of phase (c)."""
        rng = np.random.default_rng([self.seed, 10**6 + 1])
        return [self._article(rng, f"scale-extra-{j:03d}", int(rng.integers(4, 13))) for j in range(100)]


def text_digest(row: dict) -> bytes:
    return hashlib.blake2b(row["text"].encode(), digest_size=12).digest()


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    tmp.rename(path)


def file_name(k: int) -> str:
    return f"part-{k:05d}.jsonl"


def grow_archive(archive: Archive, folder: Path, n: int, state: dict, save: Callable[[], None]) -> None:
    """Make ``folder`` hold exactly articles 0..n-1 (files of ``PER_FILE``; the last may be
    partial), every article unique (checked over the whole archive and the extras)."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = state.setdefault("files", {})
    digests: set[bytes] = {text_digest(r) for r in archive.extra_one() + archive.extra_hundred()}
    assert len(digests) == 101, "the extra articles are not unique"
    started = time.perf_counter()
    n_files = -(-n // PER_FILE)
    for k in range(n_files):
        want = min(PER_FILE, n - k * PER_FILE)
        path = folder / file_name(k)
        rows = archive.file_rows(k)[:want]
        if files.get(path.name) != want or not path.is_file():
            write_jsonl(path, rows)
            files[path.name] = want
            save()
        for r in rows:
            d = text_digest(r)
            assert d not in digests, f"article {r['id']} repeats an earlier article's text"
            digests.add(d)
        if (k + 1) % 20 == 0 or k + 1 == n_files:
            rate = (k + 1) * PER_FILE / max(time.perf_counter() - started, 1e-9)
            say(f"  archive: {min(n, (k + 1) * PER_FILE):,} / {n:,} articles ready ({rate:,.0f}/s)")
    assert len(digests) == n + 101
    stray = sorted(
        p.name for p in folder.glob("part-*.jsonl") if p.name not in {file_name(k) for k in range(n_files)}
    )
    assert not stray, f"{folder} holds files beyond the step ({stray[:3]}): use --fresh"


# ---- the embedder of the bulk ingest -------------------------------------------------------------
class RandomEmbedder:
    """Seeded random unit vectors of e5-small's dimension, one per text (the same text always
    gets the same vector), under the real default model's name so the store accepts the real
    model afterwards. The vectors are random: retrieval over them measures cost, not quality.
    """

    def __init__(self, name: str, dim: int = DIM) -> None:
        self.name = name
        self.dim = dim

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype("float32")
        return v / np.linalg.norm(v)

    def embed_query(self, text: str) -> list[float]:
        return self._vector("query: " + text).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def encode_passages(
        self, texts: Sequence[str], on_batch: Callable[[int], object] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for i, t in enumerate(texts):
            out[i] = self._vector("passage: " + t)
        if on_batch and len(texts):
            on_batch(len(texts))
        return out


# ---- the phases run in child processes -----------------------------------------------------------
def child_bulk(work: Path, out: Path) -> None:
    """Ingest the archive folder with the random embedder (progress on stderr)."""
    from ingest.pipeline import ingest_path
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.models.embeddings import embedding_name

    settings = get_settings(store_dir=work / "store")
    embedder = RandomEmbedder(embedding_name(settings))
    t0 = time.perf_counter()
    store = ChunkStore.from_settings(settings, embedder.name)
    open_s = time.perf_counter() - t0
    marks: list[float] = []

    def progress(done: int, total: int, label: str) -> None:
        marks.append(time.perf_counter())

    report = ingest_path(
        work / "articles", settings, embedder=embedder, store=store, progress=progress, show_progress=True
    )
    end = time.perf_counter()
    figures = {
        "seconds": round(end - t0, 3),
        "open_store_s": round(open_s, 3),
        "added": len(report.added),
        "updated": len(report.updated),
        "removed": len(report.removed),
        "unchanged": len(report.unchanged),
        "skipped": [list(map(str, s)) for s in report.skipped],
        "chunks_written": report.chunks_written,
        "chunks": store.count(),
        "peak_rss_mb": own_peak_mb(),
    }
    if marks:
        # Reading, chunking and diffing before the first write; writing; then the keyword
        # index (with near-duplicates) and the commit after the last.
        first_group_s = marks[0] - t0
        figures["before_writes_s"] = round(first_group_s, 3)
        figures["writes_s"] = round(marks[-1] - marks[0], 3)
        figures["after_writes_s"] = round(end - marks[-1], 3)
    out.write_text(json.dumps(figures, indent=2))


def child_serve(work: Path, out: Path, questions: list[str]) -> None:
    """The serving app's view: the bot loaded as the app does, retrieval timed, memory."""
    from qa_bot import QABot

    settings = get_settings(store_dir=work / "store")
    figures: dict = {}
    t0 = time.perf_counter()
    bot = QABot.from_settings(settings, load_llm=False)
    figures["load_s"] = round(time.perf_counter() - t0, 3)
    figures["rss_after_load_mb"] = round(status_kb(os.getpid(), "VmRSS") / 1024, 1)
    retriever = bot.retriever
    t0 = time.perf_counter()
    retriever.retrieve(questions[0], settings.k)  # loads the keyword index
    figures["first_query_s"] = round(time.perf_counter() - t0, 3)
    figures["rss_after_first_query_mb"] = round(status_kb(os.getpid(), "VmRSS") / 1024, 1)
    times = []
    for _ in range(2):
        for q in questions:
            t = time.perf_counter()
            retriever.retrieve(q, settings.k)
            times.append(1000 * (time.perf_counter() - t))
    figures["retrieval_ms"] = [round(t, 2) for t in times]
    figures["p50_ms"] = round(statistics.median(times), 2)
    figures["p95_ms"] = round(pct(times, 95), 2)
    figures["rss_after_queries_mb"] = round(status_kb(os.getpid(), "VmRSS") / 1024, 1)
    # File-backed pages (memory-mapped segments, libraries) can be dropped and re-read by
    # the kernel; anonymous ones (Chroma's vector index, Python objects) cannot.
    figures["rss_anon_after_queries_mb"] = round(status_kb(os.getpid(), "RssAnon") / 1024, 1)
    figures["rss_file_after_queries_mb"] = round(status_kb(os.getpid(), "RssFile") / 1024, 1)
    figures["peak_rss_mb"] = own_peak_mb()
    figures["chunks"] = retriever.store.count()
    figures["keyword_index_chunks"] = retriever.snapshot().chunks
    out.write_text(json.dumps(figures, indent=2))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def load_questions(data: Path, n: int = QUESTIONS) -> list[str]:
    """The first ``n / 2`` valid questions of FacQA and of TyDi QA (real questions)."""
    out: list[str] = []
    for name in ("facqa", "tydiqa_id"):
        with (data / name / "qa.jsonl").open(encoding="utf-8") as f:
            rows = [r for r in map(json.loads, f) if r.get("split") == "valid"]
        out += [" ".join(r["question"].split()) for r in rows[: n // 2]]
    return out


# ---- the driver --------------------------------------------------------------------------------
def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def du(path: Path) -> int:
    """Bytes on disk (allocated blocks, as ``du``) of a file or folder."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def disk_figures(store: Path) -> dict:
    chroma = store / "chroma"
    sqlite = du(chroma / "chroma.sqlite3") + sum(du(p) for p in chroma.glob("chroma.sqlite3-*"))
    chroma_all = du(chroma)
    keyword = du(store / "index") if (store / "index").is_dir() else 0
    total = du(store)
    return {
        "total_bytes": total,
        "chroma_bytes": chroma_all,
        "chroma_sqlite_bytes": sqlite,
        "chroma_vector_index_bytes": chroma_all - sqlite,
        "keyword_index_bytes": keyword,
        "other_bytes": total - chroma_all - keyword,
    }


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.work.resolve()
        self.articles = self.work / "articles"
        self.store = self.work / "store"
        self.logs = self.work / "logs"
        self.state_path = self.work / "state.json"
        self.state: dict = {}
        self.env = {**os.environ, "QA_BOT_STORE_DIR": str(self.store)}
        self.env.pop("QA_BOT_CHROMA_HOST", None)
        total_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
        self.limit_mb = args.max_rss_gb * 1024 if args.max_rss_gb else 0.75 * total_mb

    # -- safety and state
    def remove(self, path: Path) -> None:
        """Delete ``path``, which must lie inside the work folder."""
        path = path.resolve() if path.exists() else path
        if self.work not in path.parents:
            raise RuntimeError(f"refusing to delete {path}: outside {self.work}")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    def open_state(self) -> None:
        fixed = {
            "version": STATE_VERSION,
            "seed": self.args.seed,
            "mutate": self.args.mutate,
            "per_file": PER_FILE,
        }
        if self.work.exists() and not self.state_path.exists() and any(self.work.iterdir()):
            raise SystemExit(f"{self.work} is not empty and holds no state.json: choose another --work")
        if self.args.fresh and self.state_path.exists():
            say(f"--fresh: deleting the archive, store and state in {self.work}")
            for p in (self.articles, self.store, self.logs, self.state_path):
                self.remove(p)
            for p in self.work.glob("phase-*.json"):
                self.remove(p)
        self.work.mkdir(parents=True, exist_ok=True)
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
            if {k: self.state.get(k) for k in fixed} != fixed:
                raise SystemExit(
                    f"{self.state_path} was made with other settings "
                    f"({ {k: self.state.get(k) for k in fixed} }): "
                    "use the same --seed/--mutate, another --work, or --fresh"
                )
        else:
            self.state = {**fixed, "store_articles": 0, "files": {}, "steps": {}}
            self.save()
        self.logs.mkdir(exist_ok=True)

    def save(self) -> None:
        tmp = self.state_path.with_name(".state.json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.rename(self.state_path)

    def child(self, phase: str, log_name: str | None = None, inherit: bool = False) -> dict:
        """Run one phase of this script in a child process; its figures."""
        out = self.work / f"phase-{phase}.json"
        if out.exists():
            self.remove(out)
        cmd = [
            sys.executable,
            __file__,
            "--run",
            phase,
            "--work",
            str(self.work),
            "--data",
            str(self.args.data),
        ]
        log = None if inherit else self.logs / (log_name or f"{phase}.log")  # None: progress on stderr
        measured = run_measured(cmd, self.env, log, self.limit_mb)
        figures = {**json.loads(out.read_text()), "wall_s": measured["seconds"]}
        self.remove(out)
        return figures

    def cli_ingest(self, log_name: str) -> dict:
        """``qa-bot ingest <articles>`` as a user runs it: wall time and peak RSS, and the
        report's counts and own seconds (without interpreter start and imports)."""
        exe = Path(sys.executable).parent / "qa-bot"
        log = self.logs / log_name
        figures = run_measured([str(exe), "ingest", str(self.articles)], self.env, log, self.limit_mb)
        text = log.read_text(errors="replace")
        found = re.search(
            r"^Ingest: added (\d+), updated (\d+), unchanged (\d+), removed (\d+), skipped (\d+) "
            r"\((\d+) chunks written, (\d+) deleted, ([\d.]+) s"
            r"(?:, ([\d.]+) s of it loading the embedding model)?\)",
            text,
            re.MULTILINE,
        )
        if found is None:
            raise RuntimeError(f"no ingest report in {log}")
        names = ("added", "updated", "unchanged", "removed", "skipped", "chunks_written", "chunks_deleted")
        figures["report"] = dict(zip(names, map(int, found.groups()[:7]), strict=True))
        figures["report_seconds"] = float(found.group(8))
        figures["model_seconds"] = float(found.group(9) or 0)
        return figures

    # -- one step
    def bulk(self, n: int, label: str) -> dict:
        say(
            f"[{n:,}] bulk ingest ({label}) with random vectors: "
            "reading and diffing the whole folder, then writing"
        )
        figures = self.child("bulk", inherit=True)
        if figures["skipped"]:
            raise RuntimeError(f"the bulk ingest skipped files: {figures['skipped'][:3]}")
        new = figures["added"]
        per_k = figures["seconds"] / new * 1000 if new else 0.0
        say(
            f"[{n:,}] bulk ingest: +{new:,} -{figures['removed']:,} articles, "
            f"{figures['chunks']:,} chunks in "
            f"{figures['seconds']:.1f} s"
            + (f" ({per_k:.1f} s per 1,000 new articles)" if new else "")
            + f", peak RSS {figures['peak_rss_mb']:,.0f} MB"
        )
        return figures

    def clear_extras(self) -> bool:
        found = False
        for name in (EXTRA_ONE, EXTRA_HUNDRED):
            if (self.articles / name).exists():
                self.remove(self.articles / name)
                found = True
        return found

    def step(self, n: int, archive: Archive) -> dict:
        key = str(n)
        have = self.state["store_articles"]
        if key in self.state["steps"] and not (self.args.remeasure and have == n):
            say(f"[{n:,}] measured before: reported from {self.state_path}")
            return self.state["steps"][key]
        if have > n:
            raise SystemExit(
                f"the store in {self.work} already holds {have:,} articles, more than step {n:,}: "
                "steps grow one store, so measure smaller steps in another --work (or use --fresh)"
            )
        say(f"[{n:,}] archive: writing/checking {n:,} articles in {self.articles}")
        grow_archive(archive, self.articles, n, self.state, self.save)
        extras_left = self.clear_extras()  # a run killed mid-step may have left them
        result: dict = {"articles": n}
        if have != n or extras_left or not self.state.get("store_complete"):
            self.state["store_complete"] = False
            self.save()
            bulk = self.bulk(n, "growing the store")
            self.state.update(store_articles=n, store_complete=True)
            records = self.state.setdefault("bulk", {})
            if bulk["added"] or key not in records:
                records[key] = bulk  # a repair run (nothing added) keeps the growth figures
            self.save()
        result["bulk"] = self.state.get("bulk", {}).get(key)
        ex_one, ex_hundred = archive.extra_one(), archive.extra_hundred()

        say(f"[{n:,}] (a) qa-bot ingest, folder unchanged (a first run warms the page cache)")
        result["unchanged_cold"] = self.cli_ingest(f"step-{n}-a-unchanged-cold.log")
        say(f"      cold: {result['unchanged_cold']['seconds']:.2f} s")
        result["unchanged"] = self.cli_ingest(f"step-{n}-a-unchanged.log")
        say(
            f"      {result['unchanged']['seconds']:.2f} s, peak {result['unchanged']['peak_rss_mb']:,.0f} MB"
        )
        say(f"[{n:,}] (b) qa-bot ingest after adding one 2-sentence article")
        write_jsonl(self.articles / EXTRA_ONE, ex_one)
        self.state["store_complete"] = False
        self.save()
        result["one_new"] = self.cli_ingest(f"step-{n}-b-one-new.log")
        assert result["one_new"]["report"].get("added") == 1, result["one_new"]["report"]
        say(f"      {result['one_new']['seconds']:.2f} s, peak {result['one_new']['peak_rss_mb']:,.0f} MB")
        say(f"[{n:,}] (c) qa-bot ingest after adding 100 articles")
        write_jsonl(self.articles / EXTRA_HUNDRED, ex_hundred)
        result["hundred_new"] = self.cli_ingest(f"step-{n}-c-hundred-new.log")
        assert result["hundred_new"]["report"].get("added") == 100, result["hundred_new"]["report"]
        say(
            f"      {result['hundred_new']['seconds']:.2f} s, "
            f"peak {result['hundred_new']['peak_rss_mb']:,.0f} MB"
        )
        self.clear_extras()
        removal = self.bulk(n, "removing the 101 added articles again")
        assert removal["removed"] == 101 and removal["added"] == 0, removal
        result["remove_extras"] = {k: removal[k] for k in ("seconds", "removed", "chunks", "peak_rss_mb")}
        self.state["store_complete"] = True
        self.save()

        say(f"[{n:,}] (d) retrieval of {QUESTIONS} questions x2 in a serving process")
        result["serve"] = self.child("serve", f"step-{n}-d-serve.log")
        s = result["serve"]
        say(
            f"      p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, "
            f"RSS {s['rss_after_queries_mb']:,.0f} MB"
        )
        result["disk"] = disk_figures(self.store)
        chunks = s["chunks"]
        result["chunks"] = chunks
        result["serve_rss_bytes_per_chunk"] = (
            round(s["rss_after_queries_mb"] * 2**20 / chunks) if chunks else None
        )
        result["disk_bytes_per_chunk"] = round(result["disk"]["total_bytes"] / chunks) if chunks else None
        result["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.state["steps"][key] = result
        self.save()
        return result

    def run(self, steps: list[int]) -> None:
        self.open_state()
        info = machine()
        started = dt.datetime.now(dt.UTC)
        say(f"scale benchmark, {started:%Y-%m-%d %H:%M} UTC; {info['cpu']}, {info['cores']} cores")
        say(f"NOTE: {RANDOM_NOTE}")
        say("loading the sentence pool")
        archive = Archive(self.args.data, self.args.seed, self.args.mutate)
        say(f"  {len(archive.pool):,} distinct sentences, {len(archive.words):,} words")
        questions = load_questions(self.args.data)
        (self.work / "questions.json").write_text(json.dumps(questions, ensure_ascii=False, indent=1))
        results, failed = [], None
        for n in steps:
            try:
                results.append(self.step(n, archive))
            except PhaseFailed as exc:
                failed = {"articles": n, "error": str(exc)}
                say(f"[{n:,}] FAILED, the steps from here on are not measured: {exc}")
                self.state.setdefault("failed", {})[str(n)] = failed
                self.save()
                break
            self.state.get("failed", {}).pop(str(n), None)
            warn = memory_outlook(results, steps, self.limit_mb)
            if warn:
                say(warn)
        doc = {
            "date": started.isoformat(timespec="seconds"),
            "machine": info,
            "seed": self.args.seed,
            "mutate": self.args.mutate,
            "pool_sentences": len(archive.pool),
            "note": RANDOM_NOTE,
            "extras": "the 1- and 100-article additions are removed again after (c) by an ingest "
            "(remove_extras), so each step measures exactly N articles",
            "questions": questions,
            "steps": results,
            "failed": failed,
            "memory_limit_mb": round(self.limit_mb),
        }
        if not results:
            (self.work / "scale.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
            raise SystemExit(f"no step measured: {failed['error'] if failed else ''}")
        (self.work / "scale.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
        md = render(doc)
        (self.work / "scale.md").write_text(md + "\n")
        print(md)
        plot(results, self.work / "scale.png")
        say(f"written: {self.work / 'scale.md'}, {self.work / 'scale.json'}, {self.work / 'scale.png'}")


# ---- output --------------------------------------------------------------------------------
def memory_outlook(results: list[dict], steps: list[int], limit_mb: float) -> str | None:
    """A warning when the peak ingest memory, extrapolated per chunk from the last two steps,
    would pass the limit at the next step (the phase would be stopped there)."""
    if len(results) < 2 or len(results) >= len(steps):
        return None
    p, q = results[-2], results[-1]
    peak = max(q["one_new"]["peak_rss_mb"], (q["bulk"] or {}).get("peak_rss_mb", 0))
    base = max(p["one_new"]["peak_rss_mb"], (p["bulk"] or {}).get("peak_rss_mb", 0))
    per_chunk = (peak - base) / max(1, q["chunks"] - p["chunks"])
    per_article = q["chunks"] / q["articles"]
    nxt = steps[len(results)]
    guess = peak + per_chunk * per_article * (nxt - q["articles"])
    if guess <= limit_mb:
        return None
    return (
        f"WARNING: ingest memory grows {per_chunk * 1024:,.0f} KB per chunk; at {nxt:,} articles it would "
        f"reach ~{guess / 1024:,.1f} GB, over the {limit_mb / 1024:,.1f} GB limit (--max-rss-gb): that "
        "step will probably be stopped"
    )


def serving_growth(p: dict, q: dict) -> dict[str, float]:
    """Bytes per chunk the serving process grows from step ``p`` to ``q``, by stage: the bot
    loaded (embedding model, a constant, and the store: Chroma loads its vector index), the
    corpus index loaded by the first question, then the 100 timed questions."""
    chunks = q["chunks"] - p["chunks"]

    def per_chunk(f: Callable[[dict], float]) -> float:
        return (f(q["serve"]) - f(p["serve"])) * 2**20 / chunks

    store = per_chunk(lambda s: s["rss_after_load_mb"])
    index = per_chunk(lambda s: s["rss_after_first_query_mb"] - s["rss_after_load_mb"])
    questions = per_chunk(lambda s: s["rss_after_queries_mb"] - s["rss_after_first_query_mb"])
    return {"total": store + index + questions, "store": store, "index": index, "questions": questions}


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f}"


def render(doc: dict) -> str:
    m = doc["machine"]
    lines = [
        f"# Scale benchmark, {doc['date'][:16].replace('T', ' ')} UTC",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}, "
        f"chromadb {m['chromadb']}.",
        f"Archive: seed {doc['seed']}, articles of 4-12 sentences from {doc['pool_sentences']:,} "
        f"real sentences (IndoSum, FacQA, TyDi), {doc['mutate']:.0%} of words swapped. "
        f"{doc['note'][0].upper()}{doc['note'][1:]}. {doc['extras'][0].upper()}{doc['extras'][1:]}.",
        "",
        "| articles | chunks | bulk s (s/1k new) | (a) unchanged s (in ingest_path) / peak MB "
        "| (b) +1 article s (in ingest_path) / peak MB | (b)-(a) s (without (b)'s model load) "
        "| (c) +100 s | remove 101 s | retrieval p50 / p95 ms | serve RSS load / after MB | disk MB "
        "(chroma sqlite + hnsw / corpus index / other) | B/chunk RSS / disk |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in doc["steps"]:
        b, a, one, hun, s, d = (
            (r["bulk"] or {}),
            r["unchanged"],
            r["one_new"],
            r["hundred_new"],
            r["serve"],
            r["disk"],
        )
        per_k = f"{b['seconds'] / b['added'] * 1000:.1f}" if b.get("added") else "-"
        lines.append(
            f"| {r['articles']:,} | {r['chunks']:,} | {b.get('seconds', 0):,.0f} ({per_k}) "
            f"| {a['seconds']:.2f} ({a['report_seconds']:.1f}) / {a['peak_rss_mb']:,.0f} "
            f"| {one['seconds']:.2f} ({one['report_seconds']:.1f}) / {one['peak_rss_mb']:,.0f} "
            f"| {one['seconds'] - a['seconds']:+.2f} "
            f"({one['seconds'] - a['seconds'] - one.get('model_seconds', 0):+.2f}) "
            f"| {hun['seconds']:.2f} "
            f"| {r['remove_extras']['seconds']:.1f} "
            f"| {s['p50_ms']:.1f} / {s['p95_ms']:.1f} "
            f"| {s['rss_after_load_mb']:,.0f} / {s['rss_after_queries_mb']:,.0f} "
            f"| {mb(d['total_bytes'])} ({mb(d['chroma_sqlite_bytes'])} "
            f"+ {mb(d['chroma_vector_index_bytes'])} / "
            f"{mb(d['keyword_index_bytes'])} / {mb(d['other_bytes'])}) "
            f"| {r['serve_rss_bytes_per_chunk']:,} / {r['disk_bytes_per_chunk']:,} |"
        )
    steps = doc["steps"]
    if len(steps) > 1:
        lines += ["", "Growth between steps (per 1,000 more chunks):", ""]
        for p, q in zip(steps, steps[1:], strict=False):
            dc = (q["chunks"] - p["chunks"]) / 1000
            if dc <= 0:
                continue

            def slope(f: Callable[[dict], float], p: dict = p, q: dict = q, dc: float = dc) -> float:
                return (f(q) - f(p)) / dc

            lines.append(
                f"- {p['articles']:,} -> {q['articles']:,}: "
                f"(a) {slope(lambda r: r['unchanged']['seconds']) * 1000:+.1f} ms, "
                f"(b) {slope(lambda r: r['one_new']['seconds']) * 1000:+.1f} ms, "
                f"peak ingest RSS {slope(lambda r: r['one_new']['peak_rss_mb']):+.2f} MB, "
                f"serving RSS {slope(lambda r: r['serve']['rss_after_queries_mb']):+.2f} MB, "
                f"disk {slope(lambda r: r['disk']['total_bytes']) / 2**20:+.2f} MB, "
                f"retrieval p50 {slope(lambda r: r['serve']['p50_ms']):+.3f} ms"
            )
            serve = serving_growth(p, q)
            lines.append(
                f"  serving memory per chunk: {serve['total']:,.0f} B = store opened (Chroma loads its "
                f"vector index) {serve['store']:,.0f} + corpus index and first question "
                f"{serve['index']:,.0f} + 100 questions {serve['questions']:,.0f} "
                f"(the vector itself: {VECTOR_BYTES:,} B)"
            )
    if len(steps) > 1:
        first, end = steps[0], steps[-1]
        serve = serving_growth(first, end)
        lines += [
            "",
            f"Serving memory, {first['articles']:,} -> {end['articles']:,} articles: the serving process "
            f"grows {serve['total']:,.0f} B per chunk. Chroma's vector index takes {serve['store']:,.0f} "
            f"of it (the {VECTOR_BYTES:,} B of each vector, its HNSW links and ids); the corpus index "
            f"and the first question {serve['index']:,.0f}; 100 more questions {serve['questions']:,.0f}.",
        ]
    if doc.get("failed"):
        f = doc["failed"]
        lines += [
            "",
            f"Step {f['articles']:,} FAILED (later steps not measured): {f['error'].splitlines()[0]}",
        ]
    # The targets are set for 100,000 articles: judged there when that step was measured.
    last = next((r for r in steps if r["articles"] == 100_000), steps[-1])
    model = last["one_new"].get("model_seconds", 0)
    gap = last["one_new"]["seconds"] - last["unchanged"]["seconds"] - model
    ok = gap <= 1.0 and last["unchanged"]["seconds"] < 3.0
    lines += [
        "",
        f"Issue 18's target (set for 100,000 articles): (a) under 3 s and (b) at most 1.0 s more, process "
        "start and model load cancelling out. An unchanged run loads no model, so (b)'s model load "
        f"({model:.2f} s) is taken out of the difference. At {last['articles']:,} articles: (a) "
        f"{last['unchanged']['seconds']:.2f} s, (b)-(a) without the model load {gap:+.2f} s: "
        f"{'met' if ok else 'not met'}.",
    ]
    return "\n".join(lines)


def plot(steps: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["articles"] for r in steps]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax = axes[0]
    ax.plot(x, [r["unchanged"]["seconds"] for r in steps], "o-", label="(a) unchanged")
    ax.plot(x, [r["one_new"]["seconds"] for r in steps], "o-", label="(b) one new article")
    ax.plot(x, [r["hundred_new"]["seconds"] for r in steps], "o-", label="(c) 100 new articles")
    ax.axhline(3.0, color="grey", linestyle="--", linewidth=1, label="issue 18: (a) under 3 s")
    ax.set(title="qa-bot ingest (real model)", xlabel="articles in the store", ylabel="wall time (s)")
    ax = axes[1]
    ax.plot(x, [r["serve"]["p50_ms"] for r in steps], "o-", label="p50")
    ax.plot(x, [r["serve"]["p95_ms"] for r in steps], "o-", label="p95")
    ax.set(title="hybrid retrieval (random vectors: cost only)", xlabel="articles in the store", ylabel="ms")
    ax = axes[2]
    ax.plot(x, [r["serve"]["rss_after_queries_mb"] for r in steps], "o-", label="serving RSS after queries")
    ax.plot(x, [r["one_new"]["peak_rss_mb"] for r in steps], "o-", label="ingest peak RSS (b)")
    ax.plot(x, [r["disk"]["total_bytes"] / 2**20 for r in steps], "o-", label="store on disk")
    ax.set(title="memory and disk", xlabel="articles in the store", ylabel="MB")
    for ax in axes:
        ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1000:,.0f}k")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder"
    )
    ap.add_argument(
        "--steps", default=DEFAULT_STEPS, help=f"article counts, ascending (default {DEFAULT_STEPS})"
    )
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/qa-bot-scale"), help="work folder (kept between runs)"
    )
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument(
        "--mutate", type=float, default=0.25, help="share of each sentence's words swapped (see doc)"
    )
    ap.add_argument(
        "--max-rss-gb",
        type=float,
        help="stop a phase whose processes hold more (default: 75%% of the machine's memory)",
    )
    ap.add_argument("--remeasure", action="store_true", help="measure the last built step again")
    ap.add_argument(
        "--fresh", action="store_true", help="delete the archive, store and state in --work first"
    )
    ap.add_argument("--run", choices=("bulk", "serve"), help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.run == "bulk":
        child_bulk(args.work, args.work / "phase-bulk.json")
        return
    if args.run == "serve":
        questions = json.loads((args.work / "questions.json").read_text())
        child_serve(args.work, args.work / "phase-serve.json", questions)
        return
    steps = [int(s.replace("_", "")) for s in args.steps.split(",") if s.strip()]
    if not steps or steps != sorted(set(steps)) or steps[0] <= 0:
        ap.error("--steps must be ascending positive article counts, e.g. 1000,5000")
    Runner(args).run(steps)


if __name__ == "__main__":
    main()
