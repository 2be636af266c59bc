"""What the running app exposes over HTTP: no file outside the corpus folder is readable
or writable through it (a real app on loopback, served with the options `qa-bot serve`
uses; the model is scripted, the exposure does not depend on it)."""

from __future__ import annotations

import shutil
from urllib.parse import quote

import httpx
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from tests.conftest import FOUNDING, ROOT, bot_for, free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory, settings_factory, embedder):
    from ingest.pipeline import ingest_path
    from ui.app import build_app, serve_options

    root = tmp_path_factory.mktemp("exposed")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(FOUNDING, corpus / FOUNDING.name)
    outside = root / "elsewhere"
    outside.mkdir()
    (outside / "rahasia.md").write_text("Dokumen rahasia yang tidak boleh terbaca lewat aplikasi.\n")
    settings = settings_factory(max_upload_mb=1)
    ingest_path(corpus, settings, embedder=embedder)
    # An article ingested from outside the corpus folder (by the command line, say).
    ingest_path(outside / "rahasia.md", settings, embedder=embedder)
    app = build_app(settings, bot_for(settings, embedder, FakeListChatModel(responses=["x"] * 5)), corpus)
    port = free_port()
    app.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True, **serve_options(settings))
    yield f"http://127.0.0.1:{port}/", settings, corpus, outside
    app.close()


def targets(settings, corpus, outside) -> list[str]:
    store_file = next(p for p in settings.store_dir.rglob("*.sqlite3"))
    return [
        "/etc/passwd",
        str(outside / "rahasia.md"),
        str(store_file),
        str(ROOT / "README.md"),
        str(ROOT / "pyproject.toml"),
        "README.md",
        "../../../../../../etc/passwd",
        str(corpus / ".." / "elsewhere" / "rahasia.md"),
    ]


@pytest.mark.parametrize("route", ["gradio_api/file={}", "file={}", "gradio_api/file={}?download=1"])
def test_files_outside_the_corpus_cannot_be_read(served, route):
    url, settings, corpus, outside = served
    for target in targets(settings, corpus, outside):
        for form in (target, quote(target, safe="")):
            reply = httpx.get(url + route.format(form), timeout=10)
            assert reply.status_code in (403, 404), (target, reply.status_code)
            assert "Dokumen rahasia" not in reply.text and "root:" not in reply.text


def test_the_app_binds_loopback_and_refuses_the_network_without_a_login(settings_factory):
    from ui.app import serve_options

    assert serve_options(settings_factory())["server_name"] == "127.0.0.1"
    with pytest.raises(SystemExit, match="without a login"):
        serve_options(settings_factory(), host="0.0.0.0")
    opened = serve_options(settings_factory(app_auth="redaksi:rahasia"), host="0.0.0.0")
    assert opened["auth"] == ("redaksi", "rahasia")


def test_remove_refuses_an_article_from_outside_the_corpus(served):
    from gradio_client import Client

    url, _, _, outside = served
    report, *_ = Client(url, verbose=False).predict("rahasia", api_name="/remove")
    assert "did not come from the corpus folder" in report
    assert (outside / "rahasia.md").exists()


def test_upload_names_cannot_write_outside_and_big_uploads_are_refused(served, tmp_path):
    from gradio_client import Client, handle_file

    url, _, corpus, outside = served
    before = sorted(p.name for p in outside.iterdir())
    evil = tmp_path / "..%2F..%2Felsewhere%2Frahasia.md"
    evil.write_text("Ditimpa.\n")
    report, *_ = Client(url, verbose=False).predict([handle_file(str(evil))], api_name="/reingest")
    assert sorted(p.name for p in outside.iterdir()) == before
    assert (outside / "rahasia.md").read_text().startswith("Dokumen rahasia")
    assert all(p.resolve().parent == corpus.resolve() for p in corpus.glob("*.md"))
    big = tmp_path / "besar.md"
    big.write_bytes(b"a" * 2_000_000)  # over the 1 MB limit of this app
    with pytest.raises(Exception, match="(?i)size|large|exceed"):
        Client(url, verbose=False).predict([handle_file(str(big))], api_name="/reingest")
    assert not (corpus / "besar.md").exists()
