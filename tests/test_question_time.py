"""Time in questions: which publication dates a question asks about, with exact dates."""

from __future__ import annotations

from datetime import date

import pytest

from qa_bot.question_time import describe_range, narrow, no_articles_message, time_scope
from qa_bot.types import SearchFilters

TODAY = date(2025, 1, 15)  # a Wednesday

RANGES = [
    # asker-relative time, counted from today
    ("Apa yang terjadi pada pasukan Korea Utara pekan lalu?", "2025-01-06", "2025-01-12", "pekan lalu"),
    ("What happened to North Korean troops last week?", "2025-01-06", "2025-01-12", "last week"),
    ("Berita minggu lalu soal banjir?", "2025-01-06", "2025-01-12", "minggu lalu"),
    ("Apa kata presiden kemarin?", "2025-01-14", "2025-01-14", "kemarin"),
    ("What did the president say yesterday?", "2025-01-14", "2025-01-14", "yesterday"),
    ("Berita hari ini tentang harga beras", "2025-01-15", "2025-01-15", "hari ini"),
    ("What happened this week in Jakarta?", "2025-01-13", "2025-01-15", "this week"),
    ("Banjir pekan ini di Bekasi?", "2025-01-13", "2025-01-15", "pekan ini"),
    ("Berapa harga beras bulan ini?", "2025-01-01", "2025-01-15", "bulan ini"),
    ("What happened last month in Jakarta?", "2024-12-01", "2024-12-31", "last month"),
    ("Siapa juara liga bulan lalu?", "2024-12-01", "2024-12-31", "bulan lalu"),
    ("Apa berita tahun lalu tentang pemilu?", "2024-01-01", "2024-12-31", "tahun lalu"),
    ("Apa kata Zelensky Senin lalu?", "2025-01-13", "2025-01-13", "Senin lalu"),
    # months and years named outright
    (
        "What happened to North Korean troops in November 2024?",
        "2024-11-01",
        "2024-11-30",
        "in November 2024",
    ),
    ("Apa yang terjadi di Kursk pada Oktober 2024?", "2024-10-01", "2024-10-31", "pada Oktober 2024"),
    ("Berita bulan Desember 2024 tentang Kursk", "2024-12-01", "2024-12-31", "bulan Desember 2024"),
    ("Siapa presiden pada tahun 2005?", "2005-01-01", "2005-12-31", "pada tahun 2005"),
    ("Who led NATO in 2024?", "2024-01-01", "2024-12-31", "in 2024"),
    # open ranges
    ("Berapa harga beras sebelum Oktober 2024?", None, "2024-09-30", "sebelum Oktober 2024"),
    ("What was reported after November 2024?", "2024-12-01", None, "after November 2024"),
    ("News about Kursk since 2024", "2024-01-01", None, "since 2024"),
    ("Berita sejak tahun 2023", "2023-01-01", None, "sejak tahun 2023"),
]


@pytest.mark.parametrize(("question", "first", "last", "phrase"), RANGES)
def test_question_ranges(question, first, last, phrase):
    scope = time_scope(question, TODAY)
    assert scope is not None
    assert (scope.first and scope.first.isoformat(), scope.last and scope.last.isoformat()) == (first, last)
    assert scope.phrase == phrase
    assert not scope.recency


@pytest.mark.parametrize(
    "question",
    [
        "Kapan DK PBB menggelar pertemuan?",
        # a full day names when something happened, not when it was reported
        "Hingga Jumat 12 Agustus 2005, berapa korban tsunami?",
        "Apa yang terjadi pada 30 Oktober 2024?",
        "What happened on October 30, 2024?",
        # a bare year may be a count or a score
        "Berapa skor 2024 pertandingan itu?",
        "Pertemuan dimulai setelah pukul 15.00?",
    ],
)
def test_questions_without_publication_time(question):
    assert time_scope(question, TODAY) is None


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("What is the latest news about North Korean troops?", "What is news about North Korean troops?"),
        ("Apa berita terbaru tentang pasukan Korea Utara?", "Apa berita tentang pasukan Korea Utara?"),
        ("Perkembangan terkini banjir Bekasi", "Perkembangan banjir Bekasi"),
        ("What is the most recent report on rice prices?", "What is report on rice prices?"),
        ("Berita paling baru soal Kursk pekan lalu?", "Berita soal Kursk?"),
    ],
)
def test_recency_words_mark_the_question_and_leave_the_search(question, query):
    scope = time_scope(question, TODAY)
    assert scope is not None and scope.recency
    assert scope.query == query


