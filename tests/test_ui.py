"""The app's endpoints through gradio_client, with a scripted LLM (the app is under test)."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa_bot import QABot
from qa_bot.types import Answer, Citation
from tests.conftest import FOUNDING, bot_for, free_port
from ui.app import CSS, history_pairs, parse_filters, render_answer
from ui.corpus import CorpusError, safe_name


@pytest.fixture(scope="module")
def app_url(retriever, founding_settings, founding_corpus):
    from ui.app import build_app

    llm = FakeListChatModel(responses=["Sekretaris Jenderal NATO adalah Mark Rutte [1]."])
    app = build_app(founding_settings, QABot(retriever, llm, founding_settings), corpus_dir=founding_corpus)
    port = free_port()
    app.queue().launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, css=CSS
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
    assert reply.startswith('Sekretaris Jenderal NATO adalah Mark Rutte <a class="qa-cite" href="#a')
    assert "<mark>Sekretaris Jenderal NATO Mark Rutte mengatakan" in reply


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


def test_render_answer_escapes_html_and_links_each_marker():
    answer = Answer(question="q", text="Fakta <x> [1].", citations=(citation(),), found=True, language="id")
    assert render_answer(answer, "k") == (
        'Fakta &lt;x&gt; <a class="qa-cite" href="#k-src-1" title="source 1">[1]</a>.\n\n'
        "<b>Sources</b>\n\n"
        '<div class="qa-source" id="k-src-1"><b>[1]</b> '
        '<a href="https://e.org/a?x=1&amp;y=2" target="_blank" rel="noopener">Judul &lt;b&gt;</a>'
        ' <span class="qa-meta">— Antara · 2024-10-29</span><br>Awal. <mark>Kalimat kunci.</mark> Akhir.</div>'
    )


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
        '<br><span class="qa-copies">Same story also in: '
        '<a href="https://w.example/b" target="_blank" rel="noopener">'
        "Warta Nusantara — Dua tentara &lt;ditangkap&gt;</a>; Kabar Dunia — c</span></div>"
    )


def test_render_not_found_has_no_sources():
    answer = Answer(
        question="q",
        text="Maaf, jawabannya tidak ada di korpus berita.",
        citations=(),
        found=False,
        language="id",
    )
    assert render_answer(answer) == "Maaf, jawabannya tidak ada di korpus berita."


def test_history_pairs_keep_only_the_plain_answer():
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
    assert reply == "Maaf, jawabannya tidak ada di korpus berita."


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
    assert reply == "The corpus is empty: add articles in the Corpus tab, then ask again."


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
        assert [row[0] for row in table["data"]] == ["000_c2c96c36c1e836fc", "kedua"]
        assert table["data"][1][3:] == ["2024-10-28", 1]
        report, table, _, _ = client.predict("kedua", api_name="/remove")
        moved, summary = report.splitlines()[:2]
        assert moved == "moved kedua.md to .removed/"
        assert summary.startswith("Ingest: added 0, updated 0, unchanged 1, removed 1, skipped 0")
        assert [row[0] for row in table["data"]] == ["000_c2c96c36c1e836fc"]
        assert (corpus / ".removed" / "kedua.md").exists()
    finally:
        app.close()
