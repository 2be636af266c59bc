import json
from pathlib import Path

import pytest

from ingest.article import LoadError, normalise_published, parse_dateline
from ingest.loaders import discover, load_file


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def test_txt_without_metadata_takes_source_and_place_from_dateline(tmp_path):
    p = write(
        tmp_path,
        "berita.txt",
        "Jakarta, CNN Indonesia —\nSekretaris Jenderal NATO Mark Rutte mengatakan hal itu.",
    )
    (article,) = load_file(p).articles
    assert (article.id, article.source, article.place) == ("berita", "CNN Indonesia", "Jakarta")
    assert article.title == "Sekretaris Jenderal NATO Mark Rutte mengatakan hal itu."
    assert article.language == "id"
    assert article.path == str(p.resolve())


def test_front_matter_fields_are_used(tmp_path):
    p = write(
        tmp_path,
        "a.md",
        "---\nid: nato-1\ntitle: NATO bergerak\nsource: Antara\nurl: https://example.org/a\n"
        "published: 2024-10-29\nlanguage: id\n---\nIsi berita di sini.\n",
    )
    (a,) = load_file(p).articles
    assert (a.id, a.title, a.source, a.url, a.published, a.language, a.text) == (
        "nato-1",
        "NATO bergerak",
        "Antara",
        "https://example.org/a",
        "2024-10-29",
        "id",
        "Isi berita di sini.",
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", "", "the file is empty"),
        ("blank.txt", "  \n\n", "the file is empty"),
        ("bin.txt", b"\x00\x01\x02abc", "binary file (NUL bytes): save the article as UTF-8 text"),
        ("bad.md", "---\ntitle: [unclosed\n---\nteks", "front matter is not valid YAML"),
        # A control character: YAML's ReaderError, which carries no separate problem text.
        (
            "ctrl.md",
            "---\ntitle: a\x01b\n---\nteks",
            "front matter is not valid YAML (unacceptable character",
        ),
        ("list.md", "---\n- a\n- b\n---\nteks", "front matter must be 'key: value' lines"),
        ("notext.md", "---\ntitle: x\n---\n\n", "the article has no text"),
        ("bad.jsonl", "{not json}\n", "no article could be read: line 1: not valid JSON"),
    ],
)
def test_bad_files_raise_load_error_with_reason(tmp_path, name, content, message):
    with pytest.raises(LoadError) as err:
        load_file(write(tmp_path, name, content))
    assert str(err.value).startswith(message)


def test_unknown_front_matter_fields_are_ignored_and_noted(tmp_path):
    loaded = load_file(write(tmp_path, "a.md", "---\nauthor: x\ntags: [a]\n---\nTeks berita."))
    assert loaded.articles[0].text == "Teks berita."
    known = "id, title, source, url, published, language"
    assert loaded.notes == (f"ignored field(s) author, tags (known: {known})",)


def test_windows_1252_is_decoded_and_noted(tmp_path):
    p = write(tmp_path, "cp.txt", "Caf\u00e9 \u201cbaru\u201d dibuka di Bandung.".encode("cp1252"))
    loaded = load_file(p)
    assert loaded.articles[0].text == "Caf\u00e9 \u201cbaru\u201d dibuka di Bandung."
    assert loaded.notes == ("not UTF-8: decoded as Windows-1252",)


def test_jsonl_keeps_good_lines_and_reports_bad_ones(tmp_path):
    lines = [
        json.dumps(
            {
                "id": "x1",
                "title": "Satu",
                "text": "Teks satu.",
                "source": "Antara",
                "source_url": "https://e.org/1",
            }
        ),
        "{broken",
        json.dumps({"id": "x2", "text": 5}),
        json.dumps({"text": "Teks tanpa id."}),
    ]
    loaded = load_file(write(tmp_path, "feed.jsonl", "\n".join(lines)))
    assert [(a.id, a.url) for a in loaded.articles] == [("x1", "https://e.org/1"), ("feed-533d7111621c", "")]
    assert loaded.problems == (
        "line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        'line 3: missing "text" string',
    )


