"""The real app with the real models, driven in Debian's chromium by Playwright.

Screenshots of each step go to test-artifacts/ (look at them after a change to the UI).
"""

from __future__ import annotations

import json
import os
import re
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
def served(tmp_path_factory, settings_factory, embedder, llm):
    """The app on its own corpus copy and store (uploads here must not leak into other tests);
    yields its address and settings (the feedback file is in the settings' store)."""
    from ingest.pipeline import ingest_path
    from ui.app import build_app
    from ui.page import page_options

    corpus = tmp_path_factory.mktemp("browser-corpus")
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    settings = settings_factory()
    ingest_path(corpus, settings, embedder=embedder)
    app = build_app(settings, bot_for(settings, embedder, llm), corpus_dir=corpus)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.queue(default_concurrency_limit=2).launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **page_options()
    )
    yield f"http://127.0.0.1:{port}/", settings
    app.close()


@pytest.fixture(scope="module")
def app_url(served):
    return served[0]


DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def open_page(browser, url, viewport=None, dark=False, locale="en-US"):
    """A page in its own browser context (its own saved conversations), light or dark."""
    context = browser.new_context(
        viewport=viewport or {"width": 1100, "height": 1000},
        color_scheme="dark" if dark else "light",
        locale=locale,
        is_mobile=viewport == PHONE,
        has_touch=viewport == PHONE,
    )
    page = context.new_page()
    page.goto(url + ("?__theme=dark" if dark else ""), wait_until="load")
    question_box(page).wait_for()
    return page


def question_box(page):
    return page.locator("#qa-question textarea")


def ask(page, question: str, expect_answers: int, timeout_ms: int = 180_000):
    """Type a question and wait until the bot's reply is final (a checked answer, sources or not)."""
    box = question_box(page)
    box.fill(question)
    box.press("Enter")
    bots = page.locator("[data-testid=bot]")
    bots.nth(expect_answers - 1).locator(".qa-final").wait_for(timeout=timeout_ms)
    return bots.nth(expect_answers - 1)


NOT_FOUND_EN = "Sorry, the news corpus does not contain the answer."


def test_security_council_answer_streams_with_linked_citation_and_marked_sentence(browser, app_url):
    page = open_page(browser, app_url)
    assert page.locator(".qa-coverage .qa-en").inner_text() == (
        "The corpus holds 1 article from CNN Indonesia, published 2024-10-29."
    )
    box = question_box(page)
    box.fill("When does the UN Security Council meet?")
    box.press("Enter")
    bot = page.locator("[data-testid=bot]").first
    # Progress while retrieving and reading: a spinner and the seconds counting up.
    progress = bot.locator(".qa-progress")
    progress.locator(".qa-spinner").wait_for(timeout=60_000)
    first = progress.inner_text()
    assert re.fullmatch(r"Searching the news and reading… \d+ s", first.strip()), first
    page.screenshot(path=str(ARTIFACTS / "0-progress.png"))
    # Streaming: the reply shows the checked beginning of the answer before the sources arrive
    # (an answer of one sentence may come whole, with its sources).
    bot.locator(".qa-streaming, .qa-final").filter(has_text="Security Council").wait_for(timeout=120_000)
    streamed = bot.locator(".qa-streaming").count() > 0
    partial = bot.inner_text()
    bot.locator(".qa-final").wait_for(timeout=120_000)
    assert "Sources" not in partial or not streamed
    page.screenshot(path=str(ARTIFACTS / "1-security-council.png"), full_page=True)
    link = bot.locator("a.qa-cite").first
    assert link.inner_text() == "[1]"
    assert link.get_attribute("href").endswith("-src-1")
    target = bot.locator(f"[id='{link.get_attribute('href')[1:]}']")
    quote = target.locator("mark").inner_text()
    assert "Rabu (30/10) setelah pukul 15.00" in quote
    # Hovering the marker previews the quoted sentence; the card names outlet and date.
    assert link.get_attribute("title") == " ".join(quote.split())
    assert target.locator(".qa-meta").inner_text() == "CNN Indonesia · 2024-10-29"
    assert target.locator(".qa-title").inner_text().startswith("Bergerak cepat")
    page.context.close()


