"""Dates written relative to an article's publication date, resolved to calendar dates.

News rarely writes a full date: "Rabu (30/10)", "18-19 Juni", "kemarin", "pekan lalu",
"next Thursday". Each means one day or a range of days once the publication date is known,
and the year follows from it too (the reading nearest the publication date wins, so a
December article's "(3/1)" is next January). Nothing is resolved without a publication
date: a missing date stays missing.

Example:
    >>> found = resolve_dates("Rapat digelar Rabu (30/10).", date(2024, 10, 29))
    >>> [(d.text, d.first.isoformat()) for d in found]
    [('Rabu (30/10)', '2024-10-30')]
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class ResolvedDate:
    """``text`` (at ``start:end`` of the source) means the days ``first`` to ``last``."""

    start: int
    end: int
    text: str
    first: date
    last: date
    kind: str = ""  # which pattern read it ("weekday_dm", "unit_after", ...)


WEEKDAYS = {
    # Indonesian, then English; Monday = 0 as in date.weekday().
    "senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jum'at": 4, "sabtu": 5,
    "minggu": 6, "ahad": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}  # fmt: skip
MONTHS = {
    "januari": 1, "februari": 2, "maret": 3, "april": 4, "mei": 5, "juni": 6, "juli": 7,
    "agustus": 8, "september": 9, "oktober": 10, "november": 11, "desember": 12,
    "january": 1, "february": 2, "march": 3, "may": 5, "june": 6, "july": 7, "august": 8,
    "october": 10, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "agu": 8, "agt": 8, "aug": 8,
    "sep": 9, "sept": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12,
}  # fmt: skip
# Days counted from the publication date.
DAY_WORDS = {
    "kemarin lusa": -2, "kemarin": -1, "hari ini": 0, "besok": 1, "esok": 1, "lusa": 2,
    "the day before yesterday": -2, "yesterday": -1, "today": 0, "tomorrow": 1,
    "the day after tomorrow": 2,
}  # fmt: skip
PAST = ("lalu", "kemarin", "silam", "sebelumnya", "last", "previous", "past")
NEXT = ("depan", "mendatang", "berikutnya", "next", "coming")
UNITS = {"pekan": "week", "minggu": "week", "week": "week", "bulan": "month", "month": "month",
         "tahun": "year", "year": "year"}  # fmt: skip

_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
# Any month name or abbreviation, as a regex alternation (longest first).
MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
_UNIT = "|".join(UNITS)
_PAST, _NEXT = "|".join(PAST), "|".join(NEXT)

_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    # "Rabu (30/10)", "Senin (21/10/2024)", "Wednesday (30/10)"
    ("weekday_dm", re.compile(rf"\b({_WEEKDAY})\s*\((\d{{1,2}})/(\d{{1,2}})(?:/(\d{{2,4}}))?\)", re.I)),
    # "18-19 Juni", "30 Oktober 2024", "30 October"
    ("day_month", re.compile(
        rf"\b(\d{{1,2}})(?:\s*(?:-|–|s/d|sampai|hingga|to)\s*(\d{{1,2}}))?\s+({MONTH_WORDS})\.?(?:\s+(\d{{4}}))?\b",
        re.I,
    )),
    # "October 30", "October 30, 2024", "June 18-19"
    ("month_day", re.compile(
        rf"\b({MONTH_WORDS})\.?\s+(\d{{1,2}})(?:\s*(?:-|–|to)\s*(\d{{1,2}}))?(?:,?\s+(\d{{4}}))?\b", re.I
    )),
    # "pekan lalu", "bulan depan", "tahun lalu"
    ("unit_after", re.compile(rf"\b({_UNIT})\s+({_PAST}|{_NEXT})\b", re.I)),
    # "last week", "next month"
    ("unit_before", re.compile(rf"\b({_PAST}|{_NEXT})\s+({_UNIT})\b", re.I)),
    # "Kamis depan", "Senin lalu"
    ("weekday_after", re.compile(rf"\b({_WEEKDAY})\s+({_PAST}|{_NEXT})\b", re.I)),
    # "next Thursday", "last Monday"
    ("weekday_before", re.compile(rf"\b({_PAST}|{_NEXT})\s+({_WEEKDAY})\b", re.I)),
    # "kemarin", "yesterday", "hari ini"
    ("day_word", re.compile(r"\b(" + "|".join(sorted(DAY_WORDS, key=len, reverse=True)) + r")\b", re.I)),
)  # fmt: skip


def resolve_dates(text: str, published: date | None) -> list[ResolvedDate]:
    """Every date expression in ``text`` resolved against ``published``, in text order.

    Overlapping matches keep the earliest-listed pattern ("Minggu (27/10)" is a Sunday with
    a date, not "minggu" the week). Impossible dates ("31/2") are skipped.
    """
    if published is None:
        return []
    taken: list[tuple[int, int]] = []
    found: list[ResolvedDate] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            days = _resolve(kind, m, published)
            if days is None:
                continue
            taken.append((m.start(), m.end()))
            found.append(ResolvedDate(m.start(), m.end(), m.group(), *days, kind))
    return sorted(found, key=lambda d: d.start)


def _resolve(kind: str, m: re.Match, published: date) -> tuple[date, date] | None:
    g = [x.lower() if x else x for x in m.groups()]
    if kind == "weekday_dm":
        day = _nearest(int(g[1]), int(g[2]), published, _year(g[3]))
        return (day, day) if day else None
    if kind in ("day_month", "month_day"):
        day, to_day, month, year = g if kind == "day_month" else (g[1], g[2], g[0], g[3])
        first = _nearest(int(day), MONTHS[month], published, _year(year))
        last = _nearest(int(to_day), MONTHS[month], published, _year(year)) if to_day else first
        return (first, last) if first and last and first <= last else None
    if kind in ("unit_after", "unit_before"):
        unit, direction = (g[0], g[1]) if kind == "unit_after" else (g[1], g[0])
        return calendar_period(UNITS[unit], -1 if direction in PAST else 1, published)
    if kind in ("weekday_after", "weekday_before"):
        name, direction = (g[0], g[1]) if kind == "weekday_after" else (g[1], g[0])
        day = _weekday(WEEKDAYS[name], -1 if direction in PAST else 1, published)
        return day, day
    offset = DAY_WORDS[" ".join(g[0].split())]
    day = published + timedelta(days=offset)
    return day, day


def published_day(published: str) -> date | None:
    """The day of an ISO publication date or datetime ("" or a malformed value: None)."""
    try:
        return date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    year = int(text)
    return year + 2000 if year < 100 else year


def _nearest(day: int, month: int, published: date, year: int | None) -> date | None:
    """The date with this day and month nearest to ``published`` (or in ``year`` if given)."""
    years = [year] if year else [published.year - 1, published.year, published.year + 1]
    candidates = []
    for y in years:
        try:
            candidates.append(date(y, month, day))
        except ValueError:
            continue
    return min(candidates, key=lambda d: abs((d - published).days), default=None)


def calendar_period(unit: str, direction: int, published: date) -> tuple[date, date]:
    """The week (Monday-Sunday), month or year ``direction`` units from ``published``'s own
    (0: the one it falls in)."""
    if unit == "week":
        monday = published - timedelta(days=published.weekday()) + timedelta(weeks=direction)
        return monday, monday + timedelta(days=6)
    if unit == "month":
        month_index = published.year * 12 + published.month - 1 + direction
        year, month = divmod(month_index, 12)
        return date(year, month + 1, 1), date(year, month + 1, calendar.monthrange(year, month + 1)[1])
    year = published.year + direction
    return date(year, 1, 1), date(year, 12, 31)


def _weekday(weekday: int, direction: int, published: date) -> date:
    """The nearest such weekday strictly after (direction 1) or before (-1) ``published``."""
    if direction > 0:
        return published + timedelta(days=(weekday - published.weekday() - 1) % 7 + 1)
    return published - timedelta(days=(published.weekday() - weekday - 1) % 7 + 1)


DAY_NAMES = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
           "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}  # fmt: skip


def format_days(first: date, last: date, language: str) -> str:
    """A day or a range of days written out in ``language`` ("Rabu, 30 Oktober 2024").

    Example:
        >>> format_days(date(2024, 10, 30), date(2024, 10, 30), "en")
        'Wednesday 30 October 2024'
        >>> format_days(date(2024, 6, 18), date(2024, 6, 19), "id")
        '18-19 Juni 2024'
    """
    language = language if language in DAY_NAMES else "id"
    months = MONTH_NAMES[language]
    if first == last:
        weekday = DAY_NAMES[language][first.weekday()]
        comma = "," if language == "id" else ""
        return f"{weekday}{comma} {first.day} {months[first.month - 1]} {first.year}"
    if (first.month, first.day, last.month, last.day) == (1, 1, 12, 31) and first.year == last.year:
        return str(first.year)
    if first.day == 1 and last == date(last.year, last.month, calendar.monthrange(last.year, last.month)[1]):
        if (first.year, first.month) == (last.year, last.month):
            return f"{months[first.month - 1]} {first.year}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}-{last.day} {months[first.month - 1]} {first.year}"
    if first.year == last.year:
        return f"{first.day} {months[first.month - 1]} - {last.day} {months[last.month - 1]} {last.year}"
    return f"{format_days(first, first, language)} - {format_days(last, last, language)}"


def with_absolute_dates(sentence: str, published: date | None, language: str) -> str:
    """``sentence`` with its relative dates written as calendar dates.

    Example:
        >>> with_absolute_dates("Rapat pada Rabu (30/10) pukul 15.00", date(2024, 10, 29), "id")
        'Rapat pada Rabu, 30 Oktober 2024 pukul 15.00'
        >>> with_absolute_dates("Harga naik sejak pekan lalu", date(2024, 10, 29), "id")
        'Harga naik sejak pekan lalu (21-27 Oktober 2024)'
    """
    out, at = [], 0
    for found in resolve_dates(sentence, published):
        out.append(sentence[at : found.start])
        written = format_days(found.first, found.last, language)
        if found.kind in ("unit_after", "unit_before"):
            # "the previous week" read as "the 27 January - 2 February 2025": keep the words
            written = f"{found.text} ({written})"
        out.append(written)
        at = found.end
    out.append(sentence[at:])
    return "".join(out)


_TIME = (
    r"(?:\s*[,|-]?\s*(?:pukul\s+)?\d{1,2}[:.]\d{2}(?:[:.]\d{2})?"
    r"(?:\s*(?:WIB|WITA|WIT|UTC|GMT)(?:\s*[+-]\d{1,2})?)?)?\s*"
)
_LABEL = (
    r"(?:(?:diterbitkan|dipublikasikan|terbit|published|posted|diperbarui|updated)"
    r"\s*(?:pada|on)?\s*:?\s*)?"
)
_LEAD = rf"{_LABEL}(?:(?:{_WEEKDAY})\s*,?\s*)?"
_DAY, _YEAR4 = r"(?P<d>\d{1,2})", r"(?P<y>\d{4})"
_MONTH_NAME = rf"(?P<m>{MONTH_WORDS})\.?"
# A first line that is only a date ("Selasa, 29 Oktober 2024 10:30 WIB", "29/10/2024" day
# first as Indonesian writes it, "Published: October 29, 2024"), or a dateline with one
# ("Jakarta, 29 Oktober 2024 (ANTARA) -").
_DATE_LINES = (
    re.compile(rf"{_LEAD}{_DAY}\s+{_MONTH_NAME}\s+{_YEAR4}{_TIME}", re.I),
    re.compile(rf"{_LEAD}{_MONTH_NAME}\s+{_DAY},?\s+{_YEAR4}{_TIME}", re.I),
    re.compile(rf"{_LEAD}{_DAY}/(?P<mn>\d{{1,2}})/{_YEAR4}{_TIME}", re.I),
    re.compile(
        rf"[A-Z][A-Za-z .'-]{{1,40}},\s*{_DAY}\s+{_MONTH_NAME}\s+{_YEAR4}"
        r"\s*(?:\([^)\n]{2,30}\))?\s*[—–-]{1,2}.*",
        re.I,
    ),
)


def date_in_first_lines(body: str, lines: int = 3) -> date | None:
    """The publication date an article states at its top, or None.

    Only a line that is nothing but a full date (with weekday, time, "Published:" and the
    like), or an opening dateline carrying one, counts: a date inside the story ("Pada 17
    Agustus 1945 ...") is about an event, not the article.

    Example:
        >>> date_in_first_lines("Selasa, 29 Oktober 2024 10:30 WIB\\nJakarta, CNN Indonesia -- ...")
        datetime.date(2024, 10, 29)
        >>> date_in_first_lines("Jakarta, CNN Indonesia -- Pada 17 Agustus 1945 Soekarno ...") is None
        True
    """
    for line in [x.strip() for x in body.strip().splitlines() if x.strip()][:lines]:
        for pattern in _DATE_LINES:
            m = pattern.fullmatch(line)
            if not m:
                continue
            g = m.groupdict()
            month = int(g["mn"]) if g.get("mn") else MONTHS[g["m"].lower()]
            try:
                return date(int(g["y"]), month, int(g["d"]))
            except ValueError:
                return None
    return None
