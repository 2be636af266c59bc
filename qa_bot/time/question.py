"""Time in a question: "latest", "pekan lalu", "in October 2024", "sebelum 2024".

A time in a question is usually when something happened, not when it was reported: "Berapa
persen realisasi anggaran KPK pada 2022?" is answered by a 2025 article giving the 2022
figure. So a time narrows retrieval to articles by publication date only when it is the
news's own time:

* the asker's relative time ("kemarin", "pekan lalu", "this week", "bulan ini", "last
  month"), resolved against today (the asker's day, not the articles'), and
* a month or year in a question that asks for news ("berita tahun 2022", "news from
  October 2024", "Apa yang terjadi pada Oktober 2024?", "What was reported after November
  2024?"), with "before"/"after"/"since" ("berita sejak 2023") as open ranges.

Any other month or year ("pada 2022", "sebelum Oktober 2024", "since 2023") only ranks the
articles published then first among those about as relevant (:func:`prefer_period`) and
never hides the others; the corpus is never said to lack articles of that time.

A full calendar day in a question ("Jumat 12 Agustus 2005") names when something happened,
not when it was reported, so it never filters. "Latest"/"terbaru" asks for the newest
relevant articles first and is not a range. The relative words and recency words are taken
out of the search text: articles do not contain "terbaru" or "last week" about themselves.

Example:
    >>> scope = time_scope("Berita terbaru soal pasukan Korut pekan lalu?", date(2024, 11, 6))
    >>> scope.recency, scope.narrows, scope.first.isoformat(), scope.last.isoformat(), scope.query
    (True, True, '2024-10-28', '2024-11-03', 'Berita soal pasukan Korut?')
    >>> scope = time_scope("Berapa persen realisasi anggaran KPK pada 2022?", date(2025, 3, 1))
    >>> scope.narrows, scope.first.isoformat(), scope.last.isoformat(), scope.phrase
    (False, '2022-01-01', '2022-12-31', 'pada 2022')
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from qa_bot.text import keyword_tokens
from qa_bot.time.dates import MONTH_WORDS, MONTHS, calendar_period, format_days, published_day, resolve_dates
from qa_bot.types import Citation, Passage, SearchFilters

_RECENCY = re.compile(
    r"\b(?:the\s+)?(?:latest|newest|most\s+recent|terbaru|terkini|paling\s+baru|teranyar)\b", re.I
)
# "this week", "minggu ini", "pekan ini", "bulan ini", "tahun ini", "this month"
_THIS_UNIT = re.compile(r"\b(?:this\s+(week|month|year)|(pekan|minggu|bulan|tahun)\s+ini)\b", re.I)
_RELATIVE_KINDS = ("unit_after", "unit_before", "day_word", "weekday_after", "weekday_before")
_BOUND = r"(?P<bound>before|sebelum|after|sesudah|setelah|since|sejak)"
# "(sebelum) (bulan) Oktober 2024", "in October 2024"; never "12 Oktober 2024" (a day).
_MONTH_YEAR = re.compile(
    rf"\b(?:{_BOUND}\s+)?(?:(?:bulan|in|from|pada|during|selama)\s+)?(?<!\d\s)"
    rf"(?P<month>{MONTH_WORDS})\.?\s+(?P<year>(?:19|20)\d{{2}})\b",
    re.I,
)
# "in 2024", "pada tahun 2024", "since 2023"; a bare "2024" may be anything (a count, a score).
_YEAR = re.compile(
    rf"\b(?:{_BOUND}|in|from|pada|tahun|during|selama)\s+(?:(?:tahun|the\s+year)\s+)?(?P<year>(?:19|20)\d{{2}})\b",
    re.I,
)

# A question asking what the news is, rather than for one fact out of it.
_NEWS_REQUEST = re.compile(
    r"\b(?:berita|kabar|perkembangan|news|updates?|developments?|what\s+happened|"
    r"apa\s+yang\s+terjadi|what\s+is\s+happening)\b",
    re.I,
)
# Asking for reports or articles as such: a time named with it is when they were published.
_REPORTS = re.compile(
    r"\b(?:what\s+(?:was|were|has\s+been|have\s+been|had\s+been)\s+reported|"
    r"apa\s+(?:saja\s+)?yang\s+(?:diberitakan|dilaporkan)|artikel|articles?)\b",
    re.I,
)
# "Jakarta, CNN Indonesia —" on a line of its own at the start of a passage.
_DATELINE_LINE = re.compile(r"\A[^\n]{0,60}[—–-]{1,2}[ \t]*\n")

UNIT_NAMES = {"pekan": "week", "minggu": "week", "bulan": "month", "tahun": "year"}


@dataclass(frozen=True)
class TimeScope:
    """What a question says about time: newest first, and/or a publication-date range.

    The range filters retrieval only when ``narrows`` (the news's own time: the asker's
    relative time, or a month or year in a request for news); otherwise it names when
    something happened, and articles published then are only ranked first. ``news``: the
    question asks for the news of that time, so a narrowed search that finds nothing is
    answered with :func:`no_articles_message` (an event bound narrows without it, see
    :meth:`qa_bot.answer.plan.QueryPlanner.time_scope`, and then widens to every article instead).
    """

    recency: bool
    first: date | None  # published on or after (None: open)
    last: date | None  # published on or before (None: open)
    phrase: str  # the question's own words for the range ("pekan lalu"), "" without one
    query: str  # the question without its relative and recency words, for retrieval
    anchor: date | None = None  # the day an event bounding the range was taken to be
    narrows: bool = False  # the range filters by publication date (else it only ranks)
    news: bool = False  # asks for the news of that time (none: say so, not widen)

    @property
    def has_range(self) -> bool:
        return self.first is not None or self.last is not None


def time_scope(question: str, today: date) -> TimeScope | None:
    """What ``question`` says about publication time, or None when it says nothing.

    Example:
        >>> scope = time_scope("Apa yang terjadi di Kursk pada Oktober 2024?", date(2025, 1, 15))
        >>> scope.narrows, scope.first.isoformat(), scope.last.isoformat()
        (True, '2024-10-01', '2024-10-31')
        >>> time_scope("Berapa harga beras sebelum Oktober 2024?", date(2025, 1, 15)).narrows
        False
    """
    recency = _RECENCY.search(question)
    relative = _relative_period(question, today)
    absolute = None if relative else _absolute_period(question)
    if not (recency or relative or absolute):
        return None
    query = question
    first = last = None
    phrase = ""
    narrows = bool(relative) or (absolute is not None and asks_for_news_of_time(question))
    if relative:
        (start, end), first, last = relative
        phrase = question[start:end]
        query = query[:start] + query[end:]
    elif absolute:
        phrase, first, last = absolute
    if recency:
        query = _RECENCY.sub("", query)
    query = re.sub(r"\s+([?.!,])", r"\1", " ".join(query.split()))
    return TimeScope(bool(recency), first, last, phrase, query or question, narrows=narrows, news=narrows)


def _relative_period(question: str, today: date) -> tuple[tuple[int, int], date, date] | None:
    m = _THIS_UNIT.search(question)
    if m:
        unit = (m.group(1) or UNIT_NAMES[m.group(2).lower()]).lower()
        first, last = calendar_period(unit, 0, today)
        return (m.start(), m.end()), first, min(last, today)
    for found in resolve_dates(question, today):
        if found.kind in _RELATIVE_KINDS:
            return (found.start, found.end), found.first, min(found.last, today)
    return None


def _absolute_period(question: str) -> tuple[str, date | None, date | None] | None:
    m = _MONTH_YEAR.search(question)
    if m:
        year, month = int(m.group("year")), MONTHS[m.group("month").lower()]
        first, last = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    else:
        m = _YEAR.search(question)
        if not m:
            return None
        year = int(m.group("year"))
        first, last = date(year, 1, 1), date(year, 12, 31)
    bound = (m.group("bound") or "").lower()
    if bound in ("before", "sebelum"):
        return m.group(0), None, first - timedelta(days=1)
    if bound in ("after", "sesudah", "setelah"):
        return m.group(0), last + timedelta(days=1), None
    if bound in ("since", "sejak"):
        return m.group(0), first, None
    return m.group(0), first, last


def asks_for_news(question: str) -> bool:
    """Whether ``question`` asks what the news is ("berita terbaru soal X?") rather than a fact."""
    return bool(_NEWS_REQUEST.search(question))


def asks_for_news_of_time(question: str) -> bool:
    """Whether a month, year or event named in ``question`` is when the news was published:
    it asks what the news is (:func:`asks_for_news`), what was reported, or for articles.

    Example:
        >>> [asks_for_news_of_time(q) for q in ("Berita sejak tahun 2023", "What was reported in 2024?")]
        [True, True]
        >>> asks_for_news_of_time("Berapa persen realisasi anggaran KPK pada 2022?")
        False
    """
    return asks_for_news(question) or bool(_REPORTS.search(question))


def prefer_period(
    passages: list[Passage], first: date | None, last: date | None, margin: float, k: int
) -> list[Passage]:
    """The best ``k`` of ``passages`` (best first) when a question names when something
    happened: among those within ``margin`` of the best score (as relevant, the band
    :meth:`~qa_bot.search.retrieval.HybridRetriever.newest_first` uses), the ones published in
    first..last move to the front, in their order; the rest keep theirs.

    At most ``k - 1`` move, so the best passage published at another time that the top
    ``k`` held stays in it: a 2025 article giving the 2022 figure is never pushed out by
    2022 reports. Undated passages count as published at another time.

    Example:
        >>> def p(name, score, published):
        ...     return Passage(name, "", name, "", "", "", published, 0, 0, 0, score)
        >>> pool = [p("a", 0.90, "2025-02-01"), p("b", 0.89, "2022-05-01"), p("c", 0.88, ""),
        ...         p("d", 0.87, "2022-07-01"), p("e", 0.86, "2022-08-01"), p("f", 0.70, "2022-09-01")]
        >>> [x.chunk_id for x in prefer_period(pool, date(2022, 1, 1), date(2022, 12, 31), 0.05, 4)]
        ['b', 'd', 'e', 'a']
        >>> [x.chunk_id for x in prefer_period(pool, date(2022, 1, 1), date(2022, 12, 31), 0.05, 2)]
        ['b', 'a']
    """
    if not passages:
        return []
    floor = passages[0].score - margin
    inside = [p for p in passages if p.score >= floor and _published_in(p, first, last)][: max(k - 1, 0)]
    moved = {id(p) for p in inside}
    return (inside + [p for p in passages if id(p) not in moved])[:k]


def _published_in(passage: Passage, first: date | None, last: date | None) -> bool:
    day = published_day(passage.published)
    return day is not None and (first is None or day >= first) and (last is None or day <= last)


_NEWS_WORDS = (
    "berita kabar perkembangan terbaru terkini teranyar terjadi news update updates latest newest "
    "recent happened happening development developments pekan minggu bulan tahun hari"
)


def on_topic(question: str, text: str) -> bool:
    """Whether ``text`` holds at least half of what ``question`` is about (its keywords
    other than the words asking for news), so a news request is not answered with the
    newest article about something else.

    Example:
        >>> on_topic("Apa berita terbaru tentang pendaratan di Mars?", "Harga beras naik di Cipinang.")
        False
        >>> on_topic("Berita terbaru soal pasukan Korea Utara?", "Ukraina menangkap dua tentara Korea Utara.")
        True
    """
    topic = set(keyword_tokens(question)) - set(keyword_tokens(_NEWS_WORDS))
    if not topic:
        return True
    return len(topic & set(keyword_tokens(text))) >= len(topic) / 2


def lead_text(snippet: str) -> str:
    """A snippet as an answer sentence: one line, without the opening dateline."""
    return " ".join(_DATELINE_LINE.sub("", snippet.strip()).split())


def narrow(filters: SearchFilters | None, first: date | None, last: date | None) -> SearchFilters | None:
    """``filters`` with its date range intersected with first..last (None: they do not overlap)."""
    filters = filters or SearchFilters()
    lo = max((d for d in (filters.published_from, first) if d is not None), default=None)
    hi = min((d for d in (filters.published_to, last) if d is not None), default=None)
    if lo is not None and hi is not None and lo > hi:
        return None
    return replace(filters, published_from=lo, published_to=hi)


def describe_range(first: date | None, last: date | None, language: str) -> str:
    """ "16-22 November 2026", "before Monday 30 September 2024", "sejak 1 Januari 2023"."""
    if first is not None and last is not None:
        return format_days(first, last, language)
    words = {"en": ("before", "from"), "id": ("sebelum", "sejak")}.get(language, ("sebelum", "sejak"))
    if last is not None:
        return f"{words[0]} {format_days(last + timedelta(days=1), last + timedelta(days=1), language)}"
    assert first is not None
    return f"{words[1]} {format_days(first, first, language)}"


def no_articles_message(scope: TimeScope, span: tuple[date, date], language: str) -> str:
    """What to tell the asker when no article was published in the time the question names."""
    asked = describe_range(scope.first, scope.last, language)
    first, last = (format_days(d, d, language) for d in span)
    if language == "en":
        held = f"on {first}" if span[0] == span[1] else f"from {first} to {last}"
        return (
            f'No article in the corpus was published in the time you asked about ("{scope.phrase}": '
            f"{asked}). Its dated articles were published {held}: ask without the time, or "
            "ingest newer articles."
        )
    held = f"pada {first}" if span[0] == span[1] else f"antara {first} dan {last}"
    return (
        f'Tidak ada artikel di korpus yang terbit pada waktu yang ditanyakan ("{scope.phrase}": '
        f"{asked}). Artikel bertanggal di korpus terbit {held}: tanyakan tanpa keterangan "
        "waktu, atau tambahkan artikel yang lebih baru."
    )


def anchor_note(scope: TimeScope, language: str) -> str:
    """'("before the election": the election taken as ..., the date the articles give.)'."""
    assert scope.anchor is not None
    day = format_days(scope.anchor, scope.anchor, language)
    if language == "en":
        return f'("{scope.phrase}": counted from {day}, the date the articles give for it.)'
    return f'("{scope.phrase}": dihitung dari {day}, tanggal yang disebut artikel.)'


def published_note(citations: Iterable[Citation], language: str) -> str:
    """ "Published: [1] Sunday 12 January 2025." for the answer to a "latest" question."""
    parts = []
    for c in citations:
        day = published_day(c.published)
        if day is None:
            when = "date unknown" if language == "en" else "tanggal tidak diketahui"
        else:
            when = format_days(day, day, language)
        parts.append(f"[{c.number}] {when}")
    label = "Published" if language == "en" else "Terbit"
    return f"{label}: {'; '.join(parts)}."
