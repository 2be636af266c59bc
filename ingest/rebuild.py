"""Rebuild the store (``qa-bot ingest --rebuild <folder>``), e.g. after it was damaged.

The chunk texts and metadata the old store still holds are read straight from its
database (:func:`qa_bot.corpus.store.salvage_chunks`: this works when only its vector index is
damaged, which Chroma itself cannot serve), embedded again and committed as the first
generation of a new store built in ``<store dir>/.rebuild-*``. Then the old store (its
Chroma folder and keyword indexes) is moved aside to ``<store dir>/replaced-<time>/``, never
deleted, the new one takes its place, and an ordinary ingest of ``path`` brings it in line
with the sources: new and edited articles are embedded, articles gone from the folder are
removed. Articles from other folders and feeds keep their texts, metadata and chunk ids, so
a later ingest of their folder finds them unchanged. When the old texts cannot be read
(the database is gone or overwritten), only ``path`` is ingested and the report says so.

The swap is journaled: ``rebuild-swap.json`` in the store folder names the new store and
the folder the old one goes to before anything moves, and goes once both are in place.
While it is there, readers refuse to open the store (Chroma would create an empty one where
the new one goes). Killed before the swap, the old store is still in place and the next
rebuild starts over; killed during it, the next rebuild finishes the swap (the new store is
never deleted once the old one has moved) and goes on with the ingest; killed after it, the
next ingest finishes as after any interrupted ingest. A process that has the store open
(``qa-bot serve``) keeps reading the moved files: stop it before a rebuild and start it after.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.article import LoadError
from ingest.fetch import Fetcher, is_url
from ingest.loaders import discover
from ingest.pipeline import ingest_path
from ingest.report import IngestReport
from qa_bot.config import Settings, get_settings
from qa_bot.corpus.index import CorpusIndex, index_folders
from qa_bot.corpus.store import (
    REBUILD_JOURNAL,
    ChunkStore,
    StoreError,
    chroma_path,
    ingest_lock,
    make_store_dir,
    release_client,
    salvage_chunks,
)

if TYPE_CHECKING:
    from qa_bot.models.embeddings import Embedder


@dataclass
class RebuildReport:
    """What a rebuild did: where the old store went, what came back from it, the ingest."""

    moved_to: Path | None = None  # None: there was no store to replace
    restored: list[str] = field(default_factory=list)  # article ids restored from the old texts
    chunks_restored: int = 0
    lost: str = ""  # why the old store's texts could not be read ("" when they could)
    ingest: IngestReport | None = None
    failed: str = ""  # why ``path`` could not be ingested after the swap ("" when it was)
    resumed: bool = False  # an interrupted rebuild's swap was finished instead of a new rebuild

    def render(self) -> str:
        """The human-readable report, the ingest's included."""
        if self.moved_to is None:
            lines = ["Rebuild: there was no store to replace."]
        elif self.resumed:
            lines = [
                f"Rebuild: finished the swap of an interrupted rebuild; the old store is in {self.moved_to} "
                "(delete it once the rebuilt store answers as it should)."
            ]
        else:
            lines = [
                f"Rebuild: the old store was moved to {self.moved_to} (delete it once the rebuilt store "
                "answers as it should)."
            ]
        if self.lost:
            lines.append(
                f"  Its texts could not be read ({self.lost}): only the articles of the path given were "
                "ingested; ingest your other folders and feeds again."
            )
        elif self.moved_to is not None and not self.resumed:
            lines.append(
                f"  {len(self.restored)} article(s) restored from its chunk texts "
                f"({self.chunks_restored} chunks embedded again)."
            )
        if self.failed:
            lines.append(f"  The path given could not be ingested: {self.failed}")
        if self.ingest is not None:
            lines.append(self.ingest.render())
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "moved_to": str(self.moved_to) if self.moved_to else None,
            "restored": self.restored,
            "chunks_restored": self.chunks_restored,
            "lost": self.lost,
            "failed": self.failed,
            "resumed": self.resumed,
            "ingest": self.ingest.to_dict() if self.ingest else None,
        }


