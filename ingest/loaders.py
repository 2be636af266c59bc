"""Reading articles from .txt/.md (optional front matter), .jsonl, .html and feed files.

A loader either returns every article of a file or raises :class:`LoadError`; a file is
never half-read. JSONL is the exception by design: one bad line is reported and the good
lines are kept, because a JSONL file is many independent articles. JSONL lines are split
on "\n" only: ``json.dumps(..., ensure_ascii=False)`` writes U+0085, U+2028 and U+2029
raw inside strings, and ``str.splitlines`` would cut a record there.

Links in a folder are followed only to files inside the folder: a link is how a file from
anywhere on the machine (``/etc/passwd``) would get into the corpus and be cited. An
article's path is the path inside the ingested folder (the folder itself resolved, links
below it not), so removing a file, or a link, removes its articles.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from ingest.article import FIELDS, Article, LoadedFile, LoadError, make_article
from ingest.feeds import load_feed_file
from ingest.html import load_html

if TYPE_CHECKING:
    from ingest.fetch import Fetcher

FEED_SUFFIXES = (".xml", ".rss", ".atom")
SUPPORTED_SUFFIXES = (".txt", ".md", ".jsonl", ".html", ".htm", *FEED_SUFFIXES)


@dataclass(frozen=True)
class Discovery:
    """What ingesting a file or folder reads, and what it leaves out with the reason.

    ``scope`` is the ingested folder (resolved) or file (its folder resolved): articles
    stored from paths under it whose files are gone are removed. ``link_targets`` are
    where the links that are not followed point (outside the folder, or nowhere): a store
    written before links were checked recorded an article read through a link under its
    target's path, outside ``scope``, and it must go too.
    """

    scope: Path
    files: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...]
    link_targets: frozenset[str] = frozenset()


def discover(path: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to ingest under ``path`` (sorted), and the ones skipped with the reason."""
    found = scan(path)
    return list(found.files), list(found.skipped)


def scan(path: Path) -> Discovery:
    """Walk ``path`` (a file or a folder) for article files; see :class:`Discovery`.

    Hidden files and folders (a name starting with ".") are passed over silently. A link
    is followed only to a file inside the folder; links leaving it, links to folders,
    broken links and link loops are skipped with the reason. A file named directly is
    read even if it is a link: it is what was asked for.

    Raises:
        LoadError: ``path`` does not exist (or is a broken link or a link loop).
    """
    path = Path(path)
    if path.is_dir():
        return _scan_folder(path.resolve())
    if path.is_file():
        file = path.parent.resolve() / path.name
        if file.suffix.lower() in SUPPORTED_SUFFIXES:
            return Discovery(file, (file,), ())
        return Discovery(file, (), ((file, _unsupported(file)),))
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise LoadError(f"{path}: {_broken_link(path, exc)}") from None
    if path.exists():
        raise LoadError(f"{path} is not a regular file or folder: give a file or a folder of articles")
    raise LoadError(f"{path} does not exist: give a file or a folder of articles")


def _scan_folder(root: Path) -> Discovery:
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    targets: set[str] = set()
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            skipped.append((folder, f"cannot read the folder ({exc.strerror or exc}): check its permissions"))
            continue
        for entry in listed:
            if entry.name.startswith("."):
                continue
            p = Path(entry.path)  # below the resolved root, not resolved itself
            if entry.is_symlink():
                why = _link_problem(p, root, targets)
            elif entry.is_dir(follow_symlinks=False):
                folders.append(p)
                continue
            elif entry.is_file(follow_symlinks=False):
                why = None
            else:
                why = "not a regular file (a pipe, socket or device): only article files are read"
            if why is None and p.suffix.lower() not in SUPPORTED_SUFFIXES:
                why = _unsupported(p)
            if why is None:
                files.append(p)
            else:
                skipped.append((p, why))
    return Discovery(root, tuple(sorted(files)), tuple(sorted(skipped)), frozenset(targets))


def _link_problem(link: Path, root: Path, targets: set[str]) -> str | None:
    """Why the link ``link`` in the folder ``root`` is not followed, or None when it leads
    to a file inside the folder. Where a skipped link points is added to ``targets``."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, FileNotFoundError):
            targets.add(str(link.resolve()))
        return _broken_link(link, exc)
    inside = target == root or root in target.parents
    if target.is_dir():
        where = f"its files are read where they are, in {target}" if inside else "ingest that folder itself"
        return f"link to the folder {target}: not followed (links to folders never are); {where}"
    if not inside:
        targets.add(str(target))
        return (
            f"link to {target}, outside the folder being ingested: not followed (a link could bring "
            "in any file on this machine); to ingest the article, copy the file into the folder"
        )
    if not target.is_file():
        return "link to something that is not a regular file (a pipe, socket or device): not followed"
    return None


def _broken_link(link: Path, exc: OSError | RuntimeError) -> str:
    """What is wrong with a link that cannot be followed (``exc`` from resolving it)."""
    # Python 3.11 raises RuntimeError for a loop, later versions OSError(ELOOP).
    if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
        return (
            "link loop (the link leads back to itself through other links): delete it, or point "
            "it at a file in the folder"
        )
    if isinstance(exc, FileNotFoundError):
        return (
            f"broken link to {link.resolve()}, which does not exist: delete it, or point it at a "
            "file in the folder"
        )
    return (
        f"cannot follow the link ({exc.strerror or exc}): check the permissions of the folders "
        "it leads through"
    )


def _unsupported(path: Path) -> str:
    return (
        f"unsupported file type {path.suffix or '(none)'}: "
        "use .txt, .md, .jsonl, .html or an RSS/Atom feed (.xml, .rss, .atom)"
    )


def load_file(path: Path, fetcher: Fetcher | None = None) -> LoadedFile:
    """Load every article in one file.

    ``fetcher`` (an :class:`ingest.fetch.Fetcher`) fetches the full pages of feed items
    that carry only a summary; a default one is used when it is not given.

    Raises:
        LoadError: the file cannot be read or holds no article.
    """
    if path.suffix.lower() in FEED_SUFFIXES:
        return load_feed_file(path, read_bytes(path), fetcher)
    text, notes = read_text(path)
    if path.suffix.lower() == ".jsonl":
        articles, problems, line_notes = _load_jsonl(path, text)
        if not articles:
            detail = f": {problems[0]}" if problems else ""
            raise LoadError(f"no article could be read{detail}")
        return LoadedFile(path, tuple(articles), tuple(problems), (*notes, *line_notes))
    if path.suffix.lower() in (".html", ".htm"):
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
    """Decode a file as UTF-8 (BOM allowed), UTF-16 or UTF-32 with a BOM, or Windows-1252
    as a fallback; the notes say which when it was not UTF-8."""
    decoded = decode_text(read_bytes(path))
    return decoded.text, list(decoded.notes)


@dataclass(frozen=True)
class Decoded:
    """A file's text and how to write it back byte for byte: ``bom + text.encode(encoding)``."""

    text: str
    encoding: str
    bom: bytes = b""
    notes: tuple[str, ...] = ()


# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", ""),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_text(data: bytes) -> Decoded:
    """Decode the bytes of an article file (see :func:`read_text`).

    Raises:
        LoadError: binary data, UTF-16 without a byte-order mark, or text in no encoding read.
    """
    for bom, encoding, name in _BOMS:
        if not data.startswith(bom):
            continue
        try:
            text = data[len(bom) :].decode(encoding)
        except UnicodeDecodeError as exc:
            raise LoadError(
                f"not valid {name or 'UTF-8'} text (bad bytes at {exc.start + len(bom)}): "
                "convert it to UTF-8, e.g. iconv -t UTF-8"
            ) from exc
        if "\x00" in text[:8192]:
            raise LoadError("binary file (NUL characters): save the article as UTF-8 text")
        notes = (f"not UTF-8: decoded as {name} (it starts with a byte-order mark)",) if name else ()
        return Decoded(text, encoding, bom, notes)
    if b"\x00" in data[:8192]:
        if _looks_like_utf16(data):
            raise LoadError("looks like UTF-16 without a byte-order mark: save it as UTF-8")
        raise LoadError("binary file (NUL bytes): save the article as UTF-8 text")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError as exc:
        try:
            # Older Indonesian sites often publish Windows-1252; it is a superset of Latin-1
            # for printable text, so decoding succeeds only if every byte is meaningful.
            return Decoded(data.decode("cp1252"), "cp1252", notes=("not UTF-8: decoded as Windows-1252",))
        except UnicodeDecodeError:
            raise LoadError(
                f"not UTF-8 text (bad byte at {exc.start}): convert it, e.g. iconv -t UTF-8"
            ) from exc


def _looks_like_utf16(data: bytes) -> bool:
    """Text in UTF-16 without a BOM: one byte of each pair is mostly NUL (Latin script), the
    other almost never, and the pairs decode to printable text."""
    sample = data[:8192]
    sample = sample[: len(sample) // 2 * 2]
    if len(sample) < 8:
        return False
    even, odd = sample[0::2], sample[1::2]
    for nuls, other, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if nuls.count(0) >= len(nuls) / 2 and other.count(0) <= len(other) / 50:
            try:
                text = sample.decode(encoding)
            except UnicodeDecodeError:
                return False
            printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
            return printable >= 0.95 * len(text)
    return False


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n?", re.DOTALL)


class _FrontMatterLoader(yaml.SafeLoader):
    """YAML without timestamps: ``published: 2024-13-45`` would make PyYAML raise a bare
    ValueError (not a YAML error); as a string it is checked like any other date."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (metadata, body). Front matter is a YAML block between ``---`` lines."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.load(m.group(1), Loader=_FrontMatterLoader) or {}
    except yaml.YAMLError as exc:
        # Only a MarkedYAMLError says its problem apart; a ReaderError (a control character
        # in the block) says it in its message.
        why = getattr(exc, "problem", None) or str(exc)
        raise LoadError(f"front matter is not valid YAML ({why}): fix the --- block") from exc
    if not isinstance(meta, dict):
        raise LoadError("front matter must be 'key: value' lines between --- lines")
    return meta, text[m.end() :]


def jsonl_lines(text: str) -> list[str]:
    """The lines of a JSONL text: split on "\\n" only (a trailing "\\r" dropped), never on
    the other line breaks ``str.splitlines`` knows, which JSON strings may hold raw.

    Example:
        >>> jsonl_lines('{"text": "a\\u2028b"}\\r\\n{}')
        ['{"text": "a\\u2028b"}', '{}']
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def _load_jsonl(path: Path, text: str) -> tuple[list[Article], list[str], list[str]]:
    """The articles of a JSONL text, the problems of its bad lines, and notes on its good ones."""
    articles: list[Article] = []
    problems: list[str] = []
    notes: list[str] = []
    for line_no, line in enumerate(jsonl_lines(text), start=1):
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
            article = make_article(meta, body, default_id=jsonl_record_id(record, path), path=path)
            articles.append(article)
            notes.extend(f"line {line_no}: {note}" for note in article.notes)
        except json.JSONDecodeError as exc:
            problems.append(f"line {line_no}: not valid JSON ({exc.msg})")
        except LoadError as exc:
            problems.append(f"line {line_no}: {exc}")
    return articles, problems, notes


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
def iter_articles(
    files: list[Path], fetcher: Fetcher | None = None, max_file_mb: float | None = None
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
