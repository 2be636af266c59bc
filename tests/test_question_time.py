"""Time in questions: which publication dates a question asks about, with exact dates."""

from __future__ import annotations

from datetime import date

import pytest

from qa_bot.time.question import (
    asks_for_news_of_time,
    describe_range,
    narrow,
    no_articles_message,
    prefer_period,
    time_scope,
)
from qa_bot.types import Passage, SearchFilters

TODAY = date(2025, 1, 15)  # a Wednesday

# question -> (narrows by publication date?, first, last, the question's words for the range)
RANGES = [
    # asker-relative time, counted from today: the news of that time, so it narrows
    ("Apa yang terjadi pada pasukan Korea Utara pekan lalu?", True, "2025-01-06", "2025-01-12", "pekan lalu"),
    ("What happened to North Korean troops last week?", True, "2025-01-06", "2025-01-12", "last week"),
    ("Berita minggu lalu soal banjir?", True, "2025-01-06", "2025-01-12", "minggu lalu"),
    ("Apa kata presiden kemarin?", True, "2025-01-14", "2025-01-14", "kemarin"),
    ("What did the president say yesterday?", True, "2025-01-14", "2025-01-14", "yesterday"),
    ("Berita hari ini tentang harga beras", True, "2025-01-15", "2025-01-15", "hari ini"),
    ("What happened this week in Jakarta?", True, "2025-01-13", "2025-01-15", "this week"),
    ("Banjir pekan ini di Bekasi?", True, "2025-01-13", "2025-01-15", "pekan ini"),
    ("Berapa harga beras bulan ini?", True, "2025-01-01", "2025-01-15", "bulan ini"),
    ("What happened last month in Jakarta?", True, "2024-12-01", "2024-12-31", "last month"),
    ("Siapa juara liga bulan lalu?", True, "2024-12-01", "2024-12-31", "bulan lalu"),
    ("Apa berita tahun lalu tentang pemilu?", True, "2024-01-01", "2024-12-31", "tahun lalu"),
    ("Apa kata Zelensky Senin lalu?", True, "2025-01-13", "2025-01-13", "Senin lalu"),
    # months and years in a request for news: when the news was published, so they narrow
    (
        "What happened to North Korean troops in November 2024?",
        True,
        "2024-11-01",
        "2024-11-30",
        "in November 2024",
    ),
    ("What happened in October 2024?", True, "2024-10-01", "2024-10-31", "in October 2024"),
    ("Apa yang terjadi di Kursk pada Oktober 2024?", True, "2024-10-01", "2024-10-31", "pada Oktober 2024"),
    ("Apa yang terjadi pada Oktober 2024?", True, "2024-10-01", "2024-10-31", "pada Oktober 2024"),
    ("Berita Oktober 2024", True, "2024-10-01", "2024-10-31", "Oktober 2024"),
    ("Berita bulan Desember 2024 tentang Kursk", True, "2024-12-01", "2024-12-31", "bulan Desember 2024"),
    ("News from October 2024 about Kursk", True, "2024-10-01", "2024-10-31", "from October 2024"),
    ("Berita tahun 2022 soal KPK", True, "2022-01-01", "2022-12-31", "tahun 2022"),
    ("Artikel tahun 2022 tentang KPK", True, "2022-01-01", "2022-12-31", "tahun 2022"),
    ("News from 2022 about the KPK", True, "2022-01-01", "2022-12-31", "from 2022"),
    # months and years in any other question: when something happened, so they only rank
    ("Berapa persen realisasi anggaran KPK pada 2022?", False, "2022-01-01", "2022-12-31", "pada 2022"),
    ("How much of its budget did the KPK spend in 2022?", False, "2022-01-01", "2022-12-31", "in 2022"),
    ("Siapa presiden pada tahun 2005?", False, "2005-01-01", "2005-12-31", "pada tahun 2005"),
    ("Who led NATO in 2024?", False, "2024-01-01", "2024-12-31", "in 2024"),
    ("Berapa harga beras pada Oktober 2024?", False, "2024-10-01", "2024-10-31", "pada Oktober 2024"),
    # open ranges: narrow with a request for news, else rank
    ("Berapa harga beras sebelum Oktober 2024?", False, None, "2024-09-30", "sebelum Oktober 2024"),
    ("Berapa harga beras sebelum 2024?", False, None, "2023-12-31", "sebelum 2024"),
    ("How much has inflation risen since 2023?", False, "2023-01-01", None, "since 2023"),
    ("Siapa yang memimpin KPK setelah Desember 2019?", False, "2020-01-01", None, "setelah Desember 2019"),
    ("What was reported after November 2024?", True, "2024-12-01", None, "after November 2024"),
    ("Apa yang diberitakan sejak Oktober 2024?", True, "2024-10-01", None, "sejak Oktober 2024"),
    ("News about Kursk since 2024", True, "2024-01-01", None, "since 2024"),
    ("Berita sejak tahun 2023", True, "2023-01-01", None, "sejak tahun 2023"),
]


