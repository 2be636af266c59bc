"""Corpus management for the app: safe uploads, the article list, removing an article."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ingest.fetch import is_url
from ingest.loaders import FEED_SUFFIXES, SUPPORTED_SUFFIXES, jsonl_record_id

_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


class CorpusError(Exception):
    """An upload or removal that cannot be done; the message says why."""


def safe_name(name: str) -> str:
    """A file name that stays inside the corpus folder.

    Only the last path component is kept (so ``../../etc/passwd`` or ``a\\b`` cannot point
    elsewhere), unusual characters become ``_``, and the suffix must be one ingest reads.

    Example:
        >>> safe_name("../../berita baru.md")
        'berita baru.md'
    """
    base = re.split(r"[\\/]", name)[-1].strip()
    base = _SAFE_NAME.sub("_", base).lstrip(".")
    if not base or base in {".", ".."}:
        raise CorpusError(f"{name!r} is not a usable file name")
    suffix = Path(base).suffix.lower()
    if suffix in FEED_SUFFIXES:
        # Ingesting a feed fetches its items' pages: an uploaded feed would make the server
        # request any address its author chose (internal ones included).
        raise CorpusError(
            f"{name!r}: feeds are not accepted as uploads (their ingest fetches web pages); "
            "ingest them with `qa-bot ingest <feed file or URL>` on the server"
        )
    uploadable = [s for s in SUPPORTED_SUFFIXES if s not in FEED_SUFFIXES]
    if suffix not in uploadable:
        raise CorpusError(f"{name!r}: only {', '.join(uploadable)} files can be added")
    return base


def save_uploads(paths: list[str], names: list[str], corpus_dir: Path) -> list[str]:
    """Copy uploaded temp files into the corpus folder under safe names; returns the names."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for tmp, name in zip(paths, names, strict=True):
        target = corpus_dir / safe_name(name)
        if target.resolve().parent != corpus_dir.resolve():
            raise CorpusError(f"{name!r} would leave the corpus folder")
        shutil.copyfile(tmp, target)
        saved.append(target.name)
    return saved


def remove_article(article_id: str, path: str, corpus_dir: Path) -> str:
    """Take an article out of the corpus folder (the next ingest drops it from the store).

    A .txt/.md article is moved to ``corpus/.removed/`` (hidden from ingest, recoverable);
    a JSONL article has its line taken out of the file. Returns what was done. An article
    fetched from a URL, or one item of a feed file, is refused (a feed keeps items it drops).
    """
    if is_url(path):  # a fetched feed or page: there is no file to take out
        raise CorpusError(
            f"{article_id!r} was fetched from {path}, not read from the corpus folder; "
            "it cannot be removed here"
        )
    corpus_dir = Path(corpus_dir).resolve()
    file = Path(path).resolve()
    if corpus_dir not in file.parents:
        raise CorpusError(f"{article_id!r} did not come from the corpus folder; it cannot be removed here")
    if not file.exists():
        return f"{file.name} is already gone"
    if file.suffix.lower() in FEED_SUFFIXES:
        # Moving the file would take every item of the feed with it.
        raise CorpusError(
            f"{article_id!r} is one item of the feed {file.name}; to remove the feed's articles, "
            "take the whole file out of the corpus folder"
        )
    if file.suffix.lower() == ".jsonl":
        kept, removed = [], 0
        for line in file.read_text(encoding="utf-8").splitlines(keepends=True):
            if _jsonl_id(line, file) == article_id:
                removed += 1
                continue
            kept.append(line)
        if not removed:
            raise CorpusError(f"{article_id!r} was not found in {file.name}")
        file.write_text("".join(kept), encoding="utf-8")
        return f"removed {article_id} from {file.name}"
    trash = corpus_dir / ".removed"
    trash.mkdir(exist_ok=True)
    file.replace(trash / file.name)
    return f"moved {file.name} to {trash.name}/"


def _jsonl_id(line: str, file: Path) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return jsonl_record_id(record, file) if isinstance(record, dict) else None
