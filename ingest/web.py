"""Ingesting a URL: a feed becomes one article per item, any other page one article."""

from __future__ import annotations

from ingest.article import LoadedFile, LoadError, make_article
from ingest.feeds import feed_articles, parse_feed
from ingest.fetch import Fetcher, FetchError
from ingest.html import fetched_page


def load_url(url: str, fetcher: Fetcher) -> LoadedFile:
    """The articles at ``url``: a feed's items (whatever its Content-Type says), or the page.

    A page's article id is its canonical URL, else the address it was served from.

    Raises:
        LoadError: the URL cannot be fetched at all, or holds neither a feed nor an article.

    Example:
        >>> loaded = load_url("https://www.antaranews.com/rss/terkini.xml", Fetcher())  # doctest: +SKIP
    """
    try:
        fetched = fetcher.get(url)
    except FetchError as exc:
        raise LoadError(f"{url}: {exc}") from None
    feed = parse_feed(fetched.content, fetched.url)
    if feed is not None:
        return feed_articles(feed, url, fetcher)
    try:
        text, meta = fetched_page(fetched)
    except LoadError as exc:
        raise LoadError(f"{url}: {exc}") from None
    meta.setdefault("url", fetched.url)
    article = make_article(meta, text, default_id=meta["url"], path=url)
    return LoadedFile(url, (article,), (), article.notes, incremental=True)
