"""What a loaded article is, and how the fields of one are read and checked (id, title,
dateline, publication date). Every loader (plain files, JSONL, HTML, feeds, fetched pages)
builds its articles here, so they all follow the same rules."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from qa_bot.text import detect_language
from qa_bot.time.dates import date_in_first_lines

FIELDS = ("id", "title", "source", "url", "published", "language")


class LoadError(Exception):
    """A file (or JSONL line) that cannot be ingested; the message says why and what to do."""


@dataclass(frozen=True)
class Article:
    """One news article ready for chunking."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    published: str = ""  # ISO date or datetime, "" when unknown
    language: str = ""
    place: str = ""
    path: str = ""  # absolute path of the file it came from, or the feed or page URL
    notes: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class LoadedFile:
    """The articles a file (or URL) gave, plus problems with parts of it (JSONL lines, feed items).

    ``incremental`` marks a feed or a fetched page: a feed lists only its newest items, so
    articles it no longer lists are kept, and an article whose id changed is recognised
    by its URL.
    """

    path: Path | str
    articles: tuple[Article, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    incremental: bool = False


# "Jakarta, CNN Indonesia --", "JAKARTA, KOMPAS.com -", "Kupang (ANTARA News) -". After
# "place, source" a single hyphen counts only with a space before it: in "Warga Cianjur,
# termasuk anak-anak, ..." it joins a word (on IndoSum that rule dropped 10 false
# datelines and no true one).
_DATELINE = re.compile(
    r"\A\s*(?P<place>[A-Z][A-Za-z .'-]{1,40}?)\s*"
    r"(?:,\s*(?P<source>[^\n—–-]{2,40}?)(?:\s*[—–]{1,2}|\s+-{1,2}|\s*--)"
    r"|\((?P<agency>[^)\n]{2,30})\)\s*[—–-]{1,2})\s*"
)


def parse_dateline(body: str) -> tuple[str, str]:
    """(place, source) from an opening dateline, or ("", "").

    Example:
        >>> parse_dateline("Jakarta, CNN Indonesia —\\nBergerak cepat ...")
        ('Jakarta', 'CNN Indonesia')
    """
    m = _DATELINE.match(body)
    if not m:
        return "", ""
    source = (m.group("source") or m.group("agency") or "").strip()
    place = m.group("place").strip().title()
    return place, source


def make_article(meta: dict, body: str, *, default_id: str, path: Path | str) -> Article:
    """Validate metadata and fill gaps from the text (dateline, language, title).

    ``path`` is the file the article came from, or (a ``str``) the URL it was fetched from.
    """
    unknown = sorted(str(k) for k in set(meta) - set(FIELDS))
    notes = (f"ignored field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})",) if unknown else ()
    body = body.strip("\n\r\ufeff")
    if not body.strip():
        raise LoadError("the article has no text")
    place, dateline_source = parse_dateline(body)
    article_id = str(meta.get("id") or default_id).strip()
    if not article_id:
        raise LoadError('the "id" is empty')
    try:
        published = normalise_published(meta.get("published"))
    except _BadDate as exc:
        # A wrong date costs the date, not the article.
        published = ""
        notes = (
            *notes,
            f'"published" is not a date ({exc.detail}), so the article is kept undated: {DATE_FORMS}',
        )
    else:
        if not published:
            stated = date_in_first_lines(body)
            if stated is not None:
                published = stated.isoformat()
                notes = (*notes, f"publication date {published} read from the article's first lines")
    return Article(
        id=article_id,
        text=body,
        title=_str(meta.get("title")) or _title_from_text(body),
        source=_str(meta.get("source")) or dateline_source,
        url=_str(meta.get("url")),
        published=published,
        language=_str(meta.get("language")) or detect_language(body[:2000]),
        place=place,
        # A URL is kept as it is. A file path is made absolute but not resolved: the path
        # inside the ingested folder, not the target of a link, names the article's file.
        path=os.path.abspath(path) if isinstance(path, Path) else path,
        notes=notes,
    )


def _str(value: object) -> str:
    return "" if value is None else str(value).strip()


def _title_from_text(body: str) -> str:
    from qa_bot.text import split_sentences

    # A lede often opens with a dateline ("Bandung, Kompas - Pemerintah ..."); the sentence
    # after it is the story's first line, so it is the title once the dateline is cut off.
    # (Skipping the whole sentence, as before, titled the article with its second one.)
    body = body[_dateline_end(body) :]
    for sentence in split_sentences(body[:2000]):
        if len(sentence) > 25 and not _only_dateline(sentence):
            return sentence if len(sentence) <= 120 else sentence[:117].rsplit(" ", 1)[0] + "…"
    return ""


def _dateline_end(body: str) -> int:
    """Where the text after an opening dateline starts (0: the body opens without one).

    A hyphen inside a word also fits the dateline's pattern ("Warga Cianjur, termasuk
    anak-anak, ..." reads as place "Warga Cianjur", source "termasuk anak"); cutting there
    would leave a title starting mid-word, so a dash between two letters is no dateline's.
    """
    m = _DATELINE.match(body)
    if m is None or (re.search(r"\w-\Z", m.group(0)) and body[m.end() : m.end() + 1].isalnum()):
        return 0
    return m.end()


def _only_dateline(sentence: str) -> bool:
    """Whether a sentence is a dateline and nothing else ("JAKARTA, KOMPAS.com" on a line of its own).

    The dash is added because such a line often has none. The match must reach the end: a real
    sentence with a comma and then a hyphen ("Warga Cianjur, termasuk anak-anak, ...") also
    matches the dateline's start, and is a title all the same.
    """
    candidate = sentence + " -"
    m = _DATELINE.match(candidate)
    return m is not None and m.end() == len(candidate)


DATE_FORMS = "write it as YYYY-MM-DD (e.g. 2024-10-29) or DD/MM/YYYY"


class _BadDate(LoadError):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f'"published" is not a date ({detail}): {DATE_FORMS}')


_DAY_FIRST = re.compile(r"(?P<d>\d{1,2})(?P<sep>[/-])(?P<m>\d{1,2})(?P=sep)(?P<y>\d{4})")


def normalise_published(value: object) -> str:
    """An ISO date or datetime string, or "" when unknown.

    ISO 8601 is read, and so are the dates the first-line parser reads (day first, as
    Indonesian news writes them: ``29/10/2024``, ``29-10-2024``, ``29 Oktober 2024``).

    Example:
        >>> normalise_published("29/10/2024")
        '2024-10-29'

    Raises:
        LoadError: the value is present but not a date; the message says the expected form.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return ""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        return parsed.date().isoformat() if len(text) <= 10 else parsed.isoformat()
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise _BadDate(f"{text} is a number: a Unix timestamp?")
    m = _DAY_FIRST.fullmatch(text)
    if m:
        try:
            return date(int(m["y"]), int(m["m"]), int(m["d"])).isoformat()
        except ValueError:
            raise _BadDate(f"{text!r}: there is no such day") from None
    stated = date_in_first_lines(text, lines=1)
    if stated is None:
        raise _BadDate(repr(text))
    return stated.isoformat()