def test_latest_with_a_range_keeps_both():
    scope = time_scope("Berita terbaru soal Kursk pekan lalu?", TODAY)
    assert scope.recency and (scope.first, scope.last) == (date(2025, 1, 6), date(2025, 1, 12))


def test_narrow_intersects_with_the_callers_dates():
    caller = SearchFilters(("Kabar Dunia",), date(2024, 12, 1), date(2025, 3, 1))
    assert narrow(caller, date(2024, 11, 1), date(2024, 12, 31)) == SearchFilters(
        ("Kabar Dunia",), date(2024, 12, 1), date(2024, 12, 31)
    )
    assert narrow(None, None, date(2024, 9, 30)) == SearchFilters((), None, date(2024, 9, 30))
    assert narrow(caller, date(2023, 1, 1), date(2023, 12, 31)) is None


def test_ranges_are_described_in_both_languages():
    assert describe_range(date(2025, 1, 6), date(2025, 1, 12), "en") == "6-12 January 2025"
    assert describe_range(None, date(2024, 9, 30), "id") == "sebelum Selasa, 1 Oktober 2024"
    assert describe_range(date(2024, 1, 1), None, "en") == "from Monday 1 January 2024"


def test_no_articles_message_names_the_time_and_the_corpus_span():
    scope = time_scope("Berita pasukan Korut pada Maret 2023?", TODAY)
    text = no_articles_message(scope, (date(2024, 10, 29), date(2025, 2, 3)), "id")
    assert '"pada Maret 2023": Maret 2023' in text
    assert "Selasa, 29 Oktober 2024 dan Senin, 3 Februari 2025" in text
    text = no_articles_message(
        time_scope("News last week?", TODAY), (date(2024, 10, 29), date(2025, 2, 3)), "en"
    )
    assert '"last week": 6-12 January 2025' in text and "ingest newer articles" in text
    assert "from Tuesday 29 October 2024 to Monday 3 February 2025" in text
    one_day = no_articles_message(
        time_scope("Berapa harga minyak hari ini?", TODAY), (date(2024, 10, 29),) * 2, "id"
    )
    assert "terbit pada Selasa, 29 Oktober 2024:" in one_day


@pytest.mark.parametrize(
    ("question", "bound", "event", "year"),
    [
        ("What did the KPU say before the election?", "before", "election", None),
        ("Apa kata KPU menjelang pilkada?", "before", "election", None),
        ("Siapa yang unggul setelah pilkada 2024?", "after", "election", 2024),
        ("Harga tiket pesawat sejak Lebaran", "since", "eid", None),
        ("What happened after the summit?", "after", "summit", None),
        ("Apa kata Prabowo usai pelantikan?", "after", "inauguration", None),
    ],
)
def test_event_bounds_are_recognised(question, bound, event, year):
    from qa_bot.event_time import event_bound

    found = event_bound(question)
    assert (found.bound, found.event, found.year) == (bound, event, year)


@pytest.mark.parametrize(
    "question",
    [
        "Apa kata Yoon setelah bertemu Rutte?",  # an ordinary question, not a public event
        "Apa yang dilakukan polisi setelah kejadian itu?",
        "Siapa yang menjabat sebelum Mark Rutte?",
        "Pertemuan berlangsung setelah pukul 15.00",
    ],
)
def test_ordinary_before_and_after_are_not_event_bounds(question):
    from qa_bot.event_time import event_bound

    assert event_bound(question) is None


def test_event_ranges_exclude_the_event_day_except_since():
    from qa_bot.event_time import EventBound, event_range

    day = date(2024, 11, 27)
    assert event_range(EventBound("before", "election", "", None), day) == (None, date(2024, 11, 26))
    assert event_range(EventBound("after", "election", "", None), day) == (date(2024, 11, 28), None)
    assert event_range(EventBound("since", "election", "", None), day) == (day, None)