def test_discover_lists_supported_files_and_reports_others(tmp_path):
    write(tmp_path, "b.txt", "x")
    write(tmp_path, "a.md", "x")
    write(tmp_path, "c.pdf", "x")
    write(tmp_path, ".hidden.txt", "x")
    files, skipped = discover(tmp_path)
    assert [f.name for f in files] == ["a.md", "b.txt"]
    assert [(p.name, why) for p, why in skipped] == [
        (
            "c.pdf",
            "unsupported file type .pdf: use .txt, .md, .jsonl, .html or an RSS/Atom feed (.xml, .rss, .atom)",
        )
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("", ""),
        ("2024-10-29", "2024-10-29"),
        ("2024-10-29T08:15:00+07:00", "2024-10-29T08:15:00+07:00"),
        ("2024-10-29T01:15:00Z", "2024-10-29T01:15:00+00:00"),
    ],
)
def test_normalise_published_table(value, expected):
    assert normalise_published(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jakarta, CNN Indonesia —\nIsi", ("Jakarta", "CNN Indonesia")),
        ("JAKARTA, KOMPAS.com - Isi", ("Jakarta", "KOMPAS.com")),
        ("Jakarta (ANTARA) - Isi", ("Jakarta", "ANTARA")),
        ("Presiden berkata, hari ini cerah.", ("", "")),
        ("Kupang (ANTARA News) -Ketua Umum", ("Kupang", "ANTARA News")),
        ("Jakarta, CNN Indonesia--Isi", ("Jakarta", "CNN Indonesia")),
        # A hyphen joining a word is no dateline dash (the lede names no source).
        ("Warga Cianjur, termasuk anak-anak, mengungsi.", ("", "")),
        ("Dulu, orang-orang Eropa menganggap sepak bola China menyenangkan.", ("", "")),
    ],
)
def test_parse_dateline_table(text, expected):
    assert parse_dateline(text) == expected


def test_publication_date_from_the_first_lines_is_noted_and_front_matter_wins(tmp_path):
    from ingest.loaders import load_file

    stated = tmp_path / "a.txt"
    stated.write_text(
        "Selasa, 29 Oktober 2024 10:30 WIB\nJakarta, CNN Indonesia —\nIsi berita.\n", encoding="utf-8"
    )
    loaded = load_file(stated)
    assert loaded.articles[0].published == "2024-10-29"
    assert "publication date 2024-10-29 read from the article's first lines" in loaded.notes
    both = tmp_path / "b.txt"
    both.write_text(
        "---\npublished: 2024-10-30\n---\nSelasa, 29 Oktober 2024\nIsi berita.\n", encoding="utf-8"
    )
    assert load_file(both).articles[0].published == "2024-10-30"
    undated = tmp_path / "c.txt"
    undated.write_text("Pada 17 Agustus 1945 Soekarno membacakan proklamasi.\n", encoding="utf-8")
    assert load_file(undated).articles[0].published == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("29/10/2024", "2024-10-29"),
        ("29-10-2024", "2024-10-29"),
        ("1/2/2024", "2024-02-01"),
        ("29 Oktober 2024", "2024-10-29"),
        ("Selasa, 29/10/2024 10:30 WIB", "2024-10-29"),
        (20241029, "2024-10-29"),
        ("  ", ""),
    ],
)
def test_normalise_published_reads_day_first_dates(value, expected):
    assert normalise_published(value) == expected


# (published as written in front matter or JSON, what the note says is wrong)
BAD_DATES = [
    ("2024-13-45", "'2024-13-45'"),
    ("29/13/2024", "'29/13/2024': there is no such day"),
    ("31-02-2024", "'31-02-2024': there is no such day"),
    ("kemarin", "'kemarin'"),
    (1730160000, "1730160000 is a number: a Unix timestamp?"),
]
EXPECTED_FORM = "write it as YYYY-MM-DD (e.g. 2024-10-29) or DD/MM/YYYY"


