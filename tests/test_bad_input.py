"""Bad input, end to end: each row replaces a good article file with a bad one and ingests
the folder again (real Chroma, real embeddings). The report must say what is wrong and
what to do, and nothing else may be lost: the file's earlier articles stay, and so does
the rest of the corpus. The question rows (empty, 100,000 characters) are in
tests/test_bot.py; upload names with separators or ``..`` are at the end of this file.
"""

from __future__ import annotations

import json

import pytest

from ingest.pipeline import ingest_path
from qa_bot.corpus.store import ChunkStore

GOOD = (
    "---\ntitle: Harga cabai naik\nsource: Antara\npublished: 2024-10-28\n---\n"
    "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.\n"
)
OTHER = "Banjir setinggi 50 sentimeter merendam tiga kelurahan di Semarang pada Senin pagi.\n"


def jsonl(*records: dict) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


SCRIPT_PAGE = (
    "<html><head><title>Berita</title>"
    + "<script>var x = 1; function f(){return x;}</script>" * 2000
    + "</head><body><script>document.write('iklan')</script></body></html>"
).encode()

# (file name, bad content, fragments of the message in the report)
ROWS = [
    ("berita.md", b"", ["the file is empty"]),
    ("berita.md", b"  \n\n\t", ["the file is empty"]),
    ("berita.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), ["binary file", "UTF-8"]),
    ("berita.md", b"Harga naik " + b"\x81\x8d\x8f\x90\x9d" * 3, ["not UTF-8 text", "iconv"]),
    ("berita.md", b"x" * 50_000_000, ["50.0 MB", "over the 10 MB limit", "QA_BOT_MAX_FILE_MB"]),
    ("berita.html", SCRIPT_PAGE, ["no article text in the page"]),
    ("berita.md", b"---\ntitle: Hanya judul\n---\n\n", ["the article has no text"]),
    ("berita.md", b"---\ntitle: [tidak ditutup\n---\nIsi.\n", ["front matter"]),
    (
        "berita.jsonl",
        jsonl({"id": "a", "text": "x " * 60_000}),
        ["120,000 characters long", "100,000 limit", "QA_BOT_MAX_ARTICLE_CHARS"],
    ),
    (
        "berita.md",
        "Harga cabai rawit naik menjadi Rp80.000 per kilogram.\n".encode("utf-16-le"),
        ["looks like UTF-16 without a byte-order mark: save it as UTF-8"],
    ),
]


@pytest.fixture
def ingest(settings_factory, embedder):
    def make():
        settings = settings_factory()
        store = ChunkStore.from_settings(settings, embedder.name)
        return (lambda path: ingest_path(path, settings, store=store, embedder=embedder)), store

    return make


def texts_by_article(store) -> dict[str, str]:
    ids, texts, metas = store.all_chunks()
    out: dict[str, list[tuple[int, str]]] = {}
    for text, meta in zip(texts, metas, strict=True):
        out.setdefault(meta["article_id"], []).append((meta["chunk_index"], text))
    return {a: " ".join(t for _, t in sorted(parts)) for a, parts in out.items()}


@pytest.mark.parametrize(("name", "content", "fragments"), ROWS, ids=lambda v: str(v)[:30])
def test_bad_file_is_reported_and_loses_nothing(ingest, tmp_path, name, content, fragments):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lain.md").write_text(OTHER)
    target = corpus / name
    if name.endswith(".jsonl"):
        target.write_bytes(jsonl({"id": "a", "text": "Gempa mengguncang Cianjur pada Senin."}))
    elif name.endswith(".html"):
        target.write_text(
            "<html><head><title>Gempa Cianjur</title></head><body><article><p>"
            + "Gempa bermagnitudo 5,6 mengguncang Cianjur pada Senin siang. " * 5
            + "</p></article></body></html>"
        )
    else:
        target.write_text(GOOD)
    run, store = ingest()
    run(corpus)
    before = texts_by_article(store)
    assert len(before) == 2

    target.write_bytes(content)
    report = run(corpus)

    problems = [why for what, why in report.skipped if name in what]
    assert len(problems) == 1, report.skipped
    for fragment in fragments:
        assert fragment in problems[0]
    assert report.removed == [] and report.added == [] and report.updated == []
    assert texts_by_article(store) == before  # the file's earlier article and the rest stay
    assert "skipped" in report.render()


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "“Kami menolak,” kata Menteri — harga naik 5‰ sejak Januari."),
        ("latin-1", "Café di Bandung menaikkan harga kopi menjadi Rp25.000 per cangkir."),
    ],
)
def test_windows_1252_and_latin_1_news_is_read_with_a_note(ingest, tmp_path, encoding, text):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lama.txt").write_bytes(text.encode(encoding))
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["lama"]
    assert texts_by_article(store)["lama"] == text
    assert any("decoded as Windows-1252" in note for _, note in report.notes), report.notes


