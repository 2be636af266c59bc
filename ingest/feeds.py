"""RSS and Atom feeds as articles: one per item, with the full page when the feed has only a summary.

Dates are read from the item's own string so its UTC offset survives: feedparser's
``*_parsed`` fields are converted to UTC, which moves a 06:00 +07:00 story to the
previous day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ingest.article import Article, LoadedFile, LoadError, make_article
from ingest.fetch import Fetcher, FetchError
from ingest.html import fetched_page

# Item content shorter than this is a teaser, not the article: the page is fetched instead.
FULL_TEXT_MIN_CHARS = 400

# Indonesian feeds often name their zone instead of giving an offset.
_ZONES = {"WIB": "+0700", "WITA": "+0800", "WIT": "+0900"}
_NAMED_ZONE = re.compile(r"\s(WIB|WITA|WIT)$")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Elements whose text is not part of the story.
_DROP = ("script", "style", "noscript", "iframe", "nav", "aside", "form", "button", "svg", "template")
# Elements that end a paragraph.
_BLOCKS = (
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "table", "tr", "figure", "figcaption", "section", "article", "header", "footer", "hr", "dd", "dt",
)  # fmt: skip


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed, its text already plain."""

    id: str  # GUID or Atom id, else the link
    link: str
    title: str
    published: str  # ISO date/datetime with the feed's own offset; "" when absent or unreadable
    content: str  # content:encoded or Atom content
    summary: str  # description or Atom summary

    @property
    def needs_page(self) -> bool:
        """True when the feed carries no full text for this item."""
        return not self.content or self.content == self.summary or len(self.content) < FULL_TEXT_MIN_CHARS


@dataclass(frozen=True)
class Feed:
    title: str
    items: tuple[FeedItem, ...]
    notes: tuple[str, ...] = ()


def parse_feed(data: bytes, base_url: str = "") -> Feed | None:
    """The feed in ``data``, or None when it is not RSS or Atom.

    Relative item links are resolved against ``base_url`` (the feed's address).

    Example:
        >>> rss = (b'<rss version="2.0"><channel><title>Kabar</title><item><guid>k-1</guid>'
        ...        b'<title>Banjir</title><pubDate>Wed, 30 Oct 2024 06:00:00 +0700</pubDate>'
        ...        b'<description>Air naik.</description></item></channel></rss>')
        >>> item = parse_feed(rss).items[0]
        >>> item.id, item.published, item.summary
        ('k-1', '2024-10-30T06:00:00+07:00', 'Air naik.')
        >>> parse_feed(b"<html><body><p>Bukan feed</p></body></html>") is None
        True
    """
    import feedparser

    # Bytes, never str: feedparser would take a str for a URL or file name and open it.
    parsed = feedparser.parse(bytes(data), response_headers={"content-location": base_url})
    if not parsed.get("version"):
        return None
    items, notes = [], []
    for entry in parsed.entries:
        link = urljoin(base_url, entry.get("link", "").strip()) if entry.get("link") else ""
        raw_date = entry.get("published") or entry.get("updated") or ""
        try:
            published = feed_date(raw_date)
        except ValueError:
            published = ""
            notes.append(f"item {link or entry.get('id', '')}: unreadable date {raw_date!r}, left unknown")
        items.append(
            FeedItem(
                id=(entry.get("id") or "").strip() or link,
                link=link,
                title=_detail_text(entry.get("title_detail"), entry.get("title", "")),
                published=published,
                content=_content_text(entry.get("content") or []),
                # feedparser copies Atom content into "summary" when there is no summary;
                # only a real summary element has its own summary_detail.
                summary=_detail_text(entry.get("summary_detail"), "") if "summary_detail" in entry else "",
            )
        )
    title = _detail_text(parsed.feed.get("title_detail"), parsed.feed.get("title", ""))
    return Feed(title, tuple(items), tuple(notes))


