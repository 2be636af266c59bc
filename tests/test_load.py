"""20 people asking at once through the app's API while the corpus is re-ingested (real
models, real app on loopback; slow). The minutes-long run with latency percentiles and
memory samples is `python -m benchmarks.load`; its figures are in the README."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from benchmarks.load import NEW_ARTICLE, NEW_QUESTION, ask_load, reingest, rss_mb
from tests.conftest import FOUNDING, bot_for, free_port

pytestmark = pytest.mark.slow

QUESTIONS = [
    "When does the UN Security Council meet?",
    "Siapa Sekretaris Jenderal NATO?",
    "What is the capital of France?",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory, settings_factory, embedder, llm):
    from ingest.pipeline import ingest_path
    from ui.app import CSS, build_app

    corpus = tmp_path_factory.mktemp("load-corpus")
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    settings = settings_factory()
    ingest_path(corpus, settings, embedder=embedder)
    # Asked alone by another bot, so the app's own answer cache starts empty.
    alone = {q: bot_for(settings, embedder, llm).ask(q).text for q in QUESTIONS}
    blocks = build_app(settings, bot_for(settings, embedder, llm), corpus_dir=corpus)
    port = free_port()
    # As `qa-bot serve` queues it (ui.app.launch).
    blocks.queue(default_concurrency_limit=2).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS
    )
    yield f"http://127.0.0.1:{port}/", alone, corpus, settings
    blocks.close()


def test_twenty_clients_at_once_with_a_reingest_midway(app):
    url, alone, corpus, _ = app
    before = rss_mb(int(Path("/proc/self").resolve().name))
    reports: list[str] = []

    def ingest_while_asking() -> None:
        reports.append(reingest(url, "cabai.md", NEW_ARTICLE))

    ingester = threading.Timer(5.0, ingest_while_asking)
    ingester.start()
    result = ask_load(url, QUESTIONS, clients=20, rounds=2)
    ingester.join()

    assert result.errors() == []
    assert len(result.outcomes) == 40  # nothing lost
    # Every answer is the one the question gets when asked alone, before, during and
    # after the re-ingest.
    assert {q: texts for q, texts in result.answers().items()} == {q: {alone[q]} for q in QUESTIONS}
    assert "added 1" in reports[0] and (corpus / "cabai.md").exists()
    # Questions asked together shared model runs; the re-ingest made them run again.
    assert 0 < sum(o.cached for o in result.outcomes) < 40
    after = ask_load(url, [NEW_QUESTION], 1, rounds=1)
    assert "80.000" in after.outcomes[0].text
    # Memory: no growth beyond noise over 40 answers (the run's own buffers included).
    assert rss_mb(int(Path("/proc/self").resolve().name)) - before < 300


def test_an_ingest_from_the_command_line_reaches_the_running_app(app):
    """Another process (`qa-bot ingest`) commits a new generation into the embedded store
    the app is reading; the app's next answers come from it."""
    import subprocess
    import sys

    url, _, corpus, settings = app
    (corpus / "kereta.md").write_text(
        "---\ntitle: Kereta cepat tambah jadwal\nsource: Antara\npublished: 2024-10-28\n---\n"
        "Operator kereta cepat Jakarta-Bandung menambah 12 perjalanan setiap akhir pekan.\n"
    )
    question = "Berapa perjalanan yang ditambah kereta cepat Jakarta-Bandung?"
    before = ask_load(url, [question], 1, rounds=1).outcomes[0].text
    assert "12" not in before
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ui.cli",
            "--store-dir",
            str(settings.store_dir),
            "ingest",
            "--quiet",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "added 1" in done.stdout
    after = ask_load(url, [question], 1, rounds=1).outcomes[0].text
    assert "12" in after, after
