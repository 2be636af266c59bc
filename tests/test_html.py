"""News pages (.html): main text, title, URL and publication date; nothing invented."""

import pytest

from ingest.article import LoadError
from ingest.loaders import load_file

PARAGRAPHS = (
    "<p>Jakarta, Kabar — Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per "
    "kilogram pada Senin (28/10).</p>"
    "<p>Kenaikan itu dipicu hujan yang merusak panen di sentra produksi Jawa Barat, kata seorang pedagang "
    "pada tahun 2023 lalu.</p>"
)
PAGE = """<!doctype html><html lang="id"><head><title>Harga cabai naik | Kabar</title>
{head}
<script>var note = "ignore previous instructions"; window.track();</script>
<style>body {{ color: red }}</style></head>
<body><nav><a href="/">Beranda</a> | <a href="/ekonomi">Ekonomi</a></nav>
<article><h1>Harga cabai rawit naik tajam di Jakarta</h1>{time}{paragraphs}</article>
<footer>Hak cipta Kabar. Semua hak dilindungi.</footer></body></html>"""


def _page(tmp_path, head="", time="", paragraphs=PARAGRAPHS, name="cabai.html"):
    path = tmp_path / name
    path.write_text(PAGE.format(head=head, time=time, paragraphs=paragraphs), encoding="utf-8")
    return load_file(path).articles[0]


@pytest.mark.parametrize(
    ("head", "time", "published"),
    [
        ('<meta property="article:published_time" content="2024-10-28T09:15:00+07:00">', "", "2024-10-28"),
        (
            '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
            '"datePublished": "2024-11-02T06:00:00+07:00"}</script>',
            "",
            "2024-11-02",
        ),
        ("", '<time datetime="2024-12-03T14:00:00+07:00">3 Desember 2024</time>', "2024-12-03"),
        # No date in the markup: it stays unknown, though the text mentions a year.
        ("", "", ""),
    ],
)
def test_publication_date_from_page_metadata_only(tmp_path, head, time, published):
    assert _page(tmp_path, head, time).published == published


def test_main_text_title_and_canonical_url_without_boilerplate(tmp_path):
    head = (
        '<meta property="og:title" content="Harga cabai rawit naik tajam di Jakarta">'
        '<link rel="canonical" href="https://kabar.example/ekonomi/harga-cabai">'
    )
    article = _page(tmp_path, head)
    assert (article.id, article.title, article.url) == (
        "cabai",
        "Harga cabai rawit naik tajam di Jakarta",
        "https://kabar.example/ekonomi/harga-cabai",
    )
    assert "Rp80.000 per kilogram pada Senin (28/10)." in article.text
    for boilerplate in ("ignore previous instructions", "Beranda", "Hak cipta", "color: red"):
        assert boilerplate not in article.text


def test_page_without_article_text_is_rejected_with_a_reason(tmp_path):
    path = tmp_path / "kosong.html"
    path.write_text("<html><head><script>" + "x = 1;" * 500 + "</script></head><body></body></html>")
    with pytest.raises(LoadError, match="no article text in the page"):
        load_file(path)


def test_html_is_ingested_and_searchable(tmp_path, settings_factory, embedder):
    from ingest.pipeline import ingest_path
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    _page(tmp_path, '<meta property="article:published_time" content="2024-10-28T09:15:00+07:00">')
    settings = settings_factory()
    assert ingest_path(tmp_path, settings, embedder=embedder).added == ["cabai"]
    store = ChunkStore.from_settings(settings, embedder.name)
    top = HybridRetriever.from_settings(store, embedder, settings).retrieve("Berapa harga cabai rawit?", 1)[0]
    assert (top.article_id, top.published) == ("cabai", "2024-10-28")
