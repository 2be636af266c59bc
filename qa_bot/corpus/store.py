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

Damage. Chroma's own errors about a damaged embedded store are long tracebacks that do not
say what to do, and some damage it does not notice at all (measured with chromadb 1.5):

- ``chroma.sqlite3`` overwritten: "file is not a database" when the client is made;
- ``chroma.sqlite3`` deleted: Chroma silently starts an empty store and the old vector index
  folder (named after its segment's UUID) stays behind;
- vector index files (``<segment uuid>/``; written once 1,000 records have come) damaged:
  "Error loading hnsw index" (or "Error deserializing pickle file") on the first read,
  ``count`` included, and on writes; a truncated ``header.bin`` makes every query return
  nothing and an upsert hang; a missing folder or ``index_metadata.pickle`` makes queries
  return one chunk and filtered queries fail ("Error finding id");
- a read-only store (permissions or a read-only mount): "attempt to write a readonly
  database" when the client is made: Chroma cannot open a store it may not write, not even
  to read it.

So an embedded store is checked when it is opened: its files (the SQLite header, the
segment folders, the vector index's header and sizes), then one stored vector is read and
searched for, which makes Chroma load the index. Chroma's exceptions are translated here,
the only module that knows Chroma, into :class:`StoreError` with a diagnosis made by
looking at the files (and at the error text only when they look sound), naming the cause
and the command that fixes it; ``qa-bot ingest --rebuild`` (:mod:`ingest.rebuild`) rebuilds
the store from the sources and from the chunk texts the damaged one still holds
(:func:`salvage_chunks` reads them straight from SQLite, as Chroma cannot serve a collection
whose vector index it cannot load).
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_args

from qa_bot.config import Settings, apply_offline_env
from qa_bot.types import Passage, SearchFilters

if TYPE_CHECKING:
    import numpy as np

# Chroma caps one write; stay well below its max_batch_size.
_WRITE_BATCH = 1000
# A filtered read is paged: Chroma fails on one that matches more than SQLite's 32,766
# variables' worth of records ("too many SQL variables", measured with chromadb 1.5.9 on a
# killed ingest's 280k records), which would leave a big store unrecoverable.
_READ_PAGE = 10_000

#: The command that rebuilds a damaged store (the user names the folder).
REBUILD_COMMAND = "qa-bot ingest --rebuild <folder>"
#: Written in the store folder while a rebuild swaps the old store for the new one (see
#: :mod:`ingest.rebuild`); readers do not open the store while it is there.
REBUILD_JOURNAL = "rebuild-swap.json"


class StoreError(Exception):
    """The store cannot be used as asked; the message says what to do."""


_F = TypeVar("_F", bound=Callable[..., Any])


def _translated(method: _F) -> _F:
    """Chroma's exceptions inside ``method`` become a :class:`StoreError` with a diagnosis."""

    @functools.wraps(method)
    def wrapper(self: ChunkStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            if not _from_chroma(exc):
                raise
            raise StoreError(self._diagnose(exc)) from exc

    return wrapper  # type: ignore[return-value]


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

    def __init__(
        self, client: Any, collection: str, embedding_model: str, location: Path | None = None
    ) -> None:
        """``location``: the folder of an embedded store (``<store dir>/chroma``), looked at
        to explain Chroma's errors; None for a Chroma server."""
        self.client = client
        self.name = collection
        self.embedding_model = embedding_model
        self.location = location
        self._col = self._open_collection()
        stored = (self._col.metadata or {}).get("embedding_model")
        if stored and stored != embedding_model:
            raise StoreError(_mismatch(stored, embedding_model))
        self._check_index()

    @classmethod
    def from_settings(cls, settings: Settings, embedding_model: str) -> ChunkStore:
        """Open the embedded store at ``settings.store_dir`` or the Chroma server if set.

        Raises:
            StoreError: the store is damaged or read-only, or the server cannot be reached;
                the message names the cause and the command that fixes it.
        """
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
            return cls(client, settings.collection, embedding_model)
        store_dir = make_store_dir(settings)
        if (store_dir / REBUILD_JOURNAL).exists():
            # Mid-swap: Chroma would create an empty store where the rebuilt one goes.
            raise StoreError(
                f"the store at {store_dir} is being rebuilt (`qa-bot ingest --rebuild`): ask again when "
                f"it has finished; if that rebuild was interrupted, run `{REBUILD_COMMAND}` again to "
                "finish it"
            )
        location = chroma_path(settings)
        # Damage Chroma would not notice (a deleted database: it would start an empty store)
        # or would turn into a hang or a crash (a truncated vector index) is found first.
        problem = check_files(location, settings.collection)
        for _ in range(10):
            if problem is None:
                break
            # An ingest in another process may be rewriting the vector index right now: give
            # it a few seconds before calling the store damaged.
            time.sleep(0.3)
            problem = check_files(location, settings.collection)
        if problem is not None:
            raise StoreError(problem)
        try:
            client = chromadb.PersistentClient(path=str(location), settings=chroma_settings)
        except Exception as exc:
            if not _from_chroma(exc):
                raise
            raise StoreError(diagnose(location, settings.collection, exc)) from exc
        return cls(client, settings.collection, embedding_model, location)

    @_translated
    def _open_collection(self) -> Any:
        try:
            return self.client.get_or_create_collection(
                self.name,
                # No embedding function: we always pass vectors, and Chroma's default would
                # try to download a model.
                embedding_function=None,
                metadata={"hnsw:space": "cosine", "embedding_model": self.embedding_model, "committed": 0},
            )
        except ValueError as exc:
            raise StoreError(f"cannot open collection {self.name!r}: {exc}") from exc

    @_translated
    def _check_index(self) -> None:
        """Read one stored vector and search for it: Chroma loads its vector index now, so
        damage shows when the store is opened rather than mid-answer, and an index that no
        longer finds what the store holds (Chroma does not notice some damage) is caught."""
        count = self._col.count()
        if count == 0:
            return
        one = self._col.get(limit=1, include=["embeddings"])
        want = min(count, 10)
        found = 0
        if len(one["ids"]):
            got = self._col.query(
                query_embeddings=[list(one["embeddings"][0])], n_results=want, include=["distances"]
            )
            found = len(got["ids"][0])
        # An ingest in another process may have deleted chunks since the count.
        if found < min(want, self._col.count()):
            raise StoreError(self._index_mismatch(found, want))

    def _index_mismatch(self, found: int, want: int) -> str:
        what = f"a search for a stored vector found {found} of the {want} nearest chunks"
        if self.location is None:
            return (
                f"the Chroma server's vector index of collection {self.name!r} is damaged ({what}): "
                "rebuild the collection on the server (delete it, then `qa-bot ingest` your folders "
                "and feeds again)"
            )
        problem = check_files(self.location, self.name)
        if problem is not None:
            return problem
        return _vector_index_damaged(self.location, _segment_folder(self.location, self.name), what)

    def _diagnose(self, exc: BaseException) -> str:
        if self.location is None:
            return (
                f"the Chroma server failed on collection {self.name!r} ({_chroma_text(exc)}): its log "
                "says why; unset QA_BOT_CHROMA_HOST to use the embedded store instead"
            )
        return diagnose(self.location, self.name, exc)

    # ---- generations -------------------------------------------------------------------
    @_translated
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

    @_translated
    def _set(self, **values: int) -> None:
        meta = self._meta()
        meta.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to be told it again
        meta.update(values)
        self._col.modify(metadata=meta)

    @_translated
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
        leftovers = self._paged({"gen": {"$gt": committed}}, ["metadatas"])
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

    # ---- the change log (for machines that follow a Chroma server) ---------------------
    def _changes(self) -> Any:
        return self.client.get_or_create_collection(
            f"{self.name}-changes", embedding_function=None, metadata={"hnsw:space": "l2"}
        )

    @_translated
    def log_change(self, generation: int, record: dict, keep: int = 500) -> None:
        """Record what ``generation`` changed besides adding records (retired articles, moved
        paths) and the generation it follows, before it commits: a machine holding the
        corpus index of an earlier generation catches up from these and the records of later
        generations (:meth:`qa_bot.corpus.index.CorpusIndex.snapshot`). The last ``keep``
        generations are kept; a machine further behind rebuilds its index once."""
        import json

        log = self._changes()
        log.upsert(
            ids=[f"g{generation}"],
            documents=[json.dumps(record)],
            embeddings=[[1.0]],
            metadatas=[{"gen": generation}],
        )
        old = log.get(where={"gen": {"$lt": generation - keep}}, include=[])["ids"]
        if old:
            log.delete(ids=list(old))

    @_translated
    def changes(self, after: int, upto: int) -> dict[int, dict]:
        """The change records of the generations in (``after``, ``upto``] (see :meth:`log_change`)."""
        import json

        got = self._changes().get(
            where={"$and": [{"gen": {"$gt": after}}, {"gen": {"$lte": upto}}]},
            include=["documents", "metadatas"],
        )
        return {int(m["gen"]): json.loads(d) for d, m in zip(got["documents"], got["metadatas"], strict=True)}

    @_translated
    def records_since(self, after: int, upto: int) -> tuple[list[str], list[str], list[dict]]:
        """(ids, texts, metadatas) of the chunks visible at ``upto`` that generations after
        ``after`` wrote: what a follower adds to its index."""
        where = {
            "$and": [
                {"gen": {"$gt": after}},
                {"gen": {"$lte": upto}},
                {"$or": [{"dead": 0}, {"dead": {"$gt": upto}}]},
            ]
        }
        got = self._paged(where, ["documents", "metadatas"])
        return list(got["ids"]), list(got["documents"]), list(got["metadatas"])

    def _paged(self, where: dict | None, include: list[str]) -> dict:
        """``col.get(where=..., include=...)`` read in pages of :data:`_READ_PAGE` records."""
        out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        offset = 0
        while True:
            got = self._col.get(where=where, include=include, limit=_READ_PAGE, offset=offset)
            for key in out:
                out[key] += list(got[key])
            if len(got["ids"]) < _READ_PAGE:
                return out
            offset += _READ_PAGE

    @_translated
    def _ids_where(self, where: dict | None) -> list[str]:
        return list(self._paged(where, [])["ids"])

    @contextmanager
    def ingest_lock(self, lock_dir: Path) -> Iterator[None]:
        """Hold the store's ingest lock (see :func:`ingest_lock`)."""
        with ingest_lock(lock_dir):
            yield

    # ---- reading -------------------------------------------------------------------------
    @_translated
    def count(self) -> int:
        return self._col.count()

    def ids(self) -> list[str]:
        """Ids of the chunks readers see."""
        return list(self._visible_records([])["ids"])

    @_translated
    def _visible_records(self, include: list[str], at: int | None = None) -> dict:
        """``col.get`` of the records visible at ``at`` (default: what readers see now)."""
        at = self._visible_at() if at is None else at
        return self._paged(chroma_where(None, at), include)

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

    @_translated
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored embeddings by id (to reuse for a chunk whose text did not change)."""
        if not ids:
            return {}
        got = self._col.get(ids=list(ids), include=["embeddings"])
        return {i: list(map(float, e)) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    @_translated
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

    @_translated
    def search(
        self,
        embedding: Sequence[float],
        n: int,
        filters: SearchFilters | None = None,
        view: tuple[int, bool] | None = None,
    ) -> list[Passage]:
        """Nearest chunks by cosine similarity (score = 1 - cosine distance)."""
        if n <= 0:
            return []
        # No count first: Chroma returns what it has (a count costs a scan of its table).
        got = self._col.query(
            query_embeddings=[list(embedding)],
            n_results=n,
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
    @_translated
    def put(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Sequence[Sequence[float]] | np.ndarray,
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

    @_translated
    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[dict]) -> None:
        for i in range(0, len(ids), _WRITE_BATCH):
            s = slice(i, i + _WRITE_BATCH)
            self._col.update(ids=list(ids[s]), metadatas=list(metadatas[s]))

    @_translated
    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _WRITE_BATCH):
            self._col.delete(ids=ids[i : i + _WRITE_BATCH])


@contextmanager
def ingest_lock(lock_dir: Path, wait: float = 0) -> Iterator[None]:
    """Hold the store's ingest lock; another ingest already holding it is refused (after
    ``wait`` seconds).

    The lock is a file lock (released by the OS if the holder dies, even by SIGKILL) in
    ``lock_dir``; with a Chroma server, ingests must run from one machine.
    """
    from filelock import FileLock, Timeout

    lock_dir = Path(lock_dir)
    lock = FileLock(str(lock_dir / "ingest.lock"), timeout=wait)
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:
        raise StoreError(
            f"another ingest is writing to this store ({lock_dir}); run this one again when it has finished"
        ) from None
    except OSError as exc:
        raise StoreError(
            f"cannot take the ingest lock {lock_dir / 'ingest.lock'} ({exc.strerror}): an ingest writes "
            f"the store, so {lock_dir} must be writable: make it writable (`chmod -R u+w {lock_dir}`) or "
            "pass --store-dir (or set QA_BOT_STORE_DIR) to a writable store"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def make_store_dir(settings: Settings) -> Path:
    """The store folder, created if needed.

    Raises:
        StoreError: it cannot be created (the message says to choose another).
    """
    path = Path(settings.store_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the store folder {path} ({exc.strerror}): pass --store-dir (or set "
            "QA_BOT_STORE_DIR) to a folder you can write"
        ) from exc
    return path


def chroma_path(settings: Settings) -> Path:
    """The folder of the embedded Chroma store (inside ``settings.store_dir``)."""
    return Path(settings.store_dir) / "chroma"


def release_client(location: Path) -> None:
    """Forget this process's Chroma client of the embedded store at ``location``.

    Chroma keeps one client per folder for the life of the process, with the database and
    vector index open: after the folder was moved or replaced, the next open must read the
    files afresh instead of the ones the old client still holds.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    # Chroma's private registry (chromadb 1.x); nothing to forget if it is not there.
    key = str(location)
    getattr(SharedSystemClient, "_identifier_to_refcount", {}).pop(key, None)
    system = getattr(SharedSystemClient, "_identifier_to_system", {}).pop(key, None)
    if system is not None:
        system.stop()


# ---- damage -------------------------------------------------------------------------------
_DB_FILE = "chroma.sqlite3"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SEGMENT_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Chroma's hnswlib: version, offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, label_offset, offset_data, maxlevel, enterpoint_node, maxM, maxM0,
# M, mult, ef_construction (little-endian, 100 bytes, version 1 in chromadb 1.x).
_HNSW_HEADER = struct.Struct("<iQQQQQQiiQQQdQ")
_HNSW_FILES = ("header.bin", "data_level0.bin", "length.bin", "link_lists.bin", "index_metadata.pickle")
_TEXTS_GONE = (
    f"run `{REBUILD_COMMAND}` with the folder or feed URL your articles came from (the damaged store "
    "is moved aside, not deleted; articles from other folders or feeds come back with `qa-bot "
    "ingest` of each of them)"
)


def check_files(location: Path, collection: str) -> str | None:
    """What is wrong with the files of the embedded store at ``location``, as a message that
    names the cause and the fix; None when they look sound or there is no store yet.

    Looks at what Chroma would not notice or would turn into a hang or a crash: a missing or
    empty database beside vector index folders, a file that is not SQLite, and the vector
    index files of the collection (present, header readable, sizes and links consistent).
    """
    if not location.is_dir():
        return None
    db = location / _DB_FILE
    try:
        with db.open("rb") as f:
            head: bytes | None = f.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        head = None
    except OSError as exc:
        return _read_only(location, f"{db} cannot be read: {exc.strerror}", False)
    if not head:
        segments = sorted(p.name for p in location.iterdir() if p.is_dir() and _SEGMENT_NAME.match(p.name))
        if not segments:
            return None  # a new store
        folders = f"folder {segments[0]} is" if len(segments) == 1 else f"folders {', '.join(segments)} are"
        return (
            f"the store's database {db} is {'missing' if head is None else 'empty'}; its vector index "
            f"{folders} still there but holds no article texts, so the texts are gone (Chroma would "
            f"start an empty store beside the old index): {_TEXTS_GONE}"
        )
    if head != _SQLITE_MAGIC:
        return (
            f"the store's database {db} is not an SQLite database (it starts with {head!r}: the file "
            f"was overwritten), so the article texts it held are gone: {_TEXTS_GONE}"
        )
    for segment, persisted in _vector_segments(db, collection):
        try:
            problem = _hnsw_problem(location / segment) if persisted else None
        except OSError as exc:
            return _read_only(location, f"{exc.filename} cannot be read: {exc.strerror}", False)
        if problem is not None:
            return _vector_index_damaged(location, location / segment, problem)
    return None


def diagnose(location: Path, collection: str, exc: BaseException) -> str:
    """Why Chroma raised ``exc`` on the embedded store at ``location``, and what to do.

    The files are looked at first (:func:`check_files`, then whether the store may be
    written); Chroma's error text only tells which part it was reading when they look sound.
    """
    problem = check_files(location, collection)
    if problem is not None:
        return problem
    text = _chroma_text(exc)
    unwritable = _unwritable(location, collection)
    if unwritable is not None:
        return _read_only(location, *unwritable)
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return _read_only(location, f"Chroma: {text}", False)
    if any(k in lowered for k in ("hnsw", "pickle", "error getting embedding", "error finding id")):
        return _vector_index_damaged(location, _segment_folder(location, collection), f"Chroma: {text}")
    if any(k in lowered for k in ("malformed", "not a database", "disk image")):
        return (
            f"the store's database {location / _DB_FILE} is damaged (Chroma: {text}): run "
            f"`{REBUILD_COMMAND}` with the folder or feed URL your articles came from (the texts that "
            "can still be read are kept; the damaged store is moved aside, not deleted)"
        )
    return (
        f"Chroma failed on the store at {location} ({text}). If it fails again, `{REBUILD_COMMAND}` "
        "with the folder or feed URL your articles came from rebuilds the store from it and from "
        "the texts the store still holds (the old store is moved aside, not deleted)"
    )


def _vector_index_damaged(location: Path, segment: Path, why: str) -> str:
    return (
        f"the store's vector index {segment} is damaged ({why}); the article texts in "
        f"{location / _DB_FILE} are intact: run `{REBUILD_COMMAND}` with the folder or feed URL your "
        "articles came from to rebuild the store from it and from those texts (no article is lost; "
        "the damaged store is moved aside, not deleted)"
    )


def _read_only(location: Path, why: str, read_only_fs: bool) -> str:
    store_dir = location.parent
    fix = "remount it read-write" if read_only_fs else f"make it writable (`chmod -R u+w {store_dir}`)"
    return (
        f"the store at {store_dir} is read-only ({why}), and Chroma cannot open a store it may not "
        f"write, not even to answer questions from it: {fix}, or copy it to a writable place and "
        "point --store-dir (or QA_BOT_STORE_DIR) at the copy"
    )


def _unwritable(location: Path, collection: str) -> tuple[str, bool] | None:
    """(why, read-only file system) when Chroma may not write the store, else None."""
    folder = location if location.is_dir() else location.parent  # Chroma would create it there
    if folder.is_dir() and os.statvfs(folder).f_flag & os.ST_RDONLY:
        return f"{folder} is on a read-only file system", True
    db = location / _DB_FILE
    paths = [folder, db]
    for segment, _ in _vector_segments(db, collection):
        folder = location / segment
        paths += [folder, *sorted(folder.glob("*"))] if folder.is_dir() else []
    for path in paths:
        if path.exists() and not os.access(path, os.W_OK):
            return f"{path} is not writable", False
    return None


def _vector_segments(db: Path, collection: str) -> list[tuple[str, bool]]:
    """(segment id, persisted) of the collection's vector index segments, from Chroma's
    SQLite tables; [] when they cannot be read (Chroma then says why when it opens them)."""
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            rows = con.execute(
                "SELECT s.id, EXISTS (SELECT 1 FROM max_seq_id m WHERE m.segment_id = s.id) "
                "FROM segments s JOIN collections c ON s.collection = c.id "
                "WHERE c.name = ? AND s.scope = 'VECTOR'",
                (collection,),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []
    return [(str(segment), bool(persisted)) for segment, persisted in rows]


def _segment_folder(location: Path, collection: str) -> Path:
    """The vector index folder of ``collection`` (the store folder when it is not known)."""
    segments = _vector_segments(location / _DB_FILE, collection)
    return location / segments[0][0] if segments else location


def _hnsw_problem(folder: Path) -> str | None:
    """What is wrong with a persisted vector index folder, None when it looks sound.

    Chroma does not check all of this itself: a short ``header.bin`` makes every query
    return nothing and the next write hang, a short ``data_level0.bin`` loses vectors without
    a word, zeroed link lists crash the process; so the sizes and the entry point's links are
    checked against the header.
    """
    if not folder.is_dir():
        return "its folder is missing"
    missing = [name for name in _HNSW_FILES if not (folder / name).is_file()]
    if missing:
        return f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
    header = (folder / "header.bin").read_bytes()
    if len(header) != _HNSW_HEADER.size:
        return f"header.bin is {len(header)} bytes long, not {_HNSW_HEADER.size}"
    if not any(header):
        return "header.bin holds only zero bytes"
    fields = _HNSW_HEADER.unpack(header)
    version, capacity, count, per_entry, top_level, entry, max_links = (
        fields[i] for i in (0, 2, 3, 4, 7, 8, 9)
    )
    if version != 1:
        return None  # a format this check does not know: Chroma judges it when it loads it
    if count > capacity or per_entry == 0 or not (count == 0 or 0 <= entry < count) or max_links > 10_000:
        return "header.bin holds impossible values"
    for name, need in (("data_level0.bin", count * per_entry), ("length.bin", count * 4)):
        size = (folder / name).stat().st_size
        if size < need:
            return f"{name} holds {size:,} bytes, the {count:,} entries of header.bin need {need:,}"
    links = (folder / "link_lists.bin").read_bytes()
    per_level = 4 + 4 * max_links
    pos, entry_level = 0, -1
    for i in range(count):
        if pos + 4 > len(links):
            return f"link_lists.bin ends after {i:,} of {count:,} entries"
        (size,) = struct.unpack_from("<I", links, pos)
        if size % per_level:
            return f"link_lists.bin entry {i:,} is not a whole number of levels"
        if i == entry:
            entry_level = size // per_level
        pos += 4 + size
    if pos > len(links):
        return f"link_lists.bin ends inside entry {count - 1:,}"
    if count and entry_level != top_level:
        return f"link_lists.bin gives the entry point {entry_level} levels, header.bin {top_level}"
    return None


def _from_chroma(exc: BaseException) -> bool:
    from chromadb.errors import ChromaError

    return isinstance(exc, ChromaError)


def _chroma_text(exc: BaseException) -> str:
    """Chroma's message on one line, from its innermost "Error ..." on (the outer layers only
    say where it was caught: "Error executing plan: Error sending backfill request ...").

    Example:
        >>> _chroma_text(Exception("Error executing plan: Internal error: Error finding id"))
        'Error finding id'
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    parts = text.split(": ")
    inner = max((i for i, part in enumerate(parts) if part.startswith("Error ")), default=0)
    text = ": ".join(parts[inner:])
    return text if len(text) <= 300 else text[:297] + "..."


def salvage_chunks(location: Path, collection: str) -> tuple[list[str], list[str], list[dict]]:
    """(ids, texts, metadatas) of the chunks readers saw in the embedded store at
    ``location``, read straight from Chroma's SQLite tables: Chroma cannot serve a collection
    whose vector index it cannot load, but the texts and metadata are in the database. The
    store's bookkeeping (``gen``, ``dead``) is dropped; the records of an ingest that never
    committed are left out.

    Raises:
        StoreError: the database is missing or cannot be read (the message says why).
    """
    db = location / _DB_FILE
    if not db.is_file() or db.stat().st_size == 0:
        raise StoreError(f"{db} is {'empty' if db.is_file() else 'missing'}")
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        try:
            found = con.execute("SELECT id FROM collections WHERE name = ?", (collection,)).fetchall()
            if not found:
                return [], [], []
            (collection_id,) = found[0]
            settings = {
                key: _value(row)
                for key, *row in con.execute(
                    "SELECT key, str_value, int_value, float_value, bool_value FROM collection_metadata "
                    "WHERE collection_id = ?",
                    (collection_id,),
                )
            }
            rows = con.execute(
                "SELECT e.id, e.embedding_id, m.key, m.string_value, m.int_value, m.float_value, "
                "m.bool_value FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "LEFT JOIN embedding_metadata m ON m.id = e.id "
                "WHERE s.collection = ? AND s.scope = 'METADATA' ORDER BY e.id",
                (collection_id,),
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{db} cannot be read ({exc})") from exc
    records: dict[int, tuple[str, dict]] = {}
    for row_id, chunk_id, key, *value in rows:
        _, meta = records.setdefault(row_id, (str(chunk_id), {}))
        if key is not None:
            meta[key] = _value(value)
    committed = int(settings.get("committed", 0) or 0)
    ids, texts, metas = [], [], []
    for chunk_id, meta in records.values():
        text = meta.pop("chroma:document", None)
        gen, dead = int(meta.pop("gen", 0)), int(meta.pop("dead", 0))
        if "committed" in settings and (gen > committed or 0 < dead <= committed):
            continue  # not what readers saw (see the module doc)
        if text is None:
            continue
        ids.append(chunk_id)
        texts.append(str(text))
        metas.append(meta)
    return ids, texts, metas


def _value(row: Sequence[Any]) -> Any:
    """The one set value of a (string, int, float, bool) row of Chroma's metadata tables."""
    string, integer, real, boolean = row
    if string is not None:
        return string
    if integer is not None:
        return int(integer)
    if real is not None:
        return float(real)
    return None if boolean is None else bool(boolean)


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


def _day(d: date) -> int:
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
