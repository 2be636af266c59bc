"""The only module that knows Chroma: an embedded PersistentClient or a Chroma server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from .config import Settings, apply_offline_env
from .types import Passage, SearchFilters

# Chroma caps one write; stay well below its max_batch_size.
_WRITE_BATCH = 1000


class StoreError(Exception):
    """The store cannot be used as asked; the message says what to do."""


@dataclass
class ArticleState:
    """What the store holds for one article (used to diff against the corpus)."""

    article_hash: str
    path: str
    chunk_ids: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    url: str = ""  # lets a feed item whose GUID changed find its article


class ChunkStore:
    """Chunks with embeddings and provenance in one Chroma collection.

    The collection records which embedding model wrote it (with its backend, e.g.
    ``...+onnx-int8``), so a store is never queried with vectors from a different model or
    backend.
    """

    def __init__(self, client: Any, collection: str, embedding_model: str) -> None:
        self.client = client
        self.embedding_model = embedding_model
        try:
            self._col = client.get_or_create_collection(
                collection,
                # No embedding function: we always pass vectors, and Chroma's default would
                # try to download a model.
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": embedding_model},
            )
        except ValueError as exc:
            raise StoreError(f"cannot open collection {collection!r}: {exc}") from exc
        stored = (self._col.metadata or {}).get("embedding_model")
        if stored and stored != embedding_model:
            raise StoreError(_mismatch(stored, embedding_model))

    @classmethod
    def from_settings(cls, settings: Settings, embedding_model: str) -> ChunkStore:
        """Open the embedded store at ``settings.store_dir`` or the Chroma server if set."""
        apply_offline_env()
        import chromadb

        chroma_settings = chromadb.Settings(anonymized_telemetry=False)
        if settings.chroma_host:
            try:
                client = chromadb.HttpClient(
                    host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
                )
            except Exception as exc:
                raise StoreError(
                    f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                    f"({exc}): start it with `chroma run` or unset QA_BOT_CHROMA_HOST"
                ) from exc
        else:
            path = Path(settings.store_dir)
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path / "chroma"), settings=chroma_settings)
        return cls(client, settings.collection, embedding_model)

    # ---- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return self._col.count()

    def ids(self) -> list[str]:
        return list(self._col.get(include=[])["ids"])

    def article_states(self) -> dict[str, ArticleState]:
        """Every article in the store with its chunk ids and recorded fingerprint(s)."""
        got = self._col.get(include=["metadatas"])
        states: dict[str, ArticleState] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"], strict=True):
            aid = str(meta["article_id"])
            state = states.setdefault(
                aid,
                ArticleState(str(meta["article_hash"]), str(meta["path"]), url=str(meta.get("url", ""))),
            )
            state.chunk_ids.add(chunk_id)
            state.hashes.add(str(meta["article_hash"]))
        return states

    def articles(self) -> list[dict]:
        """One row per article: id, title, source, published, chunk count, file path."""
        got = self._col.get(include=["metadatas"])
        rows: dict[str, dict] = {}
        for meta in got["metadatas"]:
            aid = str(meta["article_id"])
            row = rows.setdefault(
                aid,
                {
                    "article_id": aid,
                    "title": str(meta.get("title", "")),
                    "source": str(meta.get("source", "")),
                    "published": str(meta.get("published", "")),
                    "chunks": 0,
                    "path": str(meta.get("path", "")),
                },
            )
            row["chunks"] += 1
        return sorted(rows.values(), key=lambda r: (r["published"], r["article_id"]), reverse=True)

    def all_chunks(self) -> tuple[list[str], list[str], list[dict]]:
        """(ids, texts, metadatas) of every chunk, for building the keyword index."""
        got = self._col.get(include=["documents", "metadatas"])
        return list(got["ids"]), list(got["documents"]), list(got["metadatas"])

    def get(self, ids: Sequence[str]) -> list[Passage]:
        if not ids:
            return []
        got = self._col.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: passage_from(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def search(
        self, embedding: Sequence[float], n: int, filters: SearchFilters | None = None
    ) -> list[Passage]:
        """Nearest chunks by cosine similarity (score = 1 - cosine distance)."""
        count = self.count()
        if n <= 0 or count == 0:
            return []
        got = self._col.query(
            query_embeddings=[list(embedding)],
            n_results=min(n, count),
            where=chroma_where(filters),
            include=["documents", "metadatas", "distances"],
        )
        return [
            passage_from(i, d, m, score=1.0 - dist)
            for i, d, m, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    # ---- writing -------------------------------------------------------------------------
    def put(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[dict],
    ) -> None:
        """Upsert chunks (idempotent by id)."""
        for i in range(0, len(ids), _WRITE_BATCH):
            s = slice(i, i + _WRITE_BATCH)
            self._col.upsert(
                ids=list(ids[s]),
                documents=list(texts[s]),
                embeddings=[list(map(float, e)) for e in embeddings[s]],
                metadatas=list(metadatas[s]),
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        for i in range(0, len(ids), _WRITE_BATCH):
            s = slice(i, i + _WRITE_BATCH)
            self._col.update(ids=list(ids[s]), metadatas=list(metadatas[s]))

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _WRITE_BATCH):
            self._col.delete(ids=ids[i : i + _WRITE_BATCH])


def _split_backend(name: str) -> tuple[str, str]:
    """``("model", "backend")`` from a recorded name; torch is recorded without a suffix."""
    model, _, backend = name.rpartition("+")
    if model and backend in get_args(Settings.model_fields["embedding_backend"].annotation):
        return model, backend
    return name, "torch"


def _mismatch(stored: str, wanted: str) -> str:
    """What to do when the store was written by another embedding model or backend.

    Example:
        >>> print(_mismatch("e5", "e5+onnx-int8"))  # doctest: +ELLIPSIS
        the store at this location holds vectors from the torch embedding backend, ...
    """
    (stored_model, stored_backend), (model, backend) = _split_backend(stored), _split_backend(wanted)
    if stored_model == model:
        return (
            f"the store at this location holds vectors from the {stored_backend} embedding backend, "
            f"this run embeds with {backend} (vectors of different backends differ slightly, so they "
            f"are never mixed): set QA_BOT_EMBEDDING_BACKEND={stored_backend} back, or ingest again "
            "into another QA_BOT_STORE_DIR / QA_BOT_COLLECTION (or after deleting this store)"
        )
    return (
        f"the store at this location was built with the embedding model {stored!r}, not "
        f"{wanted!r}: set QA_BOT_EMBEDDING_MODEL (and QA_BOT_EMBEDDING_BACKEND) back, or use "
        "another QA_BOT_STORE_DIR / QA_BOT_COLLECTION and ingest again"
    )


def chroma_where(filters: SearchFilters | None) -> dict | None:
    """Translate filters into a Chroma ``where`` clause (None when there is nothing to filter)."""
    if filters is None or filters.empty:
        return None
    clauses: list[dict] = []
    if filters.sources:
        clauses.append({"source": {"$in": list(filters.sources)}})
    if filters.published_from is not None:
        clauses.append({"published_day": {"$gte": _day(filters.published_from)}})
    if filters.published_to is not None:
        clauses.append({"published_day": {"$lte": _day(filters.published_to)}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _day(d) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def passage_from(chunk_id: str, text: str, meta: dict, score: float = 0.0) -> Passage:
    return Passage(
        chunk_id=chunk_id,
        text=text,
        article_id=str(meta.get("article_id", "")),
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        url=str(meta.get("url", "")),
        published=str(meta.get("published", "")),
        chunk_index=int(meta.get("chunk_index", 0)),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        score=float(score),
    )


def matches(meta: dict, filters: SearchFilters | None) -> bool:
    """The same filter as :func:`chroma_where`, evaluated in Python (for the keyword side)."""
    if filters is None or filters.empty:
        return True
    if filters.sources and meta.get("source") not in filters.sources:
        return False
    day = meta.get("published_day")
    if filters.published_from is not None and (day is None or day < _day(filters.published_from)):
        return False
    if filters.published_to is not None and (day is None or day > _day(filters.published_to)):
        return False
    return True