def test_malformed_jsonl_line_among_good_ones(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [
        json.dumps({"id": "a", "text": "Gempa mengguncang Cianjur pada Senin."}),
        '{"id": "b", "text": "tidak ditutup',
        json.dumps(["bukan", "objek"]),
        json.dumps({"id": "c"}),
        json.dumps({"id": "d", "text": "Harga beras turun di Pasar Cipinang."}),
    ]
    (corpus / "campur.jsonl").write_text("\n".join(lines) + "\n")
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["a", "d"]
    assert [why for _, why in report.skipped] == [
        "line 2: not valid JSON (Unterminated string starting at)",
        "line 3: a line must be a JSON object",
        'line 4: missing "text" string',
    ]
    # The bad lines are fixed later: the good ones are not touched, the fixed one is added.
    lines[1] = json.dumps({"id": "b", "text": "Kereta cepat menambah jadwal."})
    (corpus / "campur.jsonl").write_text("\n".join(lines) + "\n")
    report = run(corpus)
    assert (report.added, report.unchanged) == (["b"], ["a", "d"])


def test_duplicate_article_ids_keep_the_first_and_name_it(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_bytes(jsonl({"id": "sama", "text": "Versi pertama berita."}))
    (corpus / "b.jsonl").write_bytes(jsonl({"id": "sama", "text": "Versi kedua berita."}))
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["sama"]
    assert report.skipped == [
        (f"{corpus / 'b.jsonl'} (sama)", f"duplicate article id, first seen in {corpus / 'a.jsonl'}")
    ]
    assert texts_by_article(store) == {"sama": "Versi pertama berita."}


def test_huge_single_line_is_chunked_into_searchable_pieces(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    words = [f"kata{n}" for n in range(11_000)]  # ~85k characters, one line, no full stop
    (corpus / "satu-baris.jsonl").write_bytes(jsonl({"id": "baris", "text": " ".join(words)}))
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["baris"] and report.skipped == []
    _, texts, _ = store.all_chunks()
    assert all(len(t) <= 500 for t in texts)
    assert " ".join(texts).split() == words


@pytest.mark.parametrize(
    "name",
    ["berita (1).md", "berita–terbaru ü.md", "nama dengan spasi.txt", "-awal-strip.md", "a..b.md"],
)
def test_unusual_but_valid_file_names_ingest(ingest, tmp_path, name):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / name).write_text(GOOD)
    run, store = ingest()
    report = run(corpus)
    assert report.added == [name.rsplit(".", 1)[0]] and report.skipped == []


@pytest.mark.parametrize(
    ("name", "saved"),
    [
        ("../../etc/cron.d/x.md", "x.md"),
        ("..\\..\\windows\\x.md", "x.md"),
        ("/etc/passwd.txt", "passwd.txt"),
        ("sub/dir/berita.md", "berita.md"),
        ("..md", "md"),
    ],
)
def test_upload_names_with_separators_or_dotdot_stay_in_the_corpus(tmp_path, name, saved):
    from ui.corpus import CorpusError, save_uploads

    corpus = tmp_path / "corpus"
    upload = tmp_path / "upload.tmp"
    upload.write_text(GOOD)
    try:
        names = save_uploads([str(upload)], [name], corpus)
    except CorpusError as exc:
        assert "file name" in str(exc) or "only" in str(exc)
        names = []
    assert names in ([saved], [])
    assert all(p.parent == corpus for p in corpus.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "upload.tmp"]


@pytest.mark.parametrize(
    ("value", "detail"),
    [("2024-13-45", "'2024-13-45'"), ("1730160000", "1730160000 is a number: a Unix timestamp?")],
)
def test_invalid_published_keeps_the_article_undated_with_a_note(ingest, tmp_path, value, detail):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "berita.md").write_text(GOOD)
    run, store = ingest()
    run(corpus)
    (corpus / "berita.md").write_text(GOOD.replace("published: 2024-10-28", f"published: {value}"))
    report = run(corpus)
    assert (report.updated, report.removed, report.skipped) == (["berita"], [], [])
    assert report.notes == [
        (
            str(corpus / "berita.md"),
            f'"published" is not a date ({detail}), so the article is kept undated: '
            "write it as YYYY-MM-DD (e.g. 2024-10-29) or DD/MM/YYYY",
        )
    ]
    assert [a["published"] for a in store.articles()] == [""]


def test_day_first_published_is_read(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "berita.md").write_text(GOOD.replace("published: 2024-10-28", "published: 29/10/2024"))
    run, store = ingest()
    assert (run(corpus).notes, [a["published"] for a in store.articles()]) == ([], ["2024-10-29"])


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("“Kami menolak,” kata Menteri — harga naik 5‰.".encode("utf-16"), "UTF-16"),
        (b"\xfe\xff" + "“Kami menolak,” kata Menteri — harga naik 5‰.".encode("utf-16-be"), "UTF-16"),
    ],
    ids=["utf-16-le", "utf-16-be"],
)
def test_utf16_news_with_a_byte_order_mark_is_read_with_a_note(ingest, tmp_path, data, name):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lama.txt").write_bytes(data)
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["lama"]
    assert texts_by_article(store)["lama"] == "“Kami menolak,” kata Menteri — harga naik 5‰."
    assert report.notes == [
        (str(corpus / "lama.txt"), f"not UTF-8: decoded as {name} (it starts with a byte-order mark)")
    ]


