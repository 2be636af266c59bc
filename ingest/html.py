"""Reading a news page (a saved .html file or a downloaded page): main text and metadata by trafilatura.

trafilatura drops navigation, scripts, styles and footers and reads the title, canonical
URL and publication date from the page's metadata (``article:published_time``, JSON-LD
``datePublished``, ``<time datetime>``). Its date search is kept to that markup: the
extensive search would also guess from URLs and free text, and a guessed date is worse
than none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ingest.article import Article, LoadError, make_article

if TYPE_CHECKING:
    from trafilatura.settings import Document

    from .fetch import Fetched

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def load_html(path: Path, html: str) -> Article:
    """One article from the HTML of a news page.

    Raises:
        LoadError: the page has no main text (e.g. only scripts or navigation).
    """
    text, meta = extract_page(html)
    if not text:
        raise LoadError(NO_TEXT)
    return make_article(meta, text, default_id=path.stem, path=path)


NO_TEXT = "no article text in the page (only scripts, navigation or boilerplate?)"


def extract_page(html: str | bytes) -> tuple[str, dict[str, str]]:
    """The main text of a news page ("" when it has none) and the metadata it declares:
    ``title``, ``url`` (canonical), ``published``, ``source`` (site name), each only if known.

    Bytes are decoded by trafilatura, which reads the page's own ``<meta charset>``.
    """
    import trafilatura
    from trafilatura.settings import set_date_params

    # A Document without as_dict=True; trafilatura's return type does not say so.
    doc: Document | None = trafilatura.bare_extraction(  # type: ignore[assignment]
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        date_extraction_params=set_date_params(extensive=False),
    )
    if doc is None:
        return "", {}
    meta = {
        "title": doc.title,
        "url": doc.url,
        "published": doc.date,
        "source": doc.sitename,
    }
    return (doc.text or "").strip(), {k: v for k, v in meta.items() if v}


def fetched_page(fetched: Fetched) -> tuple[str, dict[str, str]]:
    """Main text and metadata of a downloaded page, as :func:`extract_page` gives them.

    Raises:
        LoadError: the response is not HTML, or the page has no main text.
    """
    if fetched.content_type and fetched.content_type not in _HTML_TYPES:
        raise LoadError(
            f"not an HTML page or a feed ({fetched.content_type}): only news pages and RSS/Atom feeds "
            "can be ingested"
        )
    # Without a declared charset trafilatura gets the bytes and reads the page's <meta charset>.
    text, meta = extract_page(fetched.text() if fetched.charset else fetched.content)
    if not text:
        raise LoadError(NO_TEXT)
    if "url" in meta and urlsplit(meta["url"]).path in ("", "/"):
        # Some sites point every page's canonical link at their front page; taken at its
        # word, that would make every article the same one.
        del meta["url"]
    return text, meta
