"""RSS/Atom feeds and article URLs: parsing, fetching (retries, timeouts, limits) and
re-ingest into the real store, against a local HTTP server serving tests/fixtures/feeds."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ingest.article import LoadError
from ingest.feeds import feed_date, html_to_text
from ingest.fetch import USER_AGENT, Fetcher, FetchError
from ingest.loaders import load_file
from ingest.pipeline import ingest_path
from ingest.web import load_url
from qa_bot.corpus.store import ChunkStore

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
# Short enough to keep the file fast, long enough for a loaded machine to answer in time.
FAST = {"timeout": 0.3, "retries": 1, "backoff": 0.01}
SLOW_SECONDS = 1.0

Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class Site:
    """The fixture files (``{{BASE}}`` replaced by the server's address) under /feeds/ and
    /artikel/, plus programmable routes; it counts hits and records user agents."""

    def __init__(self) -> None:
        self.base = ""
        self.hits: Counter[str] = Counter()
        self.user_agents: list[str] = []
        self.routes: dict[str, Route] = {
            "/hilang": lambda h: (404, {}, b"not found"),
            "/rusak": lambda h: (500, {}, b"internal error"),
            "/lambat": self._slow,
            "/flaky": self._flaky,
            "/ua": lambda h: (200, {"Content-Type": "text/plain"}, h.headers.get("User-Agent", "").encode()),
            "/besar": lambda h: (200, {"Content-Type": "text/html"}, b"<p>" + b"x" * 1_500_000),
            "/pindah": lambda h: (302, {"Location": "/artikel/gempa-cianjur.html"}, b""),
        }

    def url(self, path: str) -> str:
        return self.base + path

    def file(self, name: str, content_type: str | None = None) -> Route:
        """A route serving a fixture file, whatever the request path."""
        path = FIXTURES / name
        types = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".html": "text/html"}
        kind = content_type or types[path.suffix] + "; charset=utf-8"
        return lambda h: (
            200,
            {"Content-Type": kind},
            path.read_bytes().replace(b"{{BASE}}", self.base.encode()),
        )

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(handler.path).path
        self.hits[path] += 1
        self.user_agents.append(handler.headers.get("User-Agent", ""))
        if path in self.routes:
            return self.routes[path](handler)
        name = path.removeprefix("/feeds/").lstrip("/")
        if (FIXTURES / name).is_file() and FIXTURES in (FIXTURES / name).resolve().parents:
            return self.file(name)(handler)
        return 404, {}, b"not found"

    def _slow(self, handler):
        time.sleep(SLOW_SECONDS)
        return self.file("artikel/tol-trans-jawa.html")(handler)

    def _flaky(self, handler):
        if self.hits["/flaky"] == 1:
            return 503, {"Retry-After": "30"}, b"busy"
        return self.file("artikel/tol-trans-jawa.html")(handler)


@pytest.fixture
def site():
    state = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            status, headers, body = state.answer(self)
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout tests)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fetcher():
    with Fetcher(**FAST) as f:
        yield f


@pytest.fixture
def ingest(settings_factory, embedder, fetcher):
    """ingest(path) into one fresh store per test; returns (run, store)."""
    settings = settings_factory()
    store = ChunkStore.from_settings(settings, embedder.name)

    def run(path):
        return ingest_path(path, settings, store=store, embedder=embedder, fetcher=fetcher)

    return run, store


def chunks_of(store, article_id):
    _, texts, metas = store.all_chunks()
    return [(t, m) for t, m in zip(texts, metas, strict=True) if m["article_id"] == article_id]


def joined_text(store, article_id):
    return " ".join(t for t, _ in chunks_of(store, article_id))


# ---- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Wed, 30 Oct 2024 06:00:00 +0700", "2024-10-30T06:00:00+07:00"),
        ("Thu, 31 Oct 2024 05:15:00 WIB", "2024-10-31T05:15:00+07:00"),
        ("Fri, 1 Nov 2024 09:00 WITA", "2024-11-01T09:00:00+08:00"),
        ("Sat, 02 Nov 2024 01:00:00 GMT", "2024-11-02T01:00:00+00:00"),
        ("2024-10-30T07:30:00+08:00", "2024-10-30T07:30:00+08:00"),
        ("2024-11-01T16:20:00Z", "2024-11-01T16:20:00+00:00"),
        ("2024-11-01", "2024-11-01"),
        ("", ""),
    ],
)
def test_item_dates_keep_the_offset_they_were_written_with(raw, iso):
    assert feed_date(raw) == iso


def test_a_date_that_is_no_date_is_refused_not_guessed():
    with pytest.raises(ValueError, match="not an RFC 822 or RFC 3339 date: 'kemarin sore'"):
        feed_date("kemarin sore")


def test_html_content_becomes_paragraphs_without_markup():
    html = (
        "<p>Banjir <b>surut</b> &amp; warga pulang.</p><script>track()</script>"
        "<nav>Beranda</nav><div>Posko<br>ditutup.</div><ul><li>Satu</li><li>Dua</li></ul>"
    )
    assert html_to_text(html) == "Banjir surut & warga pulang.\n\nPosko\n\nditutup.\n\nSatu\n\nDua"


def test_feed_file_with_full_content(tmp_path, fetcher):
    path = tmp_path / "kabar.rss"
    shutil.copy(FIXTURES / "kabar-full.rss", path)
    loaded = load_file(path, fetcher)
    assert loaded.problems == ()
    assert [(a.id, a.published) for a in loaded.articles] == [
        ("kabar-20241030-banjir", "2024-10-30T06:00:00+07:00"),
        # 05:15 +07:00 is still the 30th in UTC: the day must not move.
        ("kabar-20241031-bbm", "2024-10-31T05:15:00+07:00"),
        ("kabar-20241101-pasar", ""),  # no pubDate: unknown, not invented
    ]
    first = loaded.articles[0]
    assert (first.title, first.url, first.source, first.language, first.path) == (
        "Banjir rendam 300 rumah di Dayeuhkolot",
        "https://kabar.example/2024/10/30/banjir-dayeuhkolot",
        "Kabar Contoh",
        "id",
        str(path.resolve()),
    )
    assert first.text.split("\n\n")[:3] == [
        "Banjir setinggi satu meter merendam sekitar 300 rumah di Kecamatan Dayeuhkolot, Kabupaten "
        "Bandung, pada Rabu dini hari setelah hujan deras mengguyur sejak Selasa malam.",
        "Warga mengungsi dengan perahu karet.",
        "Kepala Pelaksana BPBD Kabupaten Bandung mengatakan Sungai Citarum meluap di tiga titik. "
        "Sebanyak 1.200 warga mengungsi ke masjid dan balai desa terdekat.",
    ]
    for article in loaded.articles:
        assert "<" not in article.text and "trackPageView" not in article.text


def test_xml_file_that_is_no_feed_is_refused(tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_text('<?xml version="1.0"?><urlset><url><loc>https://kabar.example/</loc></url></urlset>')
    with pytest.raises(LoadError, match="not an RSS or Atom feed"):
        load_file(path)


def test_atom_feed_is_recognised_by_parsing_not_by_content_type(site, fetcher):
    site.routes["/feeds/nusa.atom"] = site.file("nusa.atom", "text/html; charset=utf-8")
    loaded = load_url(site.url("/feeds/nusa.atom"), fetcher)
    assert loaded.problems == ()
    full, summary_only = loaded.articles
    assert (full.id, full.published, full.source, full.url) == (
        "tag:nusa.example,2024:kapal-selayar",
        "2024-10-30T07:30:00+08:00",  # <published>, not the later <updated>
        "Nusa Harian",
        "https://nusa.example/2024/10/30/kapal-selayar",
    )
    assert "Harga tiket ditetapkan Rp275.000 untuk kelas ekonomi." in full.text
    assert site.hits["/artikel/dermaga-bitung.html"] == 1
    assert (summary_only.id, summary_only.published, summary_only.url) == (
        "tag:nusa.example,2024:dermaga-bitung",
        "2024-11-01T16:20:00+08:00",  # only <updated> given
        "https://nusa.example/2024/11/01/dermaga-bitung",
    )
    assert "memangkas waktu tunggu kapal dari tiga hari" in summary_only.text


# ---- fetching -----------------------------------------------------------------------------
def test_a_503_is_retried_after_the_capped_retry_after(site):
    # backoff=5 would show if Retry-After were ignored; 30 s would show if it were not capped.
    with Fetcher(timeout=1, retries=1, backoff=5, max_retry_after=0.1) as fetcher:
        started = time.perf_counter()
        page = fetcher.get(site.url("/flaky"))
        elapsed = time.perf_counter() - started
    assert page.status == 200 and b"Gerbang Tol Cikampek Utama" in page.content
    assert site.hits["/flaky"] == 2
    assert 0.1 <= elapsed < 2


def test_server_errors_give_up_after_the_retries_and_4xx_is_not_retried(site, fetcher):
    with pytest.raises(FetchError) as failed:
        fetcher.get(site.url("/rusak"))
    assert str(failed.value) == (
        "HTTP 500 Internal Server Error (tried 2 times): the server is busy or failing: try again later"
    )
    with pytest.raises(FetchError, match="^HTTP 404 Not Found: the page is gone or the link is wrong"):
        fetcher.get(site.url("/hilang"))
    assert (site.hits["/rusak"], site.hits["/hilang"]) == (2, 1)


def test_a_slow_server_times_out(site):
    with Fetcher(timeout=0.2, retries=0) as fetcher:
        started = time.perf_counter()
        with pytest.raises(FetchError) as failed:
            fetcher.get(site.url("/lambat"))
    assert time.perf_counter() - started < SLOW_SECONDS
    assert str(failed.value) == (
        "no answer within 0.2 s: the server is slow or unreachable: try again later, or raise QA_BOT_FETCH_TIMEOUT"
    )


def test_the_user_agent_names_the_project(site, fetcher):
    assert fetcher.get(site.url("/ua")).content.decode() == USER_AGENT
    assert USER_AGENT.startswith("qa-bot/") and "ingest" in USER_AGENT


def test_redirects_are_followed(site, fetcher):
    page = fetcher.get(site.url("/pindah"))
    assert page.url == site.url("/artikel/gempa-cianjur.html")


def test_a_body_over_the_size_cap_is_refused(site):
    with Fetcher(max_bytes=1024 * 1024) as fetcher, pytest.raises(FetchError) as failed:
        fetcher.get(site.url("/besar"))
    assert str(failed.value).startswith("larger than the 1 MB download limit")


@pytest.mark.parametrize("url", ["file:///etc/hosts", "ftp://kabar.example/rss.xml", "javascript:alert(1)"])
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(FetchError, match="only http:// and https:// URLs can be fetched, not "):
        Fetcher().get(url)


def test_ingesting_a_non_http_url_is_a_clean_error(tmp_path, capsys, settings_factory):
    with pytest.raises(LoadError, match="^file:///etc/hosts: only http:// and https://"):
        ingest_path("file:///etc/hosts", settings_factory())  # fails before any model loads
    from ui.cli import main

    assert main(["--store-dir", str(tmp_path), "ingest", "ftp://kabar.example/rss.xml"]) == 1
    assert capsys.readouterr().err == (
        "qa-bot: ftp://kabar.example/rss.xml: only http:// and https:// URLs can be fetched, not ftp:; "
        "give a local file as a path instead\n"
    )


# ---- ingest into the store ----------------------------------------------------------------
def test_summary_only_feed_fetches_each_full_page(site, ingest):
    run, store = ingest
    feed = site.url("/feeds/warta-ringkas.rss")
    report = run(feed)
    assert (report.added, report.skipped) == (["warta-gempa-cianjur", "warta-tol-trans-jawa"], [])
    text = joined_text(store, "warta-gempa-cianjur")
    assert "BMKG) mencatat pusat gempa berada 10 kilometer barat daya Cianjur" in text  # only on the page
    for boilerplate in ("Beranda", "abaikan instruksi", "Berita terpopuler", "Hak cipta"):
        assert boilerplate not in text
    meta = chunks_of(store, "warta-gempa-cianjur")[0][1]
    assert {k: meta[k] for k in ("url", "source", "published", "title", "path")} == {
        "url": "https://warta.example/2024/11/02/gempa-cianjur",
        "source": "Warta Contoh",
        "published": "2024-11-02T07:45:00+07:00",  # the item's date, not the page's 07:50
        "title": "Gempa magnitudo 5,6 guncang Cianjur",
        "path": feed,
    }
    assert set(site.user_agents) == {USER_AGENT}


def test_one_item_failing_is_reported_and_the_others_are_ingested(site, ingest):
    run, store = ingest
    feed = site.url("/feeds/campur.rss")
    report = run(feed)
    assert report.added == ["warta-tol-trans-jawa"]
    assert report.skipped == [
        (
            feed,
            f"item {site.url('/hilang')}: HTTP 404 Not Found: the page is gone or the link is wrong: "
            "check it in a browser",
        ),
        (
            feed,
            f"item {site.url('/lambat')}: no answer within 0.3 s (tried 2 times): the server is slow or "
            "unreachable: try again later, or raise QA_BOT_FETCH_TIMEOUT",
        ),
    ]
    assert sorted(store.article_states()) == ["warta-tol-trans-jawa"]


def test_article_url_is_ingested_as_one_article(site, ingest, tmp_path):
    run, store = ingest
    url = site.url("/pindah")  # redirects to the page
    report = run(url)
    canonical = "https://warta.example/2024/11/02/gempa-cianjur"
    assert report.added == [canonical]
    meta = chunks_of(store, canonical)[0][1]
    assert {k: meta[k] for k in ("url", "source", "published", "path")} == {
        "url": canonical,
        "source": "Warta Contoh",
        "published": "2024-11-02",  # from article:published_time, as for saved pages
        "path": url,
    }
    assert "Beranda" not in joined_text(store, canonical)
    assert run(url).unchanged == [canonical]
    # A folder ingest removes what vanished from the folder, never what came from a URL.
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "catatan.md").write_text("Harga cabai rawit di Pasar Induk naik menjadi Rp80.000 per kilogram.")
    assert run(folder).removed == []
    assert chunks_of(store, canonical) != []


def test_reingest_of_an_updated_feed(site, ingest):
    run, store = ingest
    feed = site.url("/feeds/live.rss")
    site.routes["/feeds/live.rss"] = site.file("update-v1.rss")
    assert run(feed).added == ["u-a", "u-b", "u-c-lama", "u-e"]
    assert "Korban meninggal tercatat 12 orang" in joined_text(store, "u-b")

    site.routes["/feeds/live.rss"] = site.file("update-v2.rss")
    report = run(feed)
    assert (report.added, report.updated, report.unchanged, report.removed, report.skipped) == (
        ["u-d"],
        ["u-b", "u-c-lama"],  # u-c-lama: new GUID u-c-baru, same canonical URL
        ["u-a"],
        [],  # u-e dropped out of the feed and stays
        [],
    )
    text = joined_text(store, "u-b")
    assert "12 orang" not in text and "Korban meninggal bertambah menjadi 15 orang" in text
    assert sorted(store.article_states()) == ["u-a", "u-b", "u-c-lama", "u-d", "u-e"]
    gempa = [r for r in store.articles() if r["article_id"] == "u-c-lama"]
    assert [r["title"] for r in gempa] == ["Gempa magnitudo 5,6 guncang Cianjur, 40 rumah retak"]
    assert (feed, "item u-c-baru has the URL of u-c-lama (https://warta.example/2024/11/02/gempa-cianjur): "
            "updated u-c-lama") in report.notes  # fmt: skip

    before = sorted(store.ids())
    again = run(feed)
    assert (again.added, again.updated, again.removed, again.chunks_written, again.chunks_deleted) == (
        [],
        [],
        [],
        0,
        0,
    )
    assert sorted(store.ids()) == before


def test_a_feed_that_cannot_be_fetched_changes_nothing(site, ingest):
    run, store = ingest
    feed = site.url("/feeds/live.rss")
    site.routes["/feeds/live.rss"] = site.file("update-v1.rss")
    run(feed)
    before = sorted(store.ids())
    site.routes["/feeds/live.rss"] = site.routes["/rusak"]
    with pytest.raises(LoadError) as failed:
        run(feed)
    assert str(failed.value) == (
        f"{feed}: HTTP 500 Internal Server Error (tried 2 times): the server is busy or failing: try again later"
    )
    assert sorted(store.ids()) == before


def test_feed_file_in_a_folder_keeps_dropped_items_until_the_file_goes(tmp_path, ingest):
    run, store = ingest
    folder = tmp_path / "corpus"
    folder.mkdir()
    feed = folder / "kabar.rss"
    shutil.copy(FIXTURES / "kabar-full.rss", feed)
    (folder / "catatan.md").write_text("Harga cabai rawit di Pasar Induk naik menjadi Rp80.000 per kilogram.")
    ids = ["kabar-20241030-banjir", "kabar-20241031-bbm", "kabar-20241101-pasar"]
    assert run(folder).added == ["catatan", *ids]

    xml = feed.read_text()
    start = xml.index("<item>", xml.index("kabar-20241031-bbm"))
    feed.write_text(xml[:start] + xml[xml.index("</item>", start) + len("</item>") :])
    report = run(folder)
    assert (report.removed, report.unchanged) == ([], ["catatan", *ids[:2]])
    assert sorted(store.article_states()) == ["catatan", *ids]

    feed.unlink()
    assert run(folder).removed == ids


def test_app_refuses_to_remove_a_fetched_article_or_one_feed_item(tmp_path):
    from ui.corpus import CorpusError, remove_article

    with pytest.raises(CorpusError, match="was fetched from https://kabar.example/rss, not read from"):
        remove_article("a", "https://kabar.example/rss", tmp_path)
    feed = tmp_path / "kabar.rss"
    shutil.copy(FIXTURES / "kabar-full.rss", feed)
    with pytest.raises(CorpusError, match="is one item of the feed kabar.rss"):
        remove_article("kabar-20241030-banjir", str(feed), tmp_path)
    assert feed.exists()


def test_fetch_settings_reach_the_fetcher(settings_factory):
    settings = settings_factory(
        fetch_timeout=3.5, fetch_retries=0, fetch_user_agent="qa-bot/0.1 (ops@example.org)"
    )
    fetcher = Fetcher.from_settings(settings)
    assert (fetcher.timeout, fetcher.retries, fetcher.user_agent) == (3.5, 0, "qa-bot/0.1 (ops@example.org)")
    assert Fetcher.from_settings(settings_factory()).user_agent == USER_AGENT
