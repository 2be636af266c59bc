"""Reading a saved news page (.html): main text and metadata by trafilatura.

trafilatura drops navigation, scripts, styles and footers and reads the title, canonical
URL and publication date from the page's metadata (``article:published_time``, JSON-LD
``datePublished``, ``<time datetime>``). Its date search is kept to that markup: the
extensive search would also guess from URLs and free text, and a guessed date is worse
than none.
"""

from __future__ import annotations

from pathlib import Path

from .loaders import Article, LoadError, make_article


def load_html(path: Path, html: str) -> Article:
    """One article from the HTML of a news page.

    Raises:
        LoadError: the page has no main text (e.g. only scripts or navigation).
    """
    import trafilatura
    from trafilatura.settings import set_date_params

    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=set_date_params(extensive=False),
    )
    text = (doc.text or "").strip() if doc is not None else ""
    if not text:
        raise LoadError("no article text in the page (only scripts, navigation or boilerplate?)")
    meta = {
        "title": doc.title,
        "url": doc.url,
        "published": doc.date,
        "source": doc.sitename,
    }
    return make_article({k: v for k, v in meta.items() if v}, text, default_id=path.stem, path=path)
