"""Runs an ingest or reads a store in its own process, for the crash and lock tests.

    python -m tests.ingest_worker ingest CORPUS STORE [KILL_POINT]
    python -m tests.ingest_worker dump STORE QUESTION

A kill point makes the process SIGKILL itself at that step of the write (the ingest code
itself has no test hooks: the store's methods are wrapped here). ``dump`` prints what a
reader sees as JSON. Each call is a fresh process because an embedded Chroma client keeps
state per process, and a killed ingest must be read the way a restarted app would.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from qa_bot.config import apply_offline_env, get_settings
from qa_bot.corpus.store import ChunkStore


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(point: str) -> None:
    """Wrap one ChunkStore step so the process dies there."""
    if point == "after-first-put":
        _after(ChunkStore, "put")
    elif point == "mid-put":
        # Chroma has written the first half of the records of a batch, not the rest.
        real = ChunkStore.put

        def half(self, ids, texts, embeddings, metadatas, generation=0):
            n = max(1, len(ids) // 2)
            real(self, ids[:n], texts[:n], embeddings[:n], metadatas[:n], generation)
            _die()

        ChunkStore.put = half
    elif point == "after-retire":
        _after(ChunkStore, "retire")
    elif point == "before-commit":
        ChunkStore.commit = lambda self, generation: _die()
    elif point == "after-commit":
        _after(ChunkStore, "commit")
    elif point == "mid-cleanup":
        # After the commit, while the retired records are being deleted.
        real_delete, real_commit = ChunkStore.delete, ChunkStore.commit
        committed = []

        def commit(self, generation):
            real_commit(self, generation)
            committed.append(generation)

        def delete(self, ids):
            ids = list(ids)
            if committed and len(ids) > 1:
                real_delete(self, ids[: len(ids) // 2])
                _die()
            real_delete(self, ids)

        ChunkStore.commit, ChunkStore.delete = commit, delete
    elif point == "slow-commit":
        # Holds the lock (and the uncommitted generation) until the parent says go on.
        real_commit = ChunkStore.commit

        def commit(self, generation):
            print("holding", flush=True)
            sys.stdin.readline()
            real_commit(self, generation)

        ChunkStore.commit = commit
    elif point == "announce-begin":
        # The parent kills at a moment of its choosing after the write phase starts.
        real_begin = ChunkStore.begin

        def begin(self):
            generation = real_begin(self)
            print("writing", flush=True)
            return generation

        ChunkStore.begin = begin
    elif point in ("after-segment-save", "mid-merge"):
        # The new segment's folder is written (and, for mid-merge, a merged one is being
        # written), the catalog does not name them yet.
        from qa_bot.corpus import segments

        real_save, saved = segments.save, []

        def save(segment, folder):
            if point == "mid-merge":
                (folder / segment.name).mkdir(parents=True)  # half a folder
                _die()
            files = real_save(segment, folder)
            saved.append(segment.name)
            if point == "after-segment-save":
                _die()
            return files

        segments.save = save
        if point == "mid-merge":
            # Every segment is merged into one (the store is too small for the policy to).
            segments.merge_plan = lambda sizes, deleted: [list(range(len(sizes)))] if len(sizes) > 1 else []
    elif point == "mid-catalog-write":
        # Inside the catalog's transaction, some rows written, not committed.
        from qa_bot.corpus.index_write import IndexWrite

        def write_rows(self, con, rows, c, g):
            con.execute("INSERT INTO commits (gen, chunks) VALUES (?, 0)", (g,))
            _die()

        IndexWrite._write_rows = write_rows
    elif point == "before-index-cleanup":
        # Chroma committed and cleaned up, the catalog's retired rows not yet deleted.
        from qa_bot.corpus import catalog

        real_settle, calls = catalog.settle, []

        def settle(con, c):
            calls.append(c)
            if len(calls) > 1:
                _die()
            real_settle(con, c)

        catalog.settle = settle
    elif point == "timed":
        # The parent kills at a moment of its choosing; progress lines tell it where we are.
        pass
    else:
        raise SystemExit(f"unknown kill point {point}")


def _after(cls, name: str) -> None:
    real = getattr(cls, name)

    def wrapped(*args, **kwargs):
        real(*args, **kwargs)
        _die()

    setattr(cls, name, wrapped)


def ingest(corpus: str, store_dir: str, point: str | None) -> None:
    from ingest.pipeline import ingest_path

    if point:
        _arm(point)
    settings = get_settings(store_dir=store_dir)

    def progress(done: int, total: int, label: str) -> None:
        print(f"progress {done} {total}", flush=True)

    report = ingest_path(corpus, settings, progress=progress)
    print(json.dumps(report.to_dict()), flush=True)


def dump(store_dir: str, question: str) -> None:
    """What a reader sees: visible chunks, record count, keyword index, a retrieval."""
    from qa_bot.models.embeddings import load_embeddings
    from qa_bot.search.retrieval import HybridRetriever

    settings = get_settings(store_dir=store_dir)
    embedder = load_embeddings(settings)
    store = ChunkStore.from_settings(settings, embedder.name)
    retriever = HybridRetriever.from_settings(store, embedder, settings)
    ids, texts, metas = store.all_chunks()
    hidden = {"gen", "dead"}
    chunks = {
        i: [t, {k: v for k, v in m.items() if k not in hidden}]
        for i, t, m in zip(ids, texts, metas, strict=True)
    }
    index = retriever.snapshot()
    passages = retriever.retrieve(question, 3)
    print(
        json.dumps(
            {
                "chunks": chunks,
                "records": store.count(),
                "view": list(store.view()),
                "index_ids": sorted(index.chunk_ids()),
                "retrieved": [p.text for p in passages],
                "from_catalog": index.from_catalog,
                "verify": retriever.index.verify(),
                "segment_folders": sorted(
                    p.name for p in (settings.store_dir / "index" / "segments").iterdir()
                ),
                "legacy_indexes": sorted(p.name for p in settings.store_dir.glob("*bm25*")),
                "catalog_segments": _catalog_segments(settings.store_dir),
            }
        )
    )


def _catalog_segments(store_dir) -> list[str]:
    import sqlite3

    con = sqlite3.connect(store_dir / "index" / "catalog.sqlite3")
    try:
        return sorted(name for (name,) in con.execute("SELECT name FROM segments"))
    finally:
        con.close()


if __name__ == "__main__":
    apply_offline_env()
    command, *rest = sys.argv[1:]
    if command == "ingest":
        ingest(rest[0], rest[1], rest[2] if len(rest) > 2 else None)
    elif command == "dump":
        dump(rest[0], rest[1])
    else:
        raise SystemExit(__doc__)
