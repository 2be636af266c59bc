from datetime import date

import pytest

from qa_bot.time.dates import date_in_first_lines, resolve_dates

# The founding article's situation: published Tuesday 29 October 2024.
PUBLISHED = date(2024, 10, 29)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Indonesian
        ("DK PBB bertemu Rabu (30/10) setelah pukul 15.00", ("Rabu (30/10)", "2024-10-30", "2024-10-30")),
        ("pada Senin (21/10) lalu", ("Senin (21/10)", "2024-10-21", "2024-10-21")),
        ("Minggu (27/10) malam", ("Minggu (27/10)", "2024-10-27", "2024-10-27")),
        ("Kamis (31/10/2024)", ("Kamis (31/10/2024)", "2024-10-31", "2024-10-31")),
        ("Putin ke Pyongyang pada 18-19 Juni", ("18-19 Juni", "2024-06-18", "2024-06-19")),
        ("pada 17 Agustus 1945", ("17 Agustus 1945", "1945-08-17", "1945-08-17")),
        ("Ia tiba kemarin.", ("kemarin", "2024-10-28", "2024-10-28")),
        ("kemarin lusa", ("kemarin lusa", "2024-10-27", "2024-10-27")),
        ("hari ini", ("hari ini", "2024-10-29", "2024-10-29")),
        ("besok pagi", ("besok", "2024-10-30", "2024-10-30")),
        ("pekan lalu", ("pekan lalu", "2024-10-21", "2024-10-27")),
        ("minggu depan", ("minggu depan", "2024-11-04", "2024-11-10")),
        ("bulan depan", ("bulan depan", "2024-11-01", "2024-11-30")),
        ("bulan lalu", ("bulan lalu", "2024-09-01", "2024-09-30")),
        ("tahun lalu", ("tahun lalu", "2023-01-01", "2023-12-31")),
        ("Kamis depan", ("Kamis depan", "2024-10-31", "2024-10-31")),
        ("Senin lalu", ("Senin lalu", "2024-10-28", "2024-10-28")),
        ("Selasa mendatang", ("Selasa mendatang", "2024-11-05", "2024-11-05")),
        # English
        ("yesterday", ("yesterday", "2024-10-28", "2024-10-28")),
        ("the day after tomorrow", ("the day after tomorrow", "2024-10-31", "2024-10-31")),
        ("next Thursday", ("next Thursday", "2024-10-31", "2024-10-31")),
        ("last Tuesday", ("last Tuesday", "2024-10-22", "2024-10-22")),
        ("last week", ("last week", "2024-10-21", "2024-10-27")),
        ("next month", ("next month", "2024-11-01", "2024-11-30")),
        ("on October 30", ("October 30", "2024-10-30", "2024-10-30")),
        ("on 30 October 2024", ("30 October 2024", "2024-10-30", "2024-10-30")),
        ("June 18-19", ("June 18-19", "2024-06-18", "2024-06-19")),
    ],
)
def test_resolves_against_publication_date(text, expected):
    found = resolve_dates(text, PUBLISHED)
    assert [(d.text, d.first.isoformat(), d.last.isoformat()) for d in found] == [expected]
    assert text[found[0].start : found[0].end] == expected[0]


@pytest.mark.parametrize(
    ("text", "published", "expected"),
    [
        # The year is the one nearest the publication date, across a new year both ways.
        ("Jumat (3/1)", date(2024, 12, 30), "2025-01-03"),
        ("Senin (30/12)", date(2025, 1, 2), "2024-12-30"),
        ("bulan depan", date(2024, 12, 15), "2025-01-01"),
        ("last month", date(2025, 1, 15), "2024-12-01"),
    ],
)
def test_year_follows_from_publication_date(text, published, expected):
    assert resolve_dates(text, published)[0].first.isoformat() == expected


def test_nothing_without_publication_date_and_impossible_dates_skipped():
    assert resolve_dates("Rabu (30/10) dan kemarin", None) == []
    assert resolve_dates("Senin (31/2)", PUBLISHED) == []
    assert resolve_dates("Skor 2 - 0, harga 15.000", PUBLISHED) == []


def test_several_in_text_order():
    text = "Senin (28/10) Korsel melapor; DK PBB bertemu Rabu (30/10), sehari setelah hari ini."
    assert [d.first.isoformat() for d in resolve_dates(text, PUBLISHED)] == [
        "2024-10-28",
        "2024-10-30",
        "2024-10-29",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Selasa, 29 Oktober 2024 10:30 WIB\nJakarta, CNN Indonesia —\nIsi berita.", "2024-10-29"),
        ("Rabu, 30 Okt 2024 | 06:00 WIB\nIsi berita.", "2024-10-30"),
        ("Judul berita\nDiterbitkan: 2 Januari 2025\nIsi berita.", "2025-01-02"),
        ("29/10/2024 06:00\nIsi berita.", "2024-10-29"),  # day first, as Indonesian writes it
        ("Published: October 29, 2024\nBody.", "2024-10-29"),
        ("Jakarta, 29 Oktober 2024 (ANTARA) - Presiden meresmikan bendungan.", "2024-10-29"),
        # dates inside the story are events, not the article's date
        ("Jakarta, CNN Indonesia — Pada 17 Agustus 1945 Soekarno membacakan proklamasi.", None),
        ("Pada 17 Agustus 1945 Soekarno membacakan proklamasi.\nIsi.", None),
        ("Satu\nDua\nTiga\n29 Oktober 2024", None),  # only the first three lines
        ("31/02/2024\nIsi.", None),
    ],
)
def test_publication_date_stated_at_the_top(body, expected):
    found = date_in_first_lines(body)
    assert (found.isoformat() if found else None) == expected