@pytest.mark.parametrize(("value", "detail"), BAD_DATES)
def test_invalid_published_in_front_matter_keeps_the_article_undated_with_a_note(tmp_path, value, detail):
    loaded = load_file(write(tmp_path, "a.md", f"---\npublished: {value}\n---\nTeks berita.\n"))
    assert [(a.id, a.published, a.text) for a in loaded.articles] == [("a", "", "Teks berita.")]
    assert loaded.notes == (
        f'"published" is not a date ({detail}), so the article is kept undated: {EXPECTED_FORM}',
    )


@pytest.mark.parametrize(("value", "detail"), BAD_DATES)
def test_invalid_published_in_jsonl_keeps_the_article_undated_with_a_note_on_its_line(
    tmp_path, value, detail
):
    lines = [
        json.dumps({"id": "a", "text": "Teks satu.", "published": "2024-10-29"}),
        json.dumps({"id": "b", "text": "Teks dua.", "published": value}),
    ]
    loaded = load_file(write(tmp_path, "f.jsonl", "\n".join(lines) + "\n"))
    assert [(a.id, a.published) for a in loaded.articles] == [("a", "2024-10-29"), ("b", "")]
    assert loaded.problems == ()
    assert loaded.notes == (
        f'line 2: "published" is not a date ({detail}), so the article is kept undated: {EXPECTED_FORM}',
    )


def test_invalid_published_does_not_fall_back_to_a_date_in_the_first_lines(tmp_path):
    p = write(tmp_path, "a.md", "---\npublished: 2024-13-45\n---\nSelasa, 29 Oktober 2024\nTeks berita.\n")
    assert load_file(p).articles[0].published == ""


TEXT_16 = "Harga cabai naik “tajam” di Jakarta.\r\nPedagang mengeluh.\n"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (TEXT_16.encode("utf-16"), "UTF-16"),  # the platform's order, with its mark
        (b"\xfe\xff" + TEXT_16.encode("utf-16-be"), "UTF-16"),
        (b"\xff\xfe" + TEXT_16.encode("utf-16-le"), "UTF-16"),
        (TEXT_16.encode("utf-32"), "UTF-32"),
    ],
    ids=["utf-16", "utf-16-be", "utf-16-le", "utf-32"],
)
def test_utf16_and_utf32_with_a_byte_order_mark_are_decoded_and_noted(tmp_path, data, name):
    loaded = load_file(write(tmp_path, "a.txt", data))
    assert loaded.articles[0].text == TEXT_16.strip()
    assert loaded.notes == (f"not UTF-8: decoded as {name} (it starts with a byte-order mark)",)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_named(tmp_path, encoding):
    with pytest.raises(LoadError) as err:
        load_file(write(tmp_path, "a.txt", TEXT_16.encode(encoding)))
    assert str(err.value) == "looks like UTF-16 without a byte-order mark: save it as UTF-8"


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02abc", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), b"\x00" * 64],
    ids=["short", "png", "zeros"],
)
def test_binary_data_is_not_taken_for_utf16(tmp_path, data):
    with pytest.raises(LoadError) as err:
        load_file(write(tmp_path, "a.txt", data))
    assert str(err.value) == "binary file (NUL bytes): save the article as UTF-8 text"