def rebuild_store(
    path: str | Path,
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    show_progress: bool = False,
    fetcher: Fetcher | None = None,
) -> RebuildReport:
    """Rebuild the embedded store from the texts it still holds and from ``path`` (a file,
    a folder, or the http(s) URL of a feed or page, as for :func:`ingest.pipeline.ingest_path`).

    Raises:
        LoadError: ``path`` does not exist; nothing was changed.
        StoreError: a Chroma server is configured, another ingest is running, or the store
            folder cannot be written (the old store cannot be moved aside).

    Example:
        >>> print(rebuild_store("corpus").render())  # doctest: +SKIP
    """
    settings = settings or get_settings()
    if settings.chroma_host:
        raise StoreError(
            "--rebuild rebuilds the embedded store in QA_BOT_STORE_DIR; for a collection on a Chroma "
            "server (QA_BOT_CHROMA_HOST), delete it on the server and ingest your folders and feeds again"
        )
    url = isinstance(path, str) and is_url(path)
    if not url:
        discover(Path(path))  # a wrong path fails before anything is moved
    store_dir = make_store_dir(settings)
    location = chroma_path(settings)
    _check_movable(store_dir, location)
    if embedder is None:
        from qa_bot.models.embeddings import load_embeddings

        embedder = load_embeddings(settings)
    report = RebuildReport()
    with ingest_lock(store_dir):
        resumed = _finish_swap(store_dir)
        for leftover in store_dir.glob(".rebuild-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # of a rebuild killed before its swap
        old = [p for p in (location, *index_folders(store_dir)) if p.exists()]
        if resumed is not None:
            # The interrupted rebuild's store is in place now: the ingest below completes it.
            report.moved_to, report.resumed = resumed, True
        elif old:
            staging = None
            try:
                ids, texts, metas = salvage_chunks(location, settings.collection)
            except StoreError as exc:
                ids, texts, metas, report.lost = [], [], [], str(exc)
            try:
                if ids:
                    staging = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=store_dir))
                    _restore(settings, staging, embedder, ids, texts, metas, show_progress)
                    report.restored = sorted({str(m.get("article_id", "")) for m in metas})
                    report.chunks_restored = len(ids)
                report.moved_to = _swap(store_dir, location, old, staging)
            finally:
                # Once the swap has begun the journal names the staging folder: it holds the
                # only copy of the new store until the next rebuild finishes the swap.
                if staging is not None and not (store_dir / REBUILD_JOURNAL).exists():
                    shutil.rmtree(staging, ignore_errors=True)
    try:
        report.ingest = ingest_path(
            path, settings, embedder=embedder, show_progress=show_progress, fetcher=fetcher
        )
    except (LoadError, StoreError) as exc:
        # The rebuilt store stands; the report still says where the old one went.
        report.failed = str(exc)
    return report


def _check_movable(store_dir: Path, location: Path) -> None:
    """Refuse before any embedding when the old store cannot be moved aside."""
    for folder in (store_dir, location):
        if folder.exists() and not os.access(folder, os.W_OK):
            read_only_fs = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
            why = "on a read-only file system" if read_only_fs else "not writable"
            fix = (
                "remount it read-write" if read_only_fs else f"make it writable (`chmod -R u+w {store_dir}`)"
            )
            raise StoreError(
                f"cannot rebuild the store at {store_dir}: {folder} is {why}, so the old store cannot be "
                f"moved aside: {fix} and run the rebuild again"
            )


def _restore(
    settings: Settings,
    staging: Path,
    embedder: Embedder,
    ids: list[str],
    texts: list[str],
    metas: list[dict],
    show_progress: bool,
) -> None:
    """Embed the salvaged chunks and commit them as the first generation of a new store in
    ``staging`` (with its keyword index)."""
    from tqdm import tqdm

    staged = settings.model_copy(update={"store_dir": staging})
    store = ChunkStore.from_settings(staged, embedder.name)
    write = CorpusIndex(store, staging).begin()
    with tqdm(
        total=len(texts), unit="chunk", desc="embedding", file=sys.stderr, disable=not show_progress
    ) as bar:
        vectors = embedder.encode_passages(texts, on_batch=bar.update)
    write.put(ids, texts, vectors, metas)
    write.commit()
    release_client(chroma_path(staged))


def _swap(store_dir: Path, location: Path, old: list[Path], staging: Path | None) -> Path:
    """Move ``old`` (the Chroma folder and keyword indexes) aside and the new store (if any)
    in, under a journal; returns the folder the old store went to."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = store_dir / f"replaced-{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = store_dir / f"replaced-{stamp}-{n}"
    aside.mkdir()
    journal = {
        "aside": str(aside),
        "staging": str(staging) if staging else None,
        "old": [p.name for p in old],
    }
    tmp = store_dir / f"{REBUILD_JOURNAL}.tmp"
    tmp.write_text(json.dumps(journal))
    tmp.replace(store_dir / REBUILD_JOURNAL)
    # This process's Chroma client would keep reading the moved files.
    release_client(location)
    _finish_swap(store_dir)
    return aside


def _finish_swap(store_dir: Path) -> Path | None:
    """Carry out (or finish, after a kill) the swap the journal describes; returns the folder
    the old store went to, or None when no swap was pending. Holds the ingest lock.

    Every step can be done again: what already moved is not there any more.
    """
    path = store_dir / REBUILD_JOURNAL
    try:
        journal = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        path.unlink()  # killed while writing it: nothing had moved yet
        return None
    aside = Path(journal["aside"])
    aside.mkdir(exist_ok=True)
    new = Path(journal["staging"]) if journal["staging"] else None
    new_names = {p.name for p in new.iterdir()} if new is not None and new.is_dir() else set()
    for name in journal["old"]:
        here = store_dir / name
        if here.exists() and not (aside / name).exists():
            here.rename(aside / name)
        elif here.exists() and name in new_names:
            # Made while the swap was interrupted (a reader's Chroma creates an empty store):
            # it holds nothing of either store.
            shutil.rmtree(here) if here.is_dir() else here.unlink()
    for name in sorted(new_names):
        (new / name).rename(store_dir / name)  # type: ignore[operator]
    path.unlink()
    if new is not None:
        shutil.rmtree(new, ignore_errors=True)
    return aside