def test_follow_up_is_rewritten_and_the_rewrite_shown(browser, app_url):
    page = open_page(browser, app_url)
    ask(page, "When does the UN Security Council meet?", 1)
    box = question_box(page)
    box.fill("And who asked for it?")
    box.press("Enter")
    reply = page.locator("[data-testid=bot]").nth(1)
    # While it works, the rewrite stands above the progress line ...
    searching = reply.locator(".qa-rewrite").filter(has_text="Searching for: ")
    searching.wait_for(timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "2a-follow-up-searching.png"), full_page=True)
    reply.locator(".qa-final").wait_for(timeout=180_000)
    page.screenshot(path=str(ARTIFACTS / "2-follow-up.png"), full_page=True)
    # ... and after, in the same place: first in the reply, above the answer.
    rewrite = reply.locator(".qa-rewrite").inner_text()
    assert rewrite.startswith("Searched for: ")
    assert "Security Council" in rewrite
    order = reply.evaluate(
        "el => [...el.querySelectorAll('.qa-rewrite, .qa-answer')].map(e => e.className.split(' ')[0])"
    )
    assert order == ["qa-rewrite", "qa-answer"]
    page.context.close()


CONTRAST = """el => {
  const rgba = (c) => {
    const p = c.match(/[\\d.]+/g).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, base) => base.map((v, i) => top[i] * top[3] + v * (1 - top[3]));
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let back = [255, 255, 255];
  for (const c of layers.reverse()) back = over(c, back);
  const fore = over(rgba(getComputedStyle(el).color), back);
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fore), lum(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""

# The start of the bot message is really on screen: inside the window, and the topmost
# element at its first line belongs to it (not hidden by the chat box's scrolling).
START_IN_VIEW = """el => {
  const r = el.getBoundingClientRect();
  const y = r.top + 8;
  if (r.top < 0 || y > window.innerHeight || r.bottom < 0) return false;
  const hit = document.elementFromPoint(r.left + 12, y);
  return !!hit && el.contains(hit);
}"""


@pytest.mark.parametrize(
    ("name", "viewport", "dark"),
    [
        ("desktop-light", DESKTOP, False),
        ("desktop-dark", DESKTOP, True),
        ("phone-light", PHONE, False),
        ("phone-dark", PHONE, True),
    ],
)
def test_evidence_is_readable_and_the_answer_start_in_view(browser, app_url, name, viewport, dark):
    page = open_page(browser, app_url, viewport, dark)
    assert page.evaluate("() => !!document.querySelector('.dark')") is dark
    reply = ask(page, "When does the UN Security Council meet?", 1)
    page.wait_for_timeout(1500)  # the page's scroll to the answer's start has run
    page.screenshot(path=str(ARTIFACTS / f"7-evidence-{name}.png"))
    card = reply.locator(".qa-card").first
    for part in ("mark", ".qa-meta", ".qa-title", ".qa-passage"):
        ratio = card.locator(part).first.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{name}: {part} contrast {ratio:.2f}"
    ratio = page.locator(".qa-coverage").evaluate(CONTRAST)
    assert ratio >= 4.5, f"{name}: coverage contrast {ratio:.2f}"
    # After the answer completes, its start is in view (not scrolled down to the sources).
    assert reply.locator(".qa-answer").evaluate(START_IN_VIEW), name
    page.context.close()


def test_input_rules_empty_question_limit_counter_and_bad_dates(browser, app_url):
    page = open_page(browser, app_url, DESKTOP)
    box = question_box(page)
    counter = page.locator("#qa-counter")
    assert counter.inner_text() == "0 / 2,000"
    box.fill("   ")
    # Set by the page's script on input: waited for (a loaded machine runs it late).
    page.wait_for_function(
        "() => document.querySelector('#qa-question button[data-testid=submit-button]').disabled",
        timeout=10_000,
    )
    box.press("Enter")
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=user]").count() == 0
    assert page.locator("[data-testid=bot]").count() == 0
    # The box takes at most the question limit, and the counter says so.
    box.fill("a" * 1995)
    box.press("End")
    page.keyboard.type("b" * 10)
    assert len(box.input_value()) == 2000
    page.wait_for_function("() => document.querySelector('#qa-counter').textContent === '2,000 / 2,000'")
    assert "qa-full" in counter.get_attribute("class")
    counter.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "8-input-limit.png"))
    box.fill("")
    # A date typed wrong: the asker is told, in Indonesian and English.
    page.get_by_text("Filters").click()
    page.get_by_label("Published from (YYYY-MM-DD)").fill("29-10-2024")
    box.fill("When does the UN Security Council meet?")
    box.press("Enter")
    bot = page.locator("[data-testid=bot]").first
    bot.filter(has_text="The from date").wait_for(timeout=60_000)
    text = bot.inner_text()
    assert "Tanggal awal '29-10-2024' bukan tanggal seperti 2024-10-29 (TTTT-BB-HH)." in text
    assert "The from date '29-10-2024' is not a date like 2024-10-29 (YYYY-MM-DD)." in text
    page.screenshot(path=str(ARTIFACTS / "9-bad-date.png"), full_page=True)
    page.context.close()


def test_thumbs_up_with_a_comment_is_recorded_and_conversations_are_kept(browser, served):
    url, settings = served
    page = open_page(browser, url, DESKTOP)
    reply = ask(page, "Siapa Sekretaris Jenderal NATO?", 1)
    feedback = Path(settings.store_dir) / "feedback.jsonl"
    before = feedback.read_text().splitlines() if feedback.exists() else []
    page.locator("button[aria-label=Like]").last.click()
    comment = page.locator("#qa-feedback textarea")
    comment.wait_for(timeout=30_000)
    for _ in range(50):
        if feedback.exists() and len(feedback.read_text().splitlines()) > len(before):
            break
        page.wait_for_timeout(200)
    comment.fill("Jawabannya tepat.")
    page.locator("#qa-feedback").screenshot(path=str(ARTIFACTS / "10a-feedback-comment.png"))
    page.locator("#qa-feedback button").click()
    page.locator("#qa-feedback").wait_for(state="hidden", timeout=30_000)
    lines = [json.loads(line) for line in feedback.read_text().splitlines()[len(before) :]]
    page.screenshot(path=str(ARTIFACTS / "10-feedback.png"))
    assert [line["rating"] for line in lines] == ["up", "up"]
    assert lines[1]["comment"] == "Jawabannya tepat."
    for line in lines:
        assert line["question"] == "Siapa Sekretaris Jenderal NATO?"
        assert "Mark Rutte" in json.dumps(line["answer"])
        assert line["citations"] and line["citations"][0]["quote"]
        assert isinstance(line["generation"], int)
    assert "Mark Rutte" in reply.inner_text()
    # The conversation is kept in the browser: after a reload it is listed beside the chat.
    page.reload(wait_until="load")
    question_box(page).wait_for()
    page.get_by_text("Siapa Sekretaris Jenderal NATO?").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "11-saved-conversations.png"))
    page.context.close()


def test_interface_speaks_indonesian(browser, app_url):
    page = open_page(browser, app_url, PHONE, locale="id-ID")
    assert page.get_by_role("tab", name="Korpus").is_visible()
    assert question_box(page).get_attribute("placeholder") == "Tanyakan tentang berita…"
    page.locator(".qa-coverage .qa-id").filter(has_text="Korpus berisi").wait_for()
    reply = ask(page, "Apa ibu kota Prancis?", 1)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "12-phone-indonesian.png"))
    assert reply.locator(".qa-answer").inner_text() == "Maaf, jawabannya tidak ada di korpus berita."
    assert reply.locator(".qa-note").inner_text().startswith("Korpus berisi ")
    page.context.close()


CORPUS_ARTICLE = """Jakarta (ANTARA) - Gempa bermagnitudo 5,6 mengguncang Kabupaten Cianjur, Jawa Barat, pada Senin (21/11) pukul 13.21 WIB.
Badan Meteorologi, Klimatologi, dan Geofisika (BMKG) menyebut pusat gempa berada di darat, 10 kilometer barat daya Cianjur.
"""


def test_uploaded_article_is_ingested_and_cited(browser, app_url, tmp_path):
    page = open_page(browser, app_url, DESKTOP)
    page.get_by_role("tab", name="Corpus").click()
    headers = page.locator("#qa-articles th").all_inner_texts()
    assert [h.strip() for h in headers][:4] == ["title", "outlet", "published", "chunks"]
    article = tmp_path / "gempa-cianjur.md"
    article.write_text(CORPUS_ARTICLE)  # no front matter: the form gives title, outlet and date
    page.locator("#qa-uploads input[type=file]").set_input_files(str(article))
    page.locator("#qa-meta-title textarea, #qa-meta-title input").fill("Gempa magnitudo 5,6 guncang Cianjur")
    page.locator("#qa-meta-source textarea, #qa-meta-source input").fill("Antara")
    page.locator("#qa-meta-published textarea, #qa-meta-published input").fill("2022-11-21")
    page.get_by_role("button", name="Add and re-ingest").click()
    report = page.get_by_label("Ingest report")
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('added: gempa-cianjur'))",
        timeout=120_000,
    )
    assert "Added to the corpus: gempa-cianjur.md" in report.input_value()
    table = page.locator("#qa-articles")
    table.get_by_text("Gempa magnitudo 5,6 guncang Cianjur").first.wait_for()
    assert "Antara" in table.inner_text() and "2022-11-21" in table.inner_text()
    # The upload box is emptied once its file is in the corpus.
    page.wait_for_function(
        "() => !document.querySelector('#qa-uploads').innerText.includes('gempa-cianjur.md')", timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "3-corpus-upload.png"), full_page=True)
    page.get_by_role("tab", name="Chat").click()
    page.locator(".qa-coverage .qa-en").filter(has_text="2 articles").wait_for(timeout=30_000)
    reply = ask(page, "Berapa magnitudo gempa yang mengguncang Cianjur?", 1)
    page.screenshot(path=str(ARTIFACTS / "4-answer-from-upload.png"), full_page=True)
    assert "5,6" in reply.locator(".qa-answer").inner_text()
    card = reply.locator(".qa-card").first
    assert "Gempa magnitudo 5,6 guncang Cianjur" in card.inner_text()
    assert card.locator(".qa-meta").inner_text() == "Antara · 2022-11-21"
    # Removing it: a quiet button, the article named by its title, and a confirmation first.
    page.get_by_role("tab", name="Corpus").click()
    remove = page.locator("#qa-remove")
    assert "secondary" in remove.get_attribute("class")
    page.locator("#qa-remove-choice input").click()
    option = page.get_by_role("option").filter(has_text="Gempa magnitudo 5,6 guncang Cianjur — 2022-11-21")
    option.click()
    remove.click()
    confirm = page.locator("#qa-remove-yes")
    confirm.wait_for()
    page.screenshot(path=str(ARTIFACTS / "3b-corpus-remove-confirm.png"), full_page=True)
    confirm.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('moved gempa-cianjur.md'))",
        timeout=120_000,
    )
    page.locator("#qa-remove-confirm").wait_for(state="hidden")
    page.wait_for_function(
        "() => !document.querySelector('#qa-articles').innerText.includes('Gempa magnitudo')", timeout=30_000
    )
    page.screenshot(path=str(ARTIFACTS / "3c-corpus-removed.png"), full_page=True)
    page.context.close()


def test_question_outside_the_corpus_gets_the_plain_answer(browser, app_url):
    page = open_page(browser, app_url)
    reply = ask(page, "What is the capital of France?", 1)
    page.screenshot(path=str(ARTIFACTS / "5-not-in-corpus.png"), full_page=True)
    assert reply.locator(".qa-answer").inner_text() == NOT_FOUND_EN
    assert reply.locator(".qa-note").inner_text() == (
        "The corpus holds 1 article from CNN Indonesia, published 2024-10-29. "
        "Try a narrower or different question about these news."
    )
    assert reply.locator(".qa-card").count() == 0
    page.context.close()


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
        box = question_box(page)
        box.fill(question)
        box.press("Enter")
    # Playwright's sync API is single-threaded: wait for each page in turn (they run in parallel).
    texts = []
    for page in pages:
        reply = page.locator("[data-testid=bot]").first
        reply.locator(".qa-final").wait_for(timeout=300_000)
        texts.append(reply.inner_text())
    pages[0].screenshot(path=str(ARTIFACTS / "6-concurrent-session-1.png"), full_page=True)
    assert "Mark Rutte" in texts[0]
    assert all("Something went wrong" not in t for t in texts)
    assert texts[4].strip().startswith(NOT_FOUND_EN)
    for page in pages:
        page.context.close()
