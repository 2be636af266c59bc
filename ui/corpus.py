"""Corpus management for the app: safe uploads, the article list, removing an article."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

from ingest.article import LoadError
from ingest.fetch import is_url
from ingest.loaders import (
    FEED_SUFFIXES,
    SUPPORTED_SUFFIXES,
    decode_text,
    jsonl_record_id,
    split_front_matter,
)

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


def save_uploads(
    paths: list[str], names: list[str], corpus_dir: Path, meta: dict[str, str] | None = None
) -> list[str]:
    """Copy uploaded temp files into the corpus folder under safe names; returns the names.

    ``meta`` (title, source, published: the upload form's optional fields) is written into
    each .txt/.md file's front matter, over what the file's own front matter says."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for tmp, name in zip(paths, names, strict=True):
        target = corpus_dir / safe_name(name)
        if target.resolve().parent != corpus_dir.resolve():
            raise CorpusError(f"{name!r} would leave the corpus folder")
        if meta and target.suffix.lower() in {".txt", ".md"}:
            try:
                text = decode_text(Path(tmp).read_bytes()).text
                target.write_text(with_front_matter(text, meta), encoding="utf-8")
            except LoadError as exc:
                raise CorpusError(f"{name!r}: {exc}") from exc
        else:
            shutil.copyfile(tmp, target)
        saved.append(target.name)
    return saved


def with_front_matter(text: str, meta: dict[str, str]) -> str:
    """``text`` with ``meta`` in its front matter (the ``---`` YAML block ingest reads),
    keeping the keys it already has unless ``meta`` gives them.

    Example:
        >>> print(with_front_matter("Isi berita.", {"title": "Judul: baru", "published": "2024-10-29"}))
        ---
        title: 'Judul: baru'
        published: '2024-10-29'
        ---
        Isi berita.
    """
    import yaml

    old, body = split_front_matter(text)
    merged = {**old, **{k: v for k, v in meta.items() if v}}
    if not merged:
        return text
    block = yaml.safe_dump(merged, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{block}---\n{body}"


def remove_article(article_id: str, path: str, corpus_dir: Path) -> str:
    """Take an article out of the corpus folder (the next ingest drops it from the store).

    A .txt/.md article is moved to ``corpus/.removed/`` (hidden from ingest, recoverable);
    a JSONL article has its line taken out of the file, every other line kept byte for
    byte (line endings, a byte-order mark at the start), or the file is moved like a .txt
    when that was its last article. Returns what was done. An article fetched from a URL,
    one item of a feed file, or one from outside the corpus folder is refused: those are
    taken out of the store with ``qa-bot remove ID``.
    """
    if is_url(path):  # a fetched feed or page: there is no file to take out
        raise CorpusError(
            f"{article_id!r} was fetched from {path}, not read from the corpus folder; "
            f"remove it from the store with `qa-bot remove {shlex.quote(article_id)}` on the server"
        )
    corpus_dir = Path(corpus_dir).resolve()
    # The entry in the folder, not what a link leads to: a link is moved, not its target.
    file = Path(os.path.abspath(path))
    folder = file.parent.resolve()
    if not (folder == corpus_dir or corpus_dir in folder.parents):
        raise CorpusError(
            f"{article_id!r} did not come from the corpus folder ({file}); it cannot be removed "
            f"here: remove it from the store with `qa-bot remove {shlex.quote(article_id)}` on the server"
        )
    file = folder / file.name
    if not os.path.lexists(file):
        return f"{file.name} is already gone"
    if file.suffix.lower() in FEED_SUFFIXES:
        # Moving the file would take every item of the feed with it.
        raise CorpusError(
            f"{article_id!r} is one item of the feed {file.name}; to remove the feed's articles, "
            "take the whole file out of the corpus folder"
        )
    last = ""
    if file.suffix.lower() == ".jsonl":
        if not _remove_lines(article_id, file, corpus_dir):
            return f"removed {article_id} from {file.name}"
        last = f" ({article_id} was its last article)"
    trash = corpus_dir / ".removed"
    trash.mkdir(exist_ok=True)
    file.replace(trash / file.name)
    return f"moved {file.name} to {trash.name}/{last}"


def _remove_lines(article_id: str, file: Path, corpus_dir: Path) -> bool:
    """Take the lines of ``article_id`` out of the JSONL ``file``; True when no article
    would be left (the caller moves the file: an empty file is reported and keeps its
    articles in the store)."""
    target = file.resolve()  # a link in the folder is rewritten where it leads
    if corpus_dir not in target.parents:
        raise CorpusError(f"{file.name} is a link to {target}, outside the corpus folder; it is not changed")
    try:
        decoded = decode_text(target.read_bytes())
    except (OSError, LoadError) as exc:
        raise CorpusError(f"{file.name} cannot be read ({exc}); {article_id!r} was not removed") from exc
    # Split on "\n" only, as ingest does: each kept line keeps its "\r" and every other
    # character, so the file changes by exactly the removed lines.
    lines = decoded.text.split("\n")  # not jsonl_lines: the "\r" stays with its line
    kept = [line for line in lines if _jsonl_id(line, file) != article_id]
    if len(kept) == len(lines):
        raise CorpusError(f"{article_id!r} was not found in {file.name}")
    if not any(line.strip() for line in kept):
        return True
    # Written beside and renamed over it: a crash leaves the old file or the new one.
    partial = target.with_name(f".{target.name}.partial")  # hidden: ingest passes it over
    partial.write_bytes(decoded.bom + "\n".join(kept).encode(decoded.encoding))
    shutil.copymode(target, partial)
    partial.replace(target)
    return False


def _jsonl_id(line: str, file: Path) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return jsonl_record_id(record, file) if isinstance(record, dict) else None
