"""Server mode against real servers on 127.0.0.1: a Chroma server (`chroma run`) for the
store and llama-cpp-python's OpenAI-compatible server with the default model for answers.
The answers must be the ones the embedded mode gives (slow)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FOUNDING, bot_for, free_port

pytestmark = pytest.mark.slow

QUESTIONS = [
    "When does the UN Security Council meet?",
    "Siapa Sekretaris Jenderal NATO?",
    "How many North Korean special forces did South Korean intelligence detect in Russia?",
    "Siapa pemenang Piala Dunia 2022?",
    "What is the capital of France?",
]


def start(command: list[str], ready_url: str, log: Path, timeout: float = 120) -> subprocess.Popen:
    proc = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{command[0]} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"{command[0]} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory):
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    folder = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    proc = start(
        [str(chroma), "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/api/v2/heartbeat",
        folder / "chroma.log",
    )
    yield port
    stop(proc)


def llm_server(tmp_path_factory, settings_factory):
    from qa_bot.models.prepare.gguf import prepare_default_gguf

    gguf = prepare_default_gguf(settings_factory())
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--n_threads", str(settings_factory().llm_threads),
    ]  # fmt: skip
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    return start(command, f"http://127.0.0.1:{port}/v1/models", log), port


@pytest.fixture(scope="module")
def server_settings(chroma_server, tmp_path_factory, settings_factory, embedder):
    from ingest.pipeline import ingest_path

    proc, port = llm_server(tmp_path_factory, settings_factory)
    corpus = tmp_path_factory.mktemp("server-corpus")
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    settings = settings_factory(
        chroma_host="127.0.0.1",
        chroma_port=chroma_server,
        llm_base_url=f"http://127.0.0.1:{port}/v1",
    )
    report = ingest_path(corpus, settings, embedder=embedder)
    assert report.added == [FOUNDING.stem]
    yield settings
    stop(proc)


def answer_of(bot, question: str) -> tuple:
    a = bot.ask(question)
    return a.found, a.text, [(c.article_id, c.quote) for c in a.citations]


def test_server_mode_gives_the_embedded_answers(server_settings, real_bot, embedder):
    from qa_bot.models.chat import load_chat_model
    from qa_bot.models.openai_chat import OpenAIChat

    bot = bot_for(server_settings, embedder, load_chat_model(server_settings))
    assert isinstance(bot.llm, OpenAIChat)
    import chromadb

    served_store = chromadb.HttpClient(host="127.0.0.1", port=server_settings.chroma_port)
    assert served_store.get_collection(server_settings.collection).count() == real_bot.retriever.store.count()
    for question in QUESTIONS:
        served = bot.ask(question)
        local = real_bot.ask(question)
        assert (served.found, served.text, [(c.article_id, c.quote) for c in served.citations]) == (
            local.found,
            local.text,
            [(c.article_id, c.quote) for c in local.citations],
        ), question
        # The refusal threshold decided over HTTP too, from the server's logprobs.
        assert served.refusal_p is not None
        assert served.refusal_p == pytest.approx(local.refusal_p, abs=0.05), question


def test_a_server_without_logprobs_leaves_refusals_to_the_greedy_choice(server_settings, embedder, caplog):
    """Ollama and some others give no logprobs: the probe fails (simulated here; the
    generation is the real server's) and the model's greedy choice decides."""
    from qa_bot.models.chat import load_chat_model

    llm = load_chat_model(server_settings)
    real_create = llm.root_client.chat.completions.create
    calls = []

    def no_logprobs(**kwargs):
        if not kwargs.get("logprobs"):
            return real_create(**kwargs)
        calls.append(kwargs)
        raise RuntimeError("logprobs are not supported")

    object.__setattr__(llm.root_client.chat.completions, "create", no_logprobs)
    bot = bot_for(server_settings, embedder, llm)
    for _ in range(2):
        answer = bot.ask("Siapa Sekretaris Jenderal NATO?")
        assert answer.found and "Mark Rutte" in answer.text and answer.refusal_p is None
    assert len(calls) == 1  # asked once, then not again
    assert "greedy choice decides refusals" in caplog.text


def test_unreachable_chroma_server_is_a_clear_message(settings_factory, embedder):
    from qa_bot.corpus.store import ChunkStore, StoreError

    settings = settings_factory(chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="start it with `chroma run` or unset QA_BOT_CHROMA_HOST"):
        ChunkStore.from_settings(settings, embedder.name)


def test_an_app_machine_follows_ingests_made_on_another_machine_without_reading_every_chunk(
    chroma_server, settings_factory, tmp_path, monkeypatch
):
    """Two machines share one Chroma server: A ingests (its own store folder), B answers
    (another store folder, as on another machine). B builds its corpus index from the server
    once, then follows each ingest of A from the change log and the new records only."""
    import json
    import random

    from ingest.pipeline import ingest_path
    from qa_bot.corpus.index import CorpusIndex
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.models.embeddings import embedder_of
    from qa_bot.search.retrieval import HybridRetriever
    from tests.fakes import WordEmbeddings

    embedder = embedder_of(WordEmbeddings())
    server = {"chroma_host": "127.0.0.1", "chroma_port": chroma_server, "collection": "follow-test"}
    a, b = settings_factory(**server), settings_factory(**server)
    store_a, store_b = ChunkStore.from_settings(a, embedder.name), ChunkStore.from_settings(b, embedder.name)
    sentences = [s.strip() + "." for s in FOUNDING.read_text().split(". ") if len(s) > 40]
    rng = random.Random(4)
    articles = {f"a{i}": " ".join(rng.sample(sentences, 3)) for i in range(8)}
    folder = tmp_path / "corpus"
    folder.mkdir()

    def ingest_on_a():
        lines = [json.dumps({"id": k, "text": v, "source": "Antara"}) for k, v in sorted(articles.items())]
        (folder / "articles.jsonl").write_text("\n".join(lines) + "\n")
        return ingest_path(folder, a, store=store_a, embedder=embedder)

    def results(retriever):
        snap = retriever.snapshot()
        return [
            [(h.chunk_id, round(h.score, 4)) for h in snap.search(q, 10)] for q in ("NATO", "Kursk Korea")
        ], snap

    ingest_on_a()
    reader_b = HybridRetriever(store_b, embedder, b.store_dir)
    first, snap = results(reader_b)
    assert snap.from_catalog and (b.store_dir / "index" / "catalog.sqlite3").exists()
    for _ in range(3):
        # A edits, removes, adds (one a copy of another); B follows without a full read.
        articles["a1"] = " ".join(rng.sample(sentences, 4))
        del articles[sorted(articles)[-1]]
        articles[f"n{rng.randint(0, 10**6)}"] = "JAKARTA - " + articles["a2"]
        assert ingest_on_a().changed
        with monkeypatch.context() as m:
            m.setattr(ChunkStore, "all_chunks", lambda *a, **k: pytest.fail("B read every chunk"))
            got, snap_b = results(reader_b)
        want, snap_a = results(HybridRetriever(store_a, embedder, a.store_dir))
        assert (got, snap_b.copies, snap_b.from_catalog) == (want, snap_a.copies, True)
        assert CorpusIndex(store_b, b.store_dir).verify() is None
    assert got != first
