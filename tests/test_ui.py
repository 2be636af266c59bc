"""The app's endpoints through gradio_client, with a scripted LLM (the app is under test)."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa_bot import QABot
from qa_bot.types import Answer, Citation
from tests.conftest import FOUNDING, bot_for, free_port
from ui.app import AnswerLog, chat_filters, history_pairs, parse_filters, record_like, render_answer
from ui.corpus import CorpusError, safe_name, save_uploads, with_front_matter
from ui.page import CSS, TRANSLATIONS, page_options
from ui.render import counter_text, coverage_html, coverage_text, not_found_note, parse_day


@pytest.fixture(scope="module")
def app_url(retriever, founding_settings, founding_corpus):
    from ui.app import build_app

    llm = FakeListChatModel(responses=["Sekretaris Jenderal NATO adalah Mark Rutte [1]."])
    app = build_app(founding_settings, QABot(retriever, llm, founding_settings), corpus_dir=founding_corpus)
    port = free_port()
    app.queue().launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **page_options()
    )
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_ask_endpoint_returns_answer_and_citations_as_data(app_url):
    from gradio_client import Client

    data = Client(app_url, verbose=False).predict(
        "Siapa Sekretaris Jenderal NATO?", [], "", "", api_name="/ask"
    )
    assert data["text"] == "Sekretaris Jenderal NATO adalah Mark Rutte [1]."
    assert data["citations"][0]["number"] == 1
    assert "Mark Rutte" in data["citations"][0]["quote"]


def test_ask_endpoint_reports_bad_dates(app_url):
    from gradio_client import Client

    data = Client(app_url, verbose=False).predict("Siapa?", [], "29-10-2024", "", api_name="/ask")
    assert data == {"error": "The from date '29-10-2024' is not YYYY-MM-DD, e.g. 2024-10-29."}


def test_chat_endpoint_links_markers_and_marks_the_quote(app_url):
    from gradio_client import Client

    reply = Client(app_url, verbose=False).predict(
        "Siapa Sekretaris Jenderal NATO?", [], "", "", api_name="/chat"
    )
    assert 'Sekretaris Jenderal NATO adalah Mark Rutte <a class="qa-cite" href="#qa' in reply
    assert '<mark class="qa-mark">Sekretaris Jenderal NATO Mark Rutte mengatakan' in reply


def citation(**kw):
    base = dict(
        number=1,
        text="Awal. Kalimat kunci. Akhir.",
        quote="Kalimat kunci.",
        quote_start=6,
        quote_end=20,
        title="Judul <b>",
        source="Antara",
        url="https://e.org/a?x=1&y=2",
        published="2024-10-29",
        chunk_id="c",
        article_id="a",
        score=0.5,
        start=0,
        end=27,
    )
    base.update(kw)
    return Citation(**base)


def test_render_answer_escapes_html_and_links_each_marker_to_a_card():
    answer = Answer(question="q", text="Fakta <x> [1].", citations=(citation(),), found=True, language="id")
    assert render_answer(answer, "k") == (
        '<div class="qa-answer qa-final" id="k">Fakta &lt;x&gt; '
        '<a class="qa-cite" href="#k-src-1" title="Kalimat kunci.">[1]</a>.</div>\n\n'
        '<div class="qa-sources-head">Sumber</div>\n\n'
        '<div class="qa-card" id="k-src-1"><div class="qa-card-head"><span class="qa-num">[1]</span> '
        '<a class="qa-title" href="https://e.org/a?x=1&amp;y=2" target="_blank" rel="noopener">'
        "Judul &lt;b&gt;</a></div>"
        '<div class="qa-meta">Antara · 2024-10-29</div>'
        '<div class="qa-passage">Awal. <mark class="qa-mark">Kalimat kunci.</mark> Akhir.</div></div>'
    )


def test_card_colours_are_explicit_in_light_and_dark_themes():
    for rule in (".qa-card mark", ".dark .qa-card mark", ".qa-card .qa-meta", ".dark .qa-card .qa-meta"):
        assert rule in CSS
    for rule in (".qa-card a", ".dark .qa-card a", ".dark .qa-card {"):
        assert rule in CSS


def test_rewrite_is_shown_above_the_answer_and_history_keeps_the_plain_text():
    answer = Answer(
        question="And who?",
        text="Ukraine asked [1].",
        citations=(citation(),),
        found=True,
        language="en",
        rewritten="Who asked for the meeting?",
    )
    html_ = render_answer(answer, "k")
    assert html_.startswith('<div class="qa-rewrite">Searched for: Who asked for the meeting?</div>')
    assert '<div class="qa-sources-head">Sources</div>' in html_
    history = [{"role": "user", "content": "And who?"}, {"role": "assistant", "content": html_}]
    assert history_pairs(history) == [("And who?", "Ukraine asked [1].")]


def test_render_answer_names_the_other_copies_of_a_story():
    from qa_bot.types import SourceCopy

    copies = (
        SourceCopy("b", "Dua tentara <ditangkap>", "Warta Nusantara", "https://w.example/b", "2025-01-12"),
        SourceCopy("c", "", "Kabar Dunia", "", ""),
    )
    answer = Answer(
        question="q", text="Fakta [1].", citations=(citation(copies=copies),), found=True, language="id"
    )
    assert render_answer(answer, "k").endswith(
        '<div class="qa-copies">Berita yang sama juga di: '
        '<a href="https://w.example/b" target="_blank" rel="noopener">'
        "Warta Nusantara — Dua tentara &lt;ditangkap&gt;</a>; Kabar Dunia — c</div></div>"
    )


def summary(**kw):
    from datetime import date

    from qa_bot.types import CorpusSummary

    base = dict(
        articles=12,
        sources=("Antara", "Kompas", "Tempo", "Detik", "CNN Indonesia"),
        first=date(2024, 10, 1),
        last=date(2024, 10, 29),
        undated=0,
        generation=3,
    )
    base.update(kw)
    return CorpusSummary(**base)


def test_render_not_found_says_what_the_corpus_covers_in_the_answers_language():
    answer = Answer(
        question="q",
        text="Maaf, jawabannya tidak ada di korpus berita.",
        citations=(),
        found=False,
        language="id",
    )
    assert render_answer(answer, "k", summary()) == (
        '<div class="qa-answer qa-final" id="k">Maaf, jawabannya tidak ada di korpus berita.</div>\n\n'
        '<div class="qa-note">Korpus berisi 12 artikel dari Antara, Kompas, Tempo, Detik dan 1 lainnya, '
        "terbit 2024-10-01 – 2024-10-29. Coba pertanyaan yang lebih sempit atau berbeda tentang berita ini."
        "</div>"
    )
    assert not_found_note(summary(articles=1, sources=("Antara",), last=date_(2024, 10, 1)), "en") == (
        "The corpus holds 1 article from Antara, published 2024-10-01. "
        "Try a narrower or different question about these news."
    )
    assert not_found_note(None, "en") == "Try a narrower or different question about these news."


def date_(*args):
    from datetime import date

    return date(*args)


def test_coverage_line_is_in_both_languages_for_the_page():
    html_ = coverage_html(summary(sources=("Antara",), first=None, last=None))
    assert html_ == (
        '<div class="qa-coverage"><span class="qa-id">Korpus berisi 12 artikel dari Antara.</span>'
        '<span class="qa-en">The corpus holds 12 articles from Antara.</span></div>'
    )
    assert coverage_text(summary(sources=()), "en").startswith(
        "The corpus holds 12 articles from unnamed outlets"
    )


def test_counter_text():
    assert counter_text(0, 2000) == "0 / 2,000"
    assert counter_text(1234, 2000) == "1,234 / 2,000"


def test_a_wrong_date_gets_a_message_in_indonesian_and_english():
    assert parse_day("2024-10-29", "from")[0] == date_(2024, 10, 29)
    assert parse_day(" ", "from") == (None, "")
    day, message = parse_day("29-10-2024", "from")
    assert day is None
    assert message == (
        "Tanggal awal '29-10-2024' bukan tanggal seperti 2024-10-29 (TTTT-BB-HH).\n"
        "The from date '29-10-2024' is not a date like 2024-10-29 (YYYY-MM-DD)."
    )
    filters, problem = chat_filters([], "2024-10-30", "2024-10-01")
    assert filters is None
    assert "Tanggal awal 2024-10-30 jatuh setelah tanggal akhir 2024-10-01." in problem
    assert "The 'from' date 2024-10-30 is after the 'to' date 2024-10-01." in problem
    filters, problem = chat_filters(["Antara"], "", "2024-10-31")
    assert (problem, filters.sources, filters.published_to) == ("", ("Antara",), date_(2024, 10, 31))


def test_interface_strings_exist_in_both_languages():
    assert TRANSLATIONS["en"].keys() == TRANSLATIONS["id"].keys()
    assert TRANSLATIONS["id"]["corpus_tab"] == "Korpus"


def test_thumbs_up_records_the_answer_question_citations_and_generation(tmp_path):
    import json

    answers = AnswerLog()
    answer = Answer(
        question="Siapa Sekjen NATO?",
        text="Mark Rutte [1].",
        citations=(citation(),),
        found=True,
        language="id",
    )
    answers.put("qa0123456789", answer.to_dict(), 7)
    message = {"role": "assistant", "content": render_answer(answer, "qa0123456789")}
    assert record_like(tmp_path, answers, message, True) == {"key": "qa0123456789", "rating": "up"}
    assert record_like(tmp_path, answers, [{"type": "text", "text": message["content"]}], False, "salah")
    assert record_like(tmp_path, answers, "Silakan ketik pertanyaan.", True) is None
    lines = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert [line["rating"] for line in lines] == ["up", "down"]
    assert lines[1]["comment"] == "salah"
    for line in lines:
        assert line["question"] == "Siapa Sekjen NATO?"
        assert line["generation"] == 7
        assert line["citations"][0]["quote"] == "Kalimat kunci."
        assert "Mark Rutte [1]." in json.dumps(line)


def test_upload_form_metadata_becomes_front_matter(tmp_path):
    from ingest.loaders import split_front_matter

    upload = tmp_path / "upload.md"
    upload.write_text("---\ntitle: Lama\nurl: https://e.org/x\n---\nIsi berita.\n")
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"id": "b", "text": "Isi."}\n')
    corpus = tmp_path / "corpus"
    meta = {"title": "Judul: baru", "source": "Antara", "published": "2024-10-29"}
    assert save_uploads([str(upload), str(jsonl)], ["berita.md", "b.jsonl"], corpus, meta) == [
        "berita.md",
        "b.jsonl",
    ]
    front, body = split_front_matter((corpus / "berita.md").read_text())
    assert front == {
        "title": "Judul: baru",
        "url": "https://e.org/x",
        "source": "Antara",
        "published": "2024-10-29",
    }
    assert body == "Isi berita.\n"
    assert (corpus / "b.jsonl").read_text() == jsonl.read_text()
    assert with_front_matter("Isi.", {"title": ""}) == "Isi."


def test_history_pairs_keep_only_the_plain_answer_of_older_replies():
    history = [
        {"role": "user", "content": "When does the council meet?"},
        {
            "role": "assistant",
            "content": 'On Wednesday <a class="qa-cite" href="#a1-src-1">[1]</a>.\n\n<b>Sources</b>',
        },
    ]
    assert history_pairs(history) == [("When does the council meet?", "On Wednesday [1].")]


def test_history_pairs_read_gradio_typed_content_parts():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Siapa Sekjen NATO?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Mark Rutte [1].\n\n<b>Sources</b>"}]},
    ]
    assert history_pairs(history) == [("Siapa Sekjen NATO?", "Mark Rutte [1].")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("berita.md", "berita.md"),
        ("../../etc/x.txt", "x.txt"),
        ("a\\b\\c.jsonl", "c.jsonl"),
        ("..hidden.md", "hidden.md"),
        ("spasi dan $imbol.txt", "spasi dan _imbol.txt"),
    ],
)
def test_safe_name_keeps_uploads_inside_the_corpus(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("..", "is not a usable file name"),
        ("x.pdf", "only .txt, .md, .jsonl, .html, .htm files"),
        ("berita.rss", "feeds are not accepted as uploads"),
        ("feed.xml", "qa-bot ingest <feed file or URL>"),
    ],
)
def test_safe_name_refuses(name, message):
    with pytest.raises(CorpusError, match=message):
        safe_name(name)


def test_parse_filters():
    f = parse_filters(["Antara"], "2024-10-01", "")
    assert (f.sources, str(f.published_from), f.published_to) == (("Antara",), "2024-10-01", None)


def test_chat_filters_narrow_retrieval(app_url):
    from gradio_client import Client

    reply = Client(app_url, verbose=False).predict(
        "Siapa Sekretaris Jenderal NATO?", ["Kompas"], "", "", api_name="/chat"
    )
    assert reply.startswith('<div class="qa-answer qa-final" id="qa')
    assert "Maaf, jawabannya tidak ada di korpus berita.</div>" in reply
    assert (
        '<div class="qa-note">Korpus berisi 1 artikel dari CNN Indonesia, terbit 2024-10-29. Coba ' in reply
    )


def launch_app(settings, bot=None, corpus=None):
    from ui.app import build_app

    app = build_app(settings, bot, corpus_dir=corpus)
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return app, f"http://127.0.0.1:{port}/"


def test_model_that_fails_to_load_is_a_message_in_the_chat(settings_factory, tmp_path):
    from gradio_client import Client

    settings = settings_factory(llm_model_path=tmp_path / "missing.gguf")
    app, url = launch_app(settings, corpus=tmp_path)
    try:
        reply = Client(url, verbose=False).predict("Siapa?", [], "", "", api_name="/chat")
    finally:
        app.close()
    assert reply == (
        f"The bot could not start (ModelError: GGUF file {tmp_path / 'missing.gguf'} not found: fix "
        "QA_BOT_LLM_MODEL_PATH). Check the model settings (QA_BOT_LLM_MODEL_PATH, QA_BOT_LLM_BASE_URL, "
        "QA_BOT_EMBEDDING_MODEL) and restart."
    )


def test_empty_corpus_is_a_message_in_the_chat(settings_factory, embedder, tmp_path):
    from gradio_client import Client

    settings = settings_factory()
    app, url = launch_app(settings, bot_for(settings, embedder, FakeListChatModel(responses=["x"])), tmp_path)
    try:
        reply = Client(url, verbose=False).predict("Siapa?", [], "", "", api_name="/chat")
    finally:
        app.close()
    assert reply == "Korpus masih kosong: tambahkan artikel di tab Korpus, lalu bertanya lagi."


def test_serving_beyond_loopback_needs_a_login(settings_factory):
    from ui.app import launch

    with pytest.raises(SystemExit, match="refusing to serve on 0.0.0.0 without a login: set QA_BOT_APP_AUTH"):
        launch(settings_factory(), host="0.0.0.0")


def test_reingest_and_remove_endpoints_manage_the_corpus(settings_factory, embedder, tmp_path):
    import shutil

    from gradio_client import Client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    (corpus / "kedua.md").write_text(
        "---\ntitle: Harga cabai\nsource: Antara\npublished: 2024-10-28\n---\nHarga cabai naik.\n"
    )
    settings = settings_factory()
    app, url = launch_app(settings, bot_for(settings, embedder, FakeListChatModel(responses=["x"])), corpus)
    try:
        client = Client(url, verbose=False)
        report, table, _, _ = client.predict(None, api_name="/reingest")
        assert report.startswith("Ingest: added 2, updated 0, unchanged 0, removed 0, skipped 0")
        # Newest first: the founding article is from 2024-10-29.
        assert [row[-1] for row in table["data"]] == ["000_c2c96c36c1e836fc", "kedua"]
        assert table["data"][1] == ["Harga cabai", "Antara", "2024-10-28", 1, "kedua"]
        report, table, _, _ = client.predict("kedua", api_name="/remove")
        moved, summary = report.splitlines()[:2]
        assert moved == "moved kedua.md to .removed/"
        assert summary.startswith("Ingest: added 0, updated 0, unchanged 1, removed 1, skipped 0")
        assert [row[-1] for row in table["data"]] == ["000_c2c96c36c1e836fc"]
        assert (corpus / ".removed" / "kedua.md").exists()
    finally:
        app.close()


def test_progress_ticks_while_waiting_and_the_stream_stops_when_the_asker_leaves():
    import threading
    import time

    from qa_bot.types import Token
    from ui.app import _events
    from ui.render import progress_html

    closed = threading.Event()

    class SlowBot:
        def stream(self, message, filters=None, history=()):
            try:
                time.sleep(1.2)
                yield Token("Satu. ")
                time.sleep(0.3)
                yield Token("Dua. ")
                time.sleep(0.3)
                yield Token("Tiga. ")
            finally:
                closed.set()

    events = _events(SlowBot(), "Siapa?", parse_filters([], "", ""), [])
    seen = []
    for event in events:
        seen.append(event)
        if event == Token("Satu. "):
            break
    assert seen[:2] == [None, None] and seen[-1] == Token("Satu. ")
    events.close()  # the chat's generator is closed when the asker leaves
    assert closed.wait(5)
    assert progress_html(3.4, "id", "Siapa Sekjen NATO?") == (
        '<div class="qa-rewrite">Mencari: Siapa Sekjen NATO?</div>\n\n'
        '<div class="qa-progress"><span class="qa-spinner" aria-hidden="true"></span> '
        "Mencari berita dan membaca… 3 dtk</div>"
    )
