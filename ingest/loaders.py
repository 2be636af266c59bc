"""Reading articles from .txt/.md (optional front matter), .jsonl, .html and feed files.

A loader either returns every article of a file or raises :class:`LoadError`; a file is
never half-read. JSONL is the exception by design: one bad line is reported and the good
lines are kept, because a JSONL file is many independent articles.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import yaml

from qa_bot.dates import date_in_first_lines
from qa_bot.text import detect_language

FEED_SUFFIXES = (".xml", ".rss", ".atom")
SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl", ".html", ".htm", *FEED_SUFFIXES)
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


def discover(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to ingest under ``path`` (sorted), and the ones skipped with the reason."""
    if path.is_file():
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            return [path], []
        return [], [(path, _unsupported(path))]
    if not path.exists():
        raise LoadError(f"{path} does not exist: give a file or a folder of articles")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(p)
        else:
            skipped.append((p, _unsupported(p)))
    return files, skipped


def _unsupported(path: Path) -> str:
    return (
        f"unsupported file type {path.suffix or '(none)'}: "
        "use .txt, .md, .jsonl, .html or an RSS/Atom feed (.xml, .rss, .atom)"
    )


def load_file(path: Path, fetcher=None) -> LoadedFile:
    """Load every article in one file.

    ``fetcher`` (an :class:`ingest.fetch.Fetcher`) fetches the full pages of feed items
    that carry only a summary; a default one is used when it is not given.

    Raises:
        LoadError: the file cannot be read or holds no article.
    """
    if path.suffix.lower() in FEED_SUFFIXES:
        from .feeds import load_feed_file

        return load_feed_file(path, read_bytes(path), fetcher)
    text, notes = read_text(path)
    if path.suffix.lower() == ".jsonl":
        articles, problems = _load_jsonl(path, text)
        if not articles:
            detail = f": {problems[0]}" if problems else ""
            raise LoadError(f"no article could be read{detail}")
        return LoadedFile(path, tuple(articles), tuple(problems), tuple(notes))
    if path.suffix.lower() in (".html", ".htm"):
        from .html import load_html

        article = load_html(path, text)
        return LoadedFile(path, (article,), (), (*notes, *article.notes))
    meta, body = split_front_matter(text)
    article = make_article(meta, body, default_id=path.stem, path=path)
    return LoadedFile(path, (article,), (), (*notes, *article.notes))


def read_bytes(path: Path) -> bytes:
    """The bytes of a file that is readable and not empty."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read the file ({exc.strerror or exc}): check its permissions") from exc
    if not data.strip():
        raise LoadError("the file is empty")
    return data


def read_text(path: Path) -> tuple[str, list[str]]:
    """Decode a file as UTF-8 (BOM allowed), or Windows-1252 as a reported fallback."""
    data = read_bytes(path)
    if b"\x00" in data[:8192]:
        raise LoadError("binary file (NUL bytes): save the article as UTF-8 text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        try:
            # Older Indonesian sites often publish Windows-1252; it is a superset of Latin-1
            # for printable text, so decoding succeeds only if every byte is meaningful.
            return data.decode("cp1252"), ["not UTF-8: decoded as Windows-1252"]
        except UnicodeDecodeError:
            raise LoadError(
                f"not UTF-8 text (bad byte at {exc.start}): convert it, e.g. iconv -t UTF-8"
            ) from exc


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n?", re.DOTALL)


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (metadata, body). Front matter is a YAML block between ``---`` lines."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(f"front matter is not valid YAML ({exc.problem}): fix the --- block") from exc
    if not isinstance(meta, dict):
        raise LoadError("front matter must be 'key: value' lines between --- lines")
    return meta, text[m.end() :]


def _load_jsonl(path: Path, text: str) -> tuple[list[Article], list[str]]:
    articles: list[Article] = []
    problems: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise LoadError("a line must be a JSON object")
            body = record.get("text")
            if not isinstance(body, str):
                raise LoadError('missing "text" string')
            meta = {k: record.get(k) for k in FIELDS if record.get(k) is not None}
            if "url" not in meta and record.get("source_url"):
                meta["url"] = record["source_url"]  # IndoSum and other dumps name it so
            articles.append(make_article(meta, body, default_id=jsonl_record_id(record, path), path=path))
        except json.JSONDecodeError as exc:
            problems.append(f"line {line_no}: not valid JSON ({exc.msg})")
        except LoadError as exc:
            problems.append(f"line {line_no}: {exc}")
    return articles, problems


def jsonl_record_id(record: dict, path: Path) -> str:
    """The article id of a JSONL record: its ``id``, else its URL (which names a news
    article), else a hash of its text (a line number would change whenever a line is
    inserted above it)."""
    explicit = str(record.get("id") or "").strip()
    if explicit:
        return explicit
    url = str(record.get("url") or record.get("source_url") or "").strip()
    if url:
        return url
    return f"{path.stem}-{hashlib.sha256(str(record.get('text', '')).encode()).hexdigest()[:12]}"


# "Jakarta, CNN Indonesia --" / "JAKARTA, KOMPAS.com -" / "Jakarta (ANTARA) -"
_DATELINE = re.compile(
    r"\A\s*(?P<place>[A-Z][A-Za-z .'-]{1,40}?)\s*"
    r"(?:,\s*(?P<source>[^\n—–-]{2,40}?)|\((?P<agency>[^)\n]{2,30})\))\s*[—–-]{1,2}\s*"
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
    published = normalise_published(meta.get("published"))
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
        # A URL is kept as it is: resolving it as a file path would mangle it.
        path=str(path.resolve()) if isinstance(path, Path) else path,
        notes=notes,
    )


def _str(value: object) -> str:
    return "" if value is None else str(value).strip()


def _title_from_text(body: str) -> str:
    from qa_bot.text import split_sentences

    for sentence in split_sentences(body[:2000]):
        if len(sentence) > 25 and not _DATELINE.match(sentence + " -"):
            return sentence if len(sentence) <= 120 else sentence[:117].rsplit(" ", 1)[0] + "…"
    return ""


def normalise_published(value: object) -> str:
    """An ISO date or datetime string, or "" when unknown.

    Raises:
        LoadError: the value is present but not a date.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise LoadError(f'"published" is not an ISO date (YYYY-MM-DD): {text!r}') from exc
    return parsed.date().isoformat() if len(text) <= 10 else parsed.isoformat()


def iter_articles(
    files: list[Path], fetcher=None, max_file_mb: float | None = None
) -> Iterator[tuple[Path, LoadedFile | LoadError]]:
    """Load each file, yielding either its articles or the error that skipped it.

    Files other than JSONL over ``max_file_mb`` are skipped unread: one article does not
    take megabytes, and parsing such a page could take minutes.
    """
    for path in files:
        try:
            if max_file_mb is not None and path.suffix.lower() != ".jsonl":
                size = path.stat().st_size
                if size > max_file_mb * 1e6:
                    raise LoadError(
                        f"the file is {size / 1e6:,.1f} MB, over the {max_file_mb:g} MB limit for an "
                        "article file: split it (many articles go in a .jsonl file, one per line) "
                        "or raise QA_BOT_MAX_FILE_MB"
                    )
            yield path, load_file(path, fetcher)
        except LoadError as exc:
            yield path, exc
