"""BM25 over Indonesian-aware tokens, persisted beside the vector store.

The index is derived from the store's chunks and carries a fingerprint of their ids, so a
stale index (e.g. after an interrupted ingest) is detected and rebuilt instead of trusted.
It also records the size and SHA-256 of each file bm25s wrote, checked when it is loaded:
bm25s loads arrays of the wrong size without a word (a replaced ``data.csc.index.npy``
gives wrong scores, or an IndexError mid-search), so a damaged index is rebuilt, never
trusted. Checking costs ~1 ms per MB of index, once per generation and process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa_bot.corpus.duplicates import article_texts, copy_groups
from qa_bot.corpus.store import matches
from qa_bot.text import keyword_tokens
from qa_bot.types import SearchFilters

if TYPE_CHECKING:
    import bm25s

_META_FILE = "chunks.json"
# What bm25s.BM25.load reads (the rest of what it saves is optional).
_BM25_FILES = (
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
    "vocab.index.json",
    "params.index.json",
)

log = logging.getLogger(__name__)


def index_name(generation: int) -> str:
    """The folder of the index for one store generation (see :mod:`qa_bot.corpus.store`): each
    generation has its own, so an ingest never overwrites the index readers use."""
    return f"bm25-{generation}"


def index_folders(directory: Path) -> list[Path]:
    """The saved indexes in ``directory`` (one folder per store generation)."""
    return sorted(p for p in Path(directory).glob("bm25-*") if p.is_dir())


def remove_other_indexes(directory: Path, keep: int) -> None:
    """Delete the indexes of generations other than ``keep`` (and leftovers of saves)."""
    for old in Path(directory).glob("*bm25*"):
        if old.is_dir() and old.name != index_name(keep):
            shutil.rmtree(old, ignore_errors=True)


def fingerprint(ids: Sequence[str]) -> str:
    """Order-independent digest of a set of chunk ids."""
    h = hashlib.sha256()
    for chunk_id in sorted(ids):
        h.update(chunk_id.encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class KeywordHit:
    chunk_id: str
    score: float


class KeywordIndex:
    """BM25 (bm25s) over :func:`qa_bot.text.keyword_tokens` of each chunk."""

    def __init__(
        self,
        ids: list[str],
        metas: list[dict],
        bm25: bm25s.BM25 | None,
        fp: str,
        copies: dict[str, dict] | None = None,
    ) -> None:
        self.ids = ids
        self.metas = metas
        self.fingerprint = fp
        self._bm25 = bm25
        # Near-duplicate groups, built with the index because both need every chunk's text:
        # article id -> {"group": [ids], "info": {id: {title, source, url, published}}}.
        self.copies = copies or {}

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict]) -> KeywordIndex:
        import bm25s

        bm25 = None
        if ids:
            bm25 = bm25s.BM25()
            # The title is searchable too: people ask with words from headlines.
            tokens = [keyword_tokens(f"{m.get('title', '')}\n{t}") for t, m in zip(texts, metas, strict=True)]
            bm25.index(tokens, show_progress=False)
        slim = [_slim(m) for m in metas]
        return cls(list(ids), slim, bm25, fingerprint(ids), _copies(ids, texts, metas))

    # ---- persistence ---------------------------------------------------------------------
    def save(self, directory: Path, generation: int) -> None:
        """Write atomically: a new folder is filled, then swapped in by rename."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / index_name(generation)
        tmp = Path(tempfile.mkdtemp(prefix=".bm25-", dir=directory))
        try:
            if self._bm25 is not None:
                self._bm25.save(str(tmp), show_progress=False)
            (tmp / _META_FILE).write_text(
                json.dumps(
                    {
                        "fingerprint": self.fingerprint,
                        "ids": self.ids,
                        "metas": self.metas,
                        "copies": self.copies,
                        "files": {p.name: _file_record(p) for p in sorted(tmp.iterdir())},
                    }
                )
            )
            old = None
            if target.exists():
                old = directory / f".bm25-old-{os.getpid()}"
                target.rename(old)
            tmp.rename(target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def load(cls, directory: Path, generation: int) -> KeywordIndex | None:
        """The saved index of ``generation``, or None when there is none or it is damaged
        (logged with the reason: the caller rebuilds it)."""
        target = Path(directory) / index_name(generation)
        if not (target / _META_FILE).is_file():
            return None
        try:
            data = json.loads((target / _META_FILE).read_text())
            why = _damage(target, data)
            bm25 = None
            if why is None and data["ids"]:
                import bm25s

                bm25 = bm25s.BM25.load(str(target), show_progress=False)
                why = _shape_damage(bm25, len(data["ids"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            why = f"it cannot be read: {exc}"
        if why is not None:
            log.warning("the keyword index %s is damaged (%s): it is rebuilt from the store", target, why)
            return None
        return cls(data["ids"], data["metas"], bm25, data["fingerprint"], data["copies"])

    # ---- search --------------------------------------------------------------------------
    def coverage(self, query: str) -> float:
        """Share of the query's keywords that occur in the corpus (0 when it has none).

        An English question over Indonesian text mostly has words the corpus never uses; then
        BM25's ranking rests on accidents and fusion should not trust it.
        """
        tokens = keyword_tokens(query)
        if not tokens or self._bm25 is None:
            return 0.0
        vocab = self._bm25.vocab_dict
        return sum(t in vocab for t in tokens) / len(tokens)

    def has_undated(self) -> bool:
        """Whether some chunk has no publication date."""
        return any("published_day" not in m for m in self.metas)

    def published_span(self) -> tuple[int, int] | None:
        """Earliest and latest ``published_day`` (YYYYMMDD) of the dated chunks, None if none."""
        days = [m["published_day"] for m in self.metas if "published_day" in m]
        return (min(days), max(days)) if days else None

    def search(self, query: str, n: int, filters: SearchFilters | None = None) -> list[KeywordHit]:
        """Top ``n`` chunks by BM25 score (only chunks with a positive score)."""
        tokens = [t for t in keyword_tokens(query) if self._bm25 is not None and t in self._bm25.vocab_dict]
        if not tokens or n <= 0:
            return []
        assert self._bm25 is not None  # tokens are kept only when there is an index
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        if filters is not None and not filters.empty:
            mask = np.fromiter((matches(m, filters) for m in self.metas), dtype=bool, count=len(self.metas))
            scores = np.where(mask, scores, 0.0)
        top = np.argsort(-scores, kind="stable")[:n]
        return [KeywordHit(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]


def _file_record(path: Path) -> dict:
    with path.open("rb") as f:
        return {"bytes": path.stat().st_size, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}


def _damage(target: Path, data: dict) -> str | None:
    """Why the saved index in ``target`` (``data``: its chunks.json) cannot be trusted, or None."""
    files = data.get("files")
    if files is None:
        return "it was saved without checksums"  # by an older version
    if "copies" not in data:
        return "it was saved without near-duplicate groups"
    if not isinstance(data["ids"], list) or len(data["metas"]) != len(data["ids"]):
        return f"{_META_FILE} holds {len(data['metas'])} metadata records for {len(data['ids'])} chunks"
    if fingerprint(data["ids"]) != data["fingerprint"]:
        return f"the chunk ids in {_META_FILE} do not match its fingerprint"
    if data["ids"]:
        unlisted = [name for name in _BM25_FILES if name not in files]
        if unlisted:
            return f"{', '.join(unlisted)} not recorded in {_META_FILE}"
    for name, want in sorted(files.items()):
        path = target / name
        if not path.is_file():
            return f"{name} is missing"
        have = _file_record(path)
        if have["bytes"] != want["bytes"]:
            return f"{name} is {have['bytes']:,} bytes, {want['bytes']:,} were saved"
        if have["sha256"] != want["sha256"]:
            return f"{name} is not the file that was saved (its SHA-256 differs)"
    return None


def _shape_damage(bm25: bm25s.BM25, n_docs: int) -> str | None:
    """Why the loaded arrays do not fit together or with ``n_docs`` chunks, or None (a second
    line of defence behind the checksums)."""
    scores = bm25.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    if int(scores["num_docs"]) != n_docs:
        return f"it indexes {scores['num_docs']} chunks, not {n_docs}"
    if len(data) != len(indices) or not len(indptr) or int(indptr[-1]) != len(data):
        return (
            f"its arrays do not fit together ({len(data)} scores, {len(indices)} chunk numbers, "
            f"{len(indptr)} offsets)"
        )
    if len(indptr) < len(bm25.vocab_dict):
        return f"it has {len(indptr)} offsets for {len(bm25.vocab_dict)} words"
    if len(indices) and int(indices.max()) >= n_docs:
        return "it refers to chunks it does not hold"
    return None


def _copies(ids: Sequence[str], texts: Sequence[str], metas: Sequence[dict]) -> dict[str, dict]:
    groups = copy_groups(article_texts(ids, texts, metas))
    info = {
        str(m.get("article_id", "")): {k: str(m.get(k, "")) for k in ("title", "source", "url", "published")}
        for m in metas
    }
    return {aid: {"group": list(group), "info": {g: info[g] for g in group}} for aid, group in groups.items()}


def _slim(meta: dict) -> dict:
    # Only what filtering needs; the store holds the rest.
    out = {"source": meta.get("source", "")}
    if "published_day" in meta:
        out["published_day"] = meta["published_day"]
    return out