@pytest.mark.parametrize("char", ["\u0085", "\u2028", "\u2029"], ids=["NEL", "LS", "PS"])
def test_jsonl_text_with_unicode_line_breaks_loses_no_article_and_no_line_number(ingest, tmp_path, char):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    records = [
        {"id": "a", "text": f"Gempa mengguncang Cianjur.{char}Warga mengungsi ke tenda darurat."},
        {"id": "b", "text": f"Harga beras turun.{char}{char}Pedagang di Pasar Cipinang lega."},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + ['{"id": "c"}']
    (corpus / "campur.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run, store = ingest()
    report = run(corpus)
    assert report.added == ["a", "b"]
    assert report.skipped == [(str(corpus / "campur.jsonl"), 'line 3: missing "text" string')]
    assert texts_by_article(store) == {r["id"]: r["text"] for r in records}


def test_link_loop_in_place_of_an_article_is_reported(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lain.md").write_text(OTHER)
    (corpus / "berita.md").write_text(GOOD)
    run, store = ingest()
    run(corpus)
    (corpus / "berita.md").unlink()
    (corpus / "berita.md").symlink_to(corpus / "berita.md")
    report = run(corpus)
    assert report.skipped == [
        (
            str(corpus / "berita.md"),
            "link loop (the link leads back to itself through other links): delete it, or point it at "
            "a file in the folder",
        )
    ]
    # The file is gone (a link that leads nowhere took its place), so is its article.
    assert (report.removed, report.unchanged) == (["berita"], ["lain"])


def test_file_name_with_control_characters_is_escaped_in_the_report(ingest, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "berita\nbaru\x1b[2J.md").write_text(GOOD)
    (corpus / "kosong\r.md").write_text("")
    run, _ = ingest()
    report = run(corpus)
    assert report.render().splitlines()[1:] == [
        "  added: berita\\nbaru\\x1b[2J",
        f"  skipped: {corpus}/kosong\\r.md: the file is empty",
    ]
    assert report.to_dict()["added"] == ["berita\nbaru\x1b[2J"]
    assert report.to_dict()["skipped"] == [{"what": str(corpus / "kosong\r.md"), "why": "the file is empty"}]
