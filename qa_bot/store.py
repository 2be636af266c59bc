"""The only module that knows Chroma: an embedded PersistentClient or a Chroma server.

Crash safety. An ingest may be killed at any point, so readers must never see its
half-done work. Every chunk record carries the ingest generation that wrote it (``gen``)
and the one that retired it (``dead``, 0 while in use); the collection records the last
committed generation and whether records of another generation may exist (``pending``).
An ingest writes generation G next to the committed corpus, commits by setting
``committed = G`` in one metadata write, then deletes what G retired. Readers see a chunk
when ``gen <= committed`` and it is not retired by then; while nothing is pending (the
usual case) every record is visible and no filter is needed, which matters: a Chroma
``where`` filter costs ~80 ms per query on 18k chunks against 3 ms without.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@dataclass(frozen=True)
class Generation:
    """One ingest's place in the store: ``number`` is written, ``committed`` is what
    readers see until :meth:`ChunkStore.commit`; ``leftovers`` are records an earlier,
    interrupted ingest wrote but never committed (reused when the same chunk comes again)."""

    committed: int
    number: int
    leftovers: frozenset[str]


class ChunkStore:
    """Chunks with embeddings and provenance in one Chroma collection.

    The collection records which embedding model wrote it (with its backend, e.g.
    ``...+onnx-int8``), so a store is never queried with vectors from a different model or
    backend.
    """

    def __init__(self, client: Any, collection: str, embedding_model: str) -> None:
        self.client = client
        self.name = collection
        self.embedding_model = embedding_model
        try:
            self._col = client.get_or_create_collection(
                collection,
                # No embedding function: we always pass vectors, and Chroma's default would
                # try to download a model.
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": embedding_model, "committed": 0},
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

    # ---- generations -------------------------------------------------------------------
    def _meta(self) -> dict:
        # Read afresh: another thread or process may have committed since the collection
        # object was made (a metadata read is ~0.3 ms embedded).
        return dict(self.client.get_collection(self.name).metadata or {})

    def view(self) -> tuple[int, bool]:
        """``(committed generation, pending)``: what readers see, and whether records of
        other generations (an ingest running, or one that was killed) must be filtered out."""
        meta = self._meta()
        return int(meta.get("committed", 0)), bool(meta.get("pending", 0))

    def _visible_at(self, view: tuple[int, bool] | None = None) -> int | None:
        """The generation to filter by, or None when every record is visible (``view`` is a
        :meth:`view` the caller already read, so one question reads it once)."""
        committed, pending = view or self.view()
        return committed if pending else None

    def _set(self, **values: int) -> None:
        meta = self._meta()
        meta.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to be told it again
        meta.update(values)
        self._col.modify(metadata=meta)

    def begin(self) -> Generation:
        """Start an ingest: mark the store pending and clear up after an interrupted one.

        Records retired by a generation that never committed are put back in use; records
        retired by a committed one (killed before it deleted them) are deleted. A store
        written before generations existed gets its records stamped generation 0.
        """
        meta = self._meta()
        committed = int(meta.get("committed", 0))
        if "committed" not in meta:
            legacy = self._ids_where(None)
            self.update_metadata(legacy, [{"gen": 0, "dead": 0}] * len(legacy))
        self._set(committed=committed, pending=1)
        # Filtered reads of ids only: a full metadata read takes 1.2-1.8 s on 18k chunks,
        # these take milliseconds when they match little (the usual case).
        revive = self._ids_where({"dead": {"$gt": committed}})
        self.update_metadata(revive, [{"dead": 0}] * len(revive))
        self.delete(self._ids_where({"$and": [{"dead": {"$gt": 0}}, {"dead": {"$lte": committed}}]}))
        leftovers = self._col.get(where={"gen": {"$gt": committed}}, include=["metadatas"])
        highest = max([committed, *(int(m["gen"]) for m in leftovers["metadatas"])])
        return Generation(committed, highest + 1, frozenset(leftovers["ids"]))

    def retire(self, ids: Sequence[str], generation: int) -> None:
        """Mark records as no longer in use from ``generation`` on (deleted after commit)."""
        self.update_metadata(list(ids), [{"dead": generation}] * len(ids))

    def commit(self, generation: int) -> None:
        """Make ``generation`` what readers see: one metadata write, atomic in Chroma."""
        self._set(committed=generation, pending=1)

    def finish(self) -> None:
        """After a commit (or an ingest that changed nothing): delete what the committed
        generation retired and any uncommitted record, then let readers drop the filter."""
        committed = self.view()[0]
        self.delete(self._ids_where({"$or": [{"gen": {"$gt": committed}}, {"dead": {"$gt": 0}}]}))
        self._set(committed=committed, pending=0)

    def _ids_where(self, where: dict | None) -> list[str]:
        return list(self._col.get(where=where, include=[])["ids"])

    @contextmanager
    def ingest_lock(self, lock_dir: Path) -> Iterator[None]:
        """Hold the store's ingest lock; another ingest already holding it is refused.

        The lock is a file lock (released by the OS if the holder dies, even by SIGKILL) in
        ``lock_dir``; with a Chroma server, ingests must run from one machine.
        """
        from filelock import FileLock, Timeout

        lock_dir = Path(lock_dir)
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_dir / "ingest.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise StoreError(
                f"another ingest is writing to this store ({lock_dir}); run this one again "
                "when it has finished"
            ) from None
        try:
            yield
        finally:
            lock.release()

    # ---- reading -------------------------------------------------------------------------
    def count(self) -> int:
        return self._col.count()

    def ids(self) -> list[str]:
        """Ids of the chunks readers see."""
        return list(self._visible_records([])["ids"])

    def _visible_records(self, include: list[str], at: int | None = None) -> dict:
        """``col.get`` of the records visible at ``at`` (default: what readers see now)."""
        at = self._visible_at() if at is None else at
        return self._col.get(where=chroma_where(None, at), include=include)

    def article_states(self) -> dict[str, ArticleState]:
        """Every article readers see with its chunk ids and recorded fingerprint(s)."""
        got = self._visible_records(["metadatas"])
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
        got = self._visible_records(["metadatas"])
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

    def all_chunks(self, at: int | None = None) -> tuple[list[str], list[str], list[dict]]:
        """(ids, texts, metadatas) of every chunk visible at generation ``at`` (default: what
        readers see now), for building the keyword index."""
        got = self._visible_records(["documents", "metadatas"], at)
        return list(got["ids"]), list(got["documents"]), list(got["metadatas"])

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored embeddings by id (to reuse for a chunk whose text did not change)."""
        if not ids:
            return {}
        got = self._col.get(ids=list(ids), include=["embeddings"])
        return {i: list(map(float, e)) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def get(self, ids: Sequence[str], view: tuple[int, bool] | None = None) -> list[Passage]:
        if not ids:
            return []
        where = chroma_where(None, self._visible_at(view))
        got = self._col.get(ids=list(ids), where=where, include=["documents", "metadatas"])
        by_id = {
            i: passage_from(i, d, m)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def search(
        self,
        embedding: Sequence[float],
        n: int,
        filters: SearchFilters | None = None,
        view: tuple[int, bool] | None = None,
    ) -> list[Passage]:
        """Nearest chunks by cosine similarity (score = 1 - cosine distance)."""
        count = self.count()
        if n <= 0 or count == 0:
            return []
        got = self._col.query(
            query_embeddings=[list(embedding)],
            n_results=min(n, count),
            where=chroma_where(filters, self._visible_at(view)),
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
        generation: int = 0,
    ) -> None:
        """Upsert chunks (idempotent by id) as records of ``generation``."""
        for i in range(0, len(ids), _WRITE_BATCH):
            s = slice(i, i + _WRITE_BATCH)
            self._col.upsert(
                ids=list(ids[s]),
                documents=list(texts[s]),
                embeddings=[list(map(float, e)) for e in embeddings[s]],
                metadatas=[{**m, "gen": generation, "dead": 0} for m in metadatas[s]],
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


def chroma_where(filters: SearchFilters | None, generation: int | None = None) -> dict | None:
    """Translate filters into a Chroma ``where`` clause (None when there is nothing to filter);
    ``generation`` keeps only the records in the corpus as of that generation: written by it
    or before, and not retired by then (see the module doc)."""
    clauses: list[dict] = []
    if generation is not None:
        clauses.append({"gen": {"$lte": generation}})
        clauses.append({"$or": [{"dead": 0}, {"dead": {"$gt": generation}}]})
    if filters is not None:
        if filters.sources:
            clauses.append({"source": {"$in": list(filters.sources)}})
        if filters.published_from is not None:
            clauses.append({"published_day": {"$gte": _day(filters.published_from)}})
        if filters.published_to is not None:
            clauses.append({"published_day": {"$lte": _day(filters.published_to)}})
    if not clauses:
        return None
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
