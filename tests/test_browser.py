"""The real app with the real models, driven in Debian's chromium by Playwright.

Screenshots of each step go to test-artifacts/ (look at them after a change to the UI).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from tests.conftest import FOUNDING, ROOT, bot_for

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NEW_ARTICLE = """---
title: Gempa magnitudo 5,6 guncang Cianjur
source: Antara
published: 2022-11-21
---
Jakarta (ANTARA) - Gempa bermagnitudo 5,6 mengguncang Kabupaten Cianjur, Jawa Barat, pada Senin (21/11) pukul 13.21 WIB.
Badan Meteorologi, Klimatologi, dan Geofisika (BMKG) menyebut pusat gempa berada di darat, 10 kilometer barat daya Cianjur.
"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed: run `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, settings_factory, embedder, llm):
    """The app on its own corpus copy and store (uploads here must not leak into other tests)."""
    from ingest.pipeline import ingest_path
    from ui.app import CSS, build_app

    corpus = tmp_path_factory.mktemp("browser-corpus")
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    settings = settings_factory()
    ingest_path(corpus, settings, embedder=embedder)
    app = build_app(settings, bot_for(settings, embedder, llm), corpus_dir=corpus)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.queue(default_concurrency_limit=2).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS
    )
    yield f"http://127.0.0.1:{port}/"
    app.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.goto(url, wait_until="load")
    page.get_by_role("textbox").first.wait_for()
    return page


def ask(page, question: str, expect_answers: int, timeout_ms: int = 180_000):
    """Type a question and wait until the bot's reply is final (sources or a plain message)."""
    box = page.get_by_role("textbox").first
    box.fill(question)
    box.press("Enter")
    bots = page.locator("[data-testid=bot]")
    final = bots.nth(expect_answers - 1).filter(has_text=ANSWER_DONE)
    final.wait_for(timeout=timeout_ms)
    return bots.nth(expect_answers - 1)


# A reply is final when it shows sources or one of the plain "not found" messages.
ANSWER_DONE = __import__("re").compile(r"Sources|korpus berita|news corpus does not contain")


def test_security_council_answer_streams_with_linked_citation_and_marked_sentence(browser, app_url):
    page = open_page(browser, app_url)
    box = page.get_by_role("textbox").first
    box.fill("When does the UN Security Council meet?")
    box.press("Enter")
    bot = page.locator("[data-testid=bot]").first
    # Streaming: the reply shows partial text before the sources arrive.
    bot.filter(has_text="Security Council").wait_for(timeout=120_000)
    partial = bot.inner_text()
    bot.filter(has_text="Sources").wait_for(timeout=120_000)
    assert "Sources" not in partial
    page.screenshot(path=str(ARTIFACTS / "1-security-council.png"), full_page=True)
    link = bot.locator("a.qa-cite").first
    assert link.inner_text() == "[1]"
    assert link.get_attribute("href").endswith("-src-1")
    target = bot.locator(f"[id='{link.get_attribute('href')[1:]}']")
    assert "Rabu (30/10) setelah pukul 15.00" in target.locator("mark").inner_text()
    page.close()


def test_follow_up_is_rewritten_and_the_rewrite_shown(browser, app_url):
    page = open_page(browser, app_url)
    ask(page, "When does the UN Security Council meet?", 1)
    reply = ask(page, "And who asked for it?", 2)
    page.screenshot(path=str(ARTIFACTS / "2-follow-up.png"), full_page=True)
    rewrite = reply.locator(".qa-rewrite").inner_text()
    assert rewrite.startswith("Searched for: ")
    assert "Security Council" in rewrite
    page.close()


def test_uploaded_article_is_ingested_and_cited(browser, app_url, tmp_path):
    page = open_page(browser, app_url)
    page.get_by_role("tab", name="Corpus").click()
    article = tmp_path / "gempa-cianjur.md"
    article.write_text(NEW_ARTICLE)
    page.locator("#qa-uploads input[type=file]").set_input_files(str(article))
    page.get_by_role("button", name="Add and re-ingest").click()
    report = page.get_by_label("Ingest report")
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('added: gempa-cianjur'))",
        timeout=120_000,
    )
    assert "Added to the corpus: gempa-cianjur.md" in report.input_value()
    page.get_by_text("Gempa magnitudo 5,6 guncang Cianjur").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "3-corpus-upload.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    reply = ask(page, "Berapa magnitudo gempa yang mengguncang Cianjur?", 1)
    page.screenshot(path=str(ARTIFACTS / "4-answer-from-upload.png"), full_page=True)
    assert "5,6" in reply.inner_text().split("Sources")[0]
    assert "Gempa magnitudo 5,6 guncang Cianjur" in reply.locator(".qa-source").first.inner_text()
    page.close()


def test_question_outside_the_corpus_gets_the_plain_answer(browser, app_url):
    page = open_page(browser, app_url)
    reply = ask(page, "What is the capital of France?", 1)
    page.screenshot(path=str(ARTIFACTS / "5-not-in-corpus.png"), full_page=True)
    assert reply.inner_text().strip() == "Sorry, the news corpus does not contain the answer."
    assert reply.locator(".qa-source").count() == 0
    page.close()


def test_five_sessions_asking_at_once_all_get_answers(browser, app_url):
    questions = [
        "Siapa Sekretaris Jenderal NATO?",
        "Siapa juru bicara Kementerian Luar Negeri Rusia?",
        "Kapan Putin berkunjung ke Pyongyang?",
        "Siapa Presiden Korea Selatan?",
        "What is the capital of France?",
    ]
    pages = [open_page(browser, app_url) for _ in questions]
    for page, question in zip(pages, questions, strict=True):
        box = page.get_by_role("textbox").first
        box.fill(question)
        box.press("Enter")
    # Playwright's sync API is single-threaded: wait for each page in turn (they run in parallel).
    texts = []
    for page in pages:
        reply = page.locator("[data-testid=bot]").first.filter(has_text=ANSWER_DONE)
        reply.wait_for(timeout=300_000)
        texts.append(reply.inner_text())
    pages[0].screenshot(path=str(ARTIFACTS / "6-concurrent-session-1.png"), full_page=True)
    assert "Mark Rutte" in texts[0]
    assert all("Something went wrong" not in t for t in texts)
    assert texts[4].strip() == "Sorry, the news corpus does not contain the answer."
    for page in pages:
        page.close()