@pytest.mark.parametrize(("question", "narrows", "first", "last", "phrase"), RANGES)
def test_question_ranges(question, narrows, first, last, phrase):
    scope = time_scope(question, TODAY)
    assert scope is not None
    got = (scope.narrows, scope.first and scope.first.isoformat(), scope.last and scope.last.isoformat())
    assert got == (narrows, first, last)
    assert scope.news is narrows  # no article then: said so exactly when the search was narrowed
    assert scope.phrase == phrase
    assert not scope.recency


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Berapa persen realisasi anggaran KPK pada 2022?", False),
        ("Siapa yang mendukung penelitian pada tahun 2005?", False),
        ("Berapa kasus yang dilaporkan pada 2022?", False),  # reported cases: a fact, not reports
        ("Berita KPK pada 2022?", True),
        ("Kabar terbaru soal KPK", True),
        ("Perkembangan kasus korupsi sejak 2023", True),
        ("What happened in October 2024?", True),
        ("What is happening in Kursk?", True),
        ("What was reported after November 2024?", True),
        ("What has been reported about Kursk in 2024?", True),
        ("Apa saja yang dilaporkan pada Oktober 2024?", True),
        ("Artikel tentang KPK tahun 2022", True),
        ("Any articles on the KPK from 2022?", True),
    ],
)
def test_asks_for_news_of_time(question, expected):
    assert asks_for_news_of_time(question) is expected


def test_a_relative_time_narrows_even_when_a_year_is_named_too():
    scope = time_scope("Berapa realisasi anggaran KPK pada 2022 yang diumumkan pekan lalu?", TODAY)
    assert (scope.narrows, scope.first, scope.last, scope.phrase) == (
        True,
        date(2025, 1, 6),
        date(2025, 1, 12),
        "pekan lalu",
    )


def _passage(name: str, score: float, published: str) -> Passage:
    return Passage(name, "", name, "", "", "", published, 0, 0, 0, score)


# Retrieval's order (best first): a 2025 report, then 2022 ones and an undated one.
POOL = [
    _passage("2025-a", 0.90, "2025-02-10"),
    _passage("2022-b", 0.89, "2022-05-01"),
    _passage("undated-c", 0.88, ""),
    _passage("2022-d", 0.87, "2022-07-01T08:00:00+07:00"),
    _passage("2022-e", 0.86, "2022-08-01"),
    _passage("2022-f", 0.70, "2022-09-01"),  # not as relevant: more than the margin below the best
]


@pytest.mark.parametrize(
    ("first", "last", "k", "expected"),
    [
        # 2022 articles as relevant as the best go first; one place stays for the best other
        (date(2022, 1, 1), date(2022, 12, 31), 4, ["2022-b", "2022-d", "2022-e", "2025-a"]),
        (date(2022, 1, 1), date(2022, 12, 31), 3, ["2022-b", "2022-d", "2025-a"]),
        (date(2022, 1, 1), date(2022, 12, 31), 2, ["2022-b", "2025-a"]),
        (date(2022, 1, 1), date(2022, 12, 31), 1, ["2025-a"]),
        (
            date(2022, 1, 1),
            date(2022, 12, 31),
            8,
            ["2022-b", "2022-d", "2022-e", "2025-a", "undated-c", "2022-f"],
        ),
        # open ranges
        (None, date(2022, 6, 30), 3, ["2022-b", "2025-a", "undated-c"]),
        (date(2025, 1, 1), None, 3, ["2025-a", "2022-b", "undated-c"]),
        # nothing published then: retrieval's order
        (date(2023, 1, 1), date(2023, 12, 31), 4, ["2025-a", "2022-b", "undated-c", "2022-d"]),
    ],
)
def test_prefer_period_ranks_the_period_first_and_keeps_the_best_other(first, last, k, expected):
    ranked = prefer_period(POOL, first, last, 0.05, k)
    assert [p.chunk_id for p in ranked] == expected


def test_prefer_period_of_nothing_is_nothing():
    assert prefer_period([], date(2022, 1, 1), date(2022, 12, 31), 0.05, 4) == []


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
    from qa_bot.time.event import event_bound

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
    from qa_bot.time.event import event_bound

    assert event_bound(question) is None


def test_event_ranges_exclude_the_event_day_except_since():
    from qa_bot.time.event import EventBound, event_range

    day = date(2024, 11, 27)
    assert event_range(EventBound("before", "election", "", None), day) == (None, date(2024, 11, 26))
    assert event_range(EventBound("after", "election", "", None), day) == (date(2024, 11, 28), None)
    assert event_range(EventBound("since", "election", "", None), day) == (day, None)