@pytest.mark.parametrize("char", ["\u0085", "\u2028", "\u2029"], ids=["NEL", "LS", "PS"])
def test_jsonl_is_split_on_newlines_only(tmp_path, char):
    records = [
        {"id": "a", "text": "Satu."},
        {"id": "b", "text": f"Gempa mengguncang Cianjur.{char}Warga mengungsi."},
        {"id": "c", "text": "Tiga."},
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + ["{rusak"]
    assert char in lines[1]
    loaded = load_file(write(tmp_path, "f.jsonl", "\r\n".join(lines) + "\r\n"))
    assert [(a.id, a.text) for a in loaded.articles] == [(r["id"], r["text"]) for r in records]
    assert loaded.problems == ("line 4: not valid JSON (Expecting property name enclosed in double quotes)",)


def test_jsonl_first_record_after_a_utf8_byte_order_mark_is_read(tmp_path):
    data = b"\xef\xbb\xbf" + json.dumps({"id": "a", "text": "Satu."}).encode() + b"\n"
    assert [a.id for a in load_file(write(tmp_path, "f.jsonl", data)).articles] == ["a"]


def test_article_path_is_absolute_but_not_resolved_through_a_link(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/asli.txt", "Teks berita.")
    (tmp_path / "tautan.txt").symlink_to(tmp_path / "sub" / "asli.txt")
    assert load_file(tmp_path / "tautan.txt").articles[0].path == str(tmp_path / "tautan.txt")


@pytest.mark.parametrize(
    ("lede", "title", "place", "source"),
    [
        (
            "Bandung, Kompas - Pemerintah provinsi Jawa Barat menaikkan upah minimum 6,5 persen. "
            "Kenaikan itu diumumkan pada Senin pagi.",
            "Pemerintah provinsi Jawa Barat menaikkan upah minimum 6,5 persen.",
            "Bandung",
            "Kompas",
        ),
        (
            "JAKARTA, KOMPAS.com — Presiden melantik tiga menteri baru di Istana Negara. "
            "Pelantikan berlangsung pada pagi hari.",
            "Presiden melantik tiga menteri baru di Istana Negara.",
            "Jakarta",
            "KOMPAS.com",
        ),
        (
            "Jakarta (ANTARA) - Bank Indonesia mempertahankan suku bunga acuan di level 6 persen. "
            "Keputusan itu diambil dalam rapat kemarin.",
            "Bank Indonesia mempertahankan suku bunga acuan di level 6 persen.",
            "Jakarta",
            "ANTARA",
        ),
    ],
    ids=["comma-hyphen", "comma-em-dash", "agency-in-parentheses"],
)
def test_title_from_text_is_the_first_sentence_without_its_dateline(tmp_path, lede, title, place, source):
    (article,) = load_file(write(tmp_path, "berita.txt", lede)).articles
    assert (article.title, article.place, article.source) == (title, place, source)


def test_title_from_text_keeps_a_first_sentence_with_a_hyphenated_word(tmp_path):
    # "Warga Cianjur, termasuk anak-" fits the dateline pattern; neither is it cut off nor
    # is the whole sentence skipped for it.
    lede = "Warga Cianjur, termasuk anak-anak, mengungsi ke tenda darurat. Hujan turun sepanjang malam itu."
    (article,) = load_file(write(tmp_path, "berita.txt", lede)).articles
    assert article.title == "Warga Cianjur, termasuk anak-anak, mengungsi ke tenda darurat."


def test_title_from_text_after_a_dateline_keeps_the_length_rules(tmp_path):
    short_first = (
        "Jakarta (ANTARA) - Harga naik. Bank Indonesia mempertahankan suku bunga acuan di level 6 persen."
    )
    (article,) = load_file(write(tmp_path, "a.txt", short_first)).articles
    assert article.title == "Bank Indonesia mempertahankan suku bunga acuan di level 6 persen."
    long_first = (
        "Jakarta (ANTARA) - Bank Indonesia mempertahankan suku bunga acuan di level 6 persen dan "
        "menyatakan bahwa inflasi tetap terkendali di dalam kisaran sasaran tahun ini dan tahun depan."
    )
    (article,) = load_file(write(tmp_path, "b.txt", long_first)).articles
    assert article.title == (
        "Bank Indonesia mempertahankan suku bunga acuan di level 6 persen dan menyatakan bahwa inflasi "
        "tetap terkendali di…"
    )