def feed_date(raw: str) -> str:
    """An item date (RFC 822 or RFC 3339) as ISO, keeping the offset it was written with.

    Returns "" for an empty string; raises ValueError for anything else that is not a date.

    Example:
        >>> feed_date("Wed, 30 Oct 2024 06:00:00 +0700"), feed_date("2024-10-30T06:00:00+07:00")
        ('2024-10-30T06:00:00+07:00', '2024-10-30T06:00:00+07:00')
        >>> feed_date("Rab, 30 Okt 2024 06:00 WIB")
        Traceback (most recent call last):
        ...
        ValueError: not an RFC 822 or RFC 3339 date: 'Rab, 30 Okt 2024 06:00 WIB'
    """
    text = " ".join(raw.split())
    if not text:
        return ""
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        pass
    rfc822 = _NAMED_ZONE.sub(lambda m: " " + _ZONES[m.group(1)], text)
    try:
        return parsedate_to_datetime(rfc822).isoformat()
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not an RFC 822 or RFC 3339 date: {raw!r}") from None


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, one blank line between paragraphs.

    Example:
        >>> html_to_text("<p>Banjir <b>surut</b>.</p><script>x()</script><p>Warga pulang.</p>")
        'Banjir surut.\\n\\nWarga pulang.'
    """
    import lxml.html
    from lxml import etree

    if "<" not in html:
        return _paragraphs(html)
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for element in list(root.iter(*_DROP)):
        element.drop_tree()
    for element in root.iter(*_BLOCKS):
        element.tail = "\n\n" + (element.tail or "")
        if element.tag != "br":
            element.text = "\n\n" + (element.text or "")
    return _paragraphs(root.text_content())


def _paragraphs(text: str) -> str:
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


def _detail_text(detail: Mapping[str, Any] | None, fallback: str) -> str:
    value = detail.get("value", fallback) if detail else fallback
    kind = detail.get("type", "") if detail else ""
    return html_to_text(value) if kind in _HTML_TYPES else _paragraphs(value)


def _content_text(contents: list) -> str:
    for content in contents:
        text = _detail_text(content, "")
        if text:
            return text
    return ""


def feed_articles(feed: Feed, origin: Path | str, fetcher: Fetcher) -> LoadedFile:
    """The articles of a feed; an item that fails (page gone, timeout) is a problem line.

    ``origin`` is the feed file or URL; it becomes each article's ``path``.
    """
    articles, problems = [], []
    for item in feed.items:
        try:
            articles.append(item_article(item, feed, origin, fetcher))
        except (LoadError, FetchError) as exc:
            problems.append(f"item {item.link or item.id or item.title}: {exc}")
    notes = feed.notes if feed.items else (*feed.notes, "the feed has no items")
    return LoadedFile(origin, tuple(articles), tuple(problems), notes, incremental=True)


def item_article(item: FeedItem, feed: Feed, origin: Path | str, fetcher: Fetcher) -> Article:
    """One item as an article, with its page's text and canonical URL when the feed has
    only a summary.

    Raises:
        LoadError: the item has no id or no text to be had.
        FetchError: its page could not be fetched.
    """
    if not item.id:
        raise LoadError("the item has no guid, id or link, so it cannot be told apart from the others")
    meta = {
        "id": item.id,
        "title": item.title,
        "url": item.link,
        "source": feed.title,
        "published": item.published,
    }
    text = item.content
    if item.needs_page and item.link:
        text, page = fetched_page(fetcher.get(item.link))
        meta["url"] = page.get("url") or item.link
        meta["source"] = page.get("source") or feed.title
        meta["title"] = item.title or page.get("title", "")
        # The page's own markup date (never guessed) stands in only when the item has none.
        meta["published"] = item.published or page.get("published", "")
    elif not text:
        text = item.summary
    if not text:
        raise LoadError("the item has no text and no link to its article")
    return make_article({k: v for k, v in meta.items() if v}, text, default_id=item.id, path=origin)


def load_feed_file(path: Path, data: bytes, fetcher: Fetcher | None = None) -> LoadedFile:
    """The articles of a feed saved as a file (.xml, .rss, .atom).

    Raises:
        LoadError: the file is not an RSS or Atom feed.
    """
    feed = parse_feed(data)
    if feed is None:
        raise LoadError("not an RSS or Atom feed: only feeds are read from .xml, .rss and .atom files")
    if fetcher is not None:
        return feed_articles(feed, path, fetcher)
    with Fetcher() as own:
        return feed_articles(feed, path, own)
