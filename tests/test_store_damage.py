"""A damaged store says what to do, and `qa-bot ingest --rebuild` repairs it.

Every case runs end to end on a real Chroma store in tmp_path: a small corpus of two
folders is ingested once per module with the real embedding model into a store whose
vector index is written to disk after two records (Chroma's default is 1,000, so a store
this small would never have index files to damage), each test damages a copy of it, and
the CLI is called as a user would. Read-only stores need a process that file permissions
bind: root ignores them, so the CLI runs in a child process without the capabilities that
let root override permissions (``setpriv``), or inside a private mount namespace with the
store bind-mounted read-only (``unshare -m``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from ui.cli import main

QUESTION = "Berapa harga cabai rawit di Kramat Jati?"


def _article(title: str, source: str, published: str, body: str) -> str:
    return f"---\ntitle: {title}\nsource: {source}\npublished: {published}\n---\n{body}\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """Folder A (two articles) and folder B (one article, ingested from elsewhere)."""
    root = tmp_path_factory.mktemp("damage-corpus")
    a, b = root / "a", root / "b"
    a.mkdir()
    b.mkdir()
    (a / "cabai.md").write_text(
        _article(
            "Harga cabai naik",
            "Antara",
            "2024-10-28",
            "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram. "
            "Pedagang menyebut pasokan dari Jawa Tengah berkurang.",
        )
    )
    (a / "banjir.md").write_text(
        _article(
            "Banjir di Semarang",
            "Antara",
            "2024-10-29",
            "Banjir setinggi 50 sentimeter merendam tiga kelurahan di Semarang pada Senin pagi. "
            "Badan Penanggulangan Bencana Daerah mengerahkan perahu karet.",
        )
    )
    (b / "kereta.md").write_text(
        _article(
            "Kereta cepat tambah jadwal",
            "Kompas",
            "2024-10-30",
            "Operator kereta cepat Jakarta-Bandung menambah 12 perjalanan setiap akhir pekan. "
            "Penambahan berlaku mulai bulan depan.",
        )
    )
    return a, b


@pytest.fixture(scope="module")
def template(tmp_path_factory, corpus, embedder, settings_factory) -> Path:
    """A store holding folders A and B, with its vector index files on disk."""
    import chromadb

    from ingest.pipeline import ingest_path
    from qa_bot.corpus.store import chroma_path, release_client

    settings = settings_factory()
    location = chroma_path(settings)
    client = chromadb.PersistentClient(str(location), settings=chromadb.Settings(anonymized_telemetry=False))
    # What ChunkStore creates, but writing the vector index after 2 records instead of 1,000.
    client.create_collection(
        settings.collection,
        embedding_function=None,
        metadata={"embedding_model": embedder.name, "committed": 0},
        configuration={"hnsw": {"space": "cosine", "sync_threshold": 2, "batch_size": 2}},
    )
    for folder in corpus:
        ingest_path(folder, settings, embedder=embedder)
    release_client(location)  # copies must be read from disk, not from this process's client
    assert (_segment(settings.store_dir) / "index_metadata.pickle").is_file()
    return Path(settings.store_dir)


@pytest.fixture(scope="module")
def chunks(template, embedder) -> dict[str, str]:
    """Chunk id -> text of the intact store."""
    return _chunk_texts(template, embedder)


@pytest.fixture
def store(template, tmp_path) -> Path:
    copy = tmp_path / "store"
    shutil.copytree(template, copy)
    return copy


def _segment(store: Path) -> Path:
    (folder,) = [p for p in (Path(store) / "chroma").iterdir() if p.is_dir()]
    return folder


def _chunk_texts(store: Path, embedder) -> dict[str, str]:
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import ChunkStore, chroma_path, release_client

    settings = get_settings(store_dir=store)
    ids, texts, _ = ChunkStore.from_settings(settings, embedder.name).all_chunks()
    release_client(chroma_path(settings))
    return dict(zip(ids, texts, strict=True))


# ---- damage, and what the user is told ------------------------------------------------------
def _overwrite_database(store: Path) -> None:
    (store / "chroma" / "chroma.sqlite3").write_bytes(b"not a database\n")


def _delete_database(store: Path) -> None:
    (store / "chroma" / "chroma.sqlite3").unlink()


def _zero_index_header(store: Path) -> None:
    (_segment(store) / "header.bin").write_bytes(bytes(100))


def _truncate_index_header(store: Path) -> None:
    with (_segment(store) / "header.bin").open("r+b") as f:
        f.truncate(10)


def _delete_index_folder(store: Path) -> None:
    shutil.rmtree(_segment(store))


TEXTS_GONE = (
    "run `qa-bot ingest --rebuild <folder>` with the folder or feed URL your articles came from (the "
    "damaged store is moved aside, not deleted; articles from other folders or feeds come back with "
    "`qa-bot ingest` of each of them)"
)
INDEX_DAMAGED = (
    "the store's vector index {segment} is damaged ({why}); the article texts in {db} are intact: run "
    "`qa-bot ingest --rebuild <folder>` with the folder or feed URL your articles came from to rebuild "
    "the store from it and from those texts (no article is lost; the damaged store is moved aside, not "
    "deleted)"
)
DAMAGE = {
    "database overwritten": (
        _overwrite_database,
        "the store's database {db} is not an SQLite database (it starts with b'not a database\\n': the "
        "file was overwritten), so the article texts it held are gone: " + TEXTS_GONE,
    ),
    "database deleted": (
        _delete_database,
        "the store's database {db} is missing; its vector index folder {segment_name} is still there but "
        "holds no article texts, so the texts are gone (Chroma would start an empty store beside the old "
        "index): " + TEXTS_GONE,
    ),
    "index header zeroed": (
        _zero_index_header,
        # Found in the files before Chroma loads them (Chroma would say "Error loading hnsw index").
        INDEX_DAMAGED.replace("{why}", "header.bin holds only zero bytes"),
    ),
    "index header truncated": (
        _truncate_index_header,
        INDEX_DAMAGED.replace("{why}", "header.bin is 10 bytes long, not 100"),
    ),
    "index folder deleted": (_delete_index_folder, INDEX_DAMAGED.replace("{why}", "its folder is missing")),
}
TEXTS_KEPT = ["index header zeroed", "index header truncated", "index folder deleted"]
TEXTS_LOST = ["database overwritten", "database deleted"]


def _damage(store: Path, case: str) -> str:
    """Damage ``store`` as ``case`` says; the message the user must get."""
    segment = _segment(store)
    damage, message = DAMAGE[case]
    damage(store)
    return message.format(db=store / "chroma" / "chroma.sqlite3", segment=segment, segment_name=segment.name)


@pytest.mark.parametrize("case", DAMAGE)
def test_ask_on_damaged_store_names_cause_and_fix(store, case, capsys):
    message = _damage(store, case)
    assert main(["--store-dir", str(store), "ask", QUESTION]) == 1
    out, err = capsys.readouterr()
    # Before any answer: the store is checked while the LLM's worker is still loading.
    assert (out, err) == ("", f"qa-bot: {message}\n")


@pytest.mark.parametrize("case", DAMAGE)
def test_ingest_on_damaged_store_names_cause_and_fix(store, corpus, case, capsys):
    message = _damage(store, case)
    assert main(["--store-dir", str(store), "ingest", str(corpus[0]), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"qa-bot: {message}\n")


def test_ingest_on_store_without_database_starts_no_empty_store(store, corpus, capsys):
    _delete_database(store)
    main(["--store-dir", str(store), "ingest", str(corpus[0]), "--quiet"])
    assert sorted(p.name for p in (store / "chroma").iterdir()) == [_segment(store).name]


# ---- rebuild ----------------------------------------------------------------------------------
def _rebuild(store: Path, folder: Path, capsys) -> tuple[int, str, str]:
    code = main(["--store-dir", str(store), "ingest", "--rebuild", str(folder), "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def _moved_to(store: Path) -> Path:
    (aside,) = store.glob("replaced-*")
    return aside


@pytest.mark.parametrize("case", TEXTS_KEPT)
def test_rebuild_keeps_every_article_with_its_chunk_texts(store, corpus, chunks, embedder, case, capsys):
    _damage(store, case)
    code, _, _ = _rebuild(store, corpus[0], capsys)
    assert code == 0
    # Folder B's article was not in the folder given: it comes back from the old texts.
    assert _chunk_texts(store, embedder) == chunks


@pytest.mark.parametrize("case", TEXTS_KEPT)
def test_rebuild_reports_restored_articles_and_where_the_old_store_went(store, corpus, case, capsys):
    _damage(store, case)
    _, out, _ = _rebuild(store, corpus[0], capsys)
    assert re.sub(r"\d+\.\d s\)", "T s)", out).splitlines() == [
        f"Rebuild: the old store was moved to {_moved_to(store)} (delete it once the rebuilt store answers "
        "as it should).",
        "  3 article(s) restored from its chunk texts (3 chunks embedded again).",
        "Ingest: added 0, updated 0, unchanged 2, removed 0, skipped 0 (0 chunks written, 0 deleted, T s)",
        "No changes: the store already matches the corpus.",
    ]


def test_rebuild_json_names_the_old_store_and_the_restored_articles(store, corpus, capsys):
    _damage(store, "index header zeroed")
    assert main(["--store-dir", str(store), "ingest", "--rebuild", str(corpus[0]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("moved_to", "restored", "chunks_restored", "lost", "failed")} == {
        "moved_to": str(_moved_to(store)),
        "restored": ["banjir", "cabai", "kereta"],
        "chunks_restored": 3,
        "lost": "",
        "failed": "",
    }


def test_intact_store_with_index_files_opens_and_answers(store, embedder):
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    settings = get_settings(store_dir=store)
    retriever = HybridRetriever.from_settings(
        ChunkStore.from_settings(settings, embedder.name), embedder, settings
    )
    assert [p.article_id for p in retriever.retrieve(QUESTION, 1)] == ["cabai"]


@pytest.mark.parametrize("case", TEXTS_LOST)
def test_rebuild_without_old_texts_ingests_the_folder(store, corpus, chunks, embedder, case, capsys):
    _damage(store, case)
    code, _, _ = _rebuild(store, corpus[0], capsys)
    assert code == 0
    in_folder_a = {cid: text for cid, text in chunks.items() if "kereta" not in text}
    assert _chunk_texts(store, embedder) == in_folder_a


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("database overwritten", "{db} cannot be read (file is not a database)"),
        ("database deleted", "{db} is missing"),
    ],
)
def test_rebuild_without_old_texts_says_what_is_lost(store, corpus, case, why, capsys):
    _damage(store, case)
    _, out, _ = _rebuild(store, corpus[0], capsys)
    assert out.splitlines()[1] == (
        f"  Its texts could not be read ({why.format(db=store / 'chroma' / 'chroma.sqlite3')}): only the "
        "articles of the path given were ingested; ingest your other folders and feeds again."
    )


@pytest.mark.parametrize("case", DAMAGE)
def test_rebuild_moves_the_damaged_store_aside_unchanged(store, corpus, case, capsys):
    _damage(store, case)
    before = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    _rebuild(store, corpus[0], capsys)
    aside = _moved_to(store)
    after = {
        p.relative_to(aside): p.read_bytes()
        for p in aside.rglob("*")
        if p.is_file() and p.name != "ingest.lock"
    }
    assert after == {k: v for k, v in before.items() if k.name != "ingest.lock"}


def test_rebuild_leaves_no_old_index_folder_behind(store, corpus, capsys):
    old = _segment(store).name
    _delete_database(store)
    _rebuild(store, corpus[0], capsys)
    assert old not in {p.name for p in (store / "chroma").iterdir()}


@pytest.mark.parametrize(
    ("question", "article"),
    [(QUESTION, "cabai"), ("Berapa perjalanan kereta cepat ditambah setiap akhir pekan?", "kereta")],
)
def test_rebuilt_store_answers_retrieval(store, corpus, embedder, question, article, capsys):
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    _damage(store, "index header zeroed")
    _rebuild(store, corpus[0], capsys)
    settings = get_settings(store_dir=store)
    retriever = HybridRetriever.from_settings(
        ChunkStore.from_settings(settings, embedder.name), embedder, settings
    )
    assert [p.article_id for p in retriever.retrieve(question, 1)] == [article]


def test_rebuild_of_missing_folder_changes_nothing(store, tmp_path, capsys):
    before = sorted(p.relative_to(store) for p in store.rglob("*"))
    code, _, err = _rebuild(store, tmp_path / "nope", capsys)
    assert (code, err) == (
        1,
        f"qa-bot: {tmp_path / 'nope'} does not exist: give a file or a folder of articles\n",
    )
    assert sorted(p.relative_to(store) for p in store.rglob("*")) == before


# ---- read-only stores ---------------------------------------------------------------------------
def _setpriv() -> list[str]:
    """A command prefix that runs a child without root's power to ignore file permissions."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def _read_only_run(store: Path, mode: str, argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` with ``store`` read-only: by permissions or by a read-only bind mount."""
    if mode == "permissions":
        subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)
        command = [*_setpriv(), *argv]
    else:
        if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
            pytest.skip("no mount namespaces here (unshare -m)")
        script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        command = ["unshare", "-m", "sh", "-c", script, str(store), *argv]
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)


QA_BOT = [str(Path(sys.executable).parent / "qa-bot")]
READ_ONLY = {
    "permissions": "{chroma} is not writable), and Chroma cannot open a store it may not write, not even to "
    "answer questions from it: make it writable (`chmod -R u+w {store}`), or copy",
    "read-only mount": "{chroma} is on a read-only file system), and Chroma cannot open a store it may not "
    "write, not even to answer questions from it: remount it read-write, or copy",
}


@pytest.mark.parametrize("mode", READ_ONLY)
def test_ask_on_read_only_store_says_chroma_cannot_and_how_to_fix(store, mode):
    done = _read_only_run(store, mode, [*QA_BOT, "--store-dir", str(store), "ask", QUESTION])
    detail = READ_ONLY[mode].format(chroma=store / "chroma", store=store)
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"qa-bot: the store at {store} is read-only ({detail} it to a writable place and point --store-dir "
        "(or QA_BOT_STORE_DIR) at the copy\n",
    )


def test_rebuild_of_read_only_store_says_how_to_fix(store, corpus):
    done = _read_only_run(
        store, "permissions", [*QA_BOT, "--store-dir", str(store), "ingest", "--rebuild", str(corpus[0])]
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"qa-bot: cannot rebuild the store at {store}: {store} is not writable, so the old store cannot be "
        f"moved aside: make it writable (`chmod -R u+w {store}`) and run the rebuild again\n",
    )


READER = """
import json, sys
from qa_bot.config import get_settings
from qa_bot.models.embeddings import load_embeddings
from qa_bot.search.retrieval import HybridRetriever
from qa_bot.corpus.store import ChunkStore
settings = get_settings(store_dir=sys.argv[1])
embedder = load_embeddings(settings)
store = ChunkStore.from_settings(settings, embedder.name)
retriever = HybridRetriever.from_settings(store, embedder, settings)
print(json.dumps([p.article_id for p in retriever.retrieve(sys.argv[2], 1)]))
"""


def test_reader_builds_the_keyword_index_in_memory_when_the_store_folder_is_read_only(store):
    shutil.rmtree(store / "index")
    store.chmod(0o555)  # the store folder read-only; Chroma's own folder stays writable
    try:
        done = subprocess.run(
            [*_setpriv(), sys.executable, "-c", READER, str(store), QUESTION],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        store.chmod(0o755)
    assert (done.returncode, done.stdout.splitlines()[-1:]) == (0, ['["cabai"]']), done.stderr[-2000:]
    assert "the keyword index is built in memory from the store" in done.stderr
    assert not (store / "index").exists()


# ---- the keyword index ----------------------------------------------------------------------------
# Well-formed arrays of another size, each of which changes the scores (see the first test).
ARRAYS = {
    "tfs.npy": lambda a: a[::-1][:-1],
    "docs.npy": lambda a: a[::-1][:-1],
    "indptr.npy": lambda a: np.concatenate([[0], a[:-2]]),
}
QUERY = "harga cabai rawit banjir kereta"


def _replace_array(store: Path, name: str) -> None:
    (path,) = (store / "index" / "segments").glob(f"*/{name}")
    array = np.load(path)
    np.save(path, ARRAYS[name](array).astype(array.dtype))


def _hits(index) -> list[tuple[str, float]]:
    return [(h.chunk_id, round(h.score, 5)) for h in index.search(QUERY, 10)]


def _snapshot(store: Path, embedder):
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    settings = get_settings(store_dir=store)
    return HybridRetriever.from_settings(
        ChunkStore.from_settings(settings, embedder.name), embedder, settings
    ).snapshot()


@pytest.mark.parametrize("name", ARRAYS)
def test_array_of_wrong_size_changes_or_breaks_bm25_scores(store, name):
    """Why the catalog records each segment file's size and SHA-256: numpy loads such an
    array without a word, which then scores wrongly or fails mid-search."""
    from qa_bot.corpus import segments

    (folder,) = (store / "index" / "segments").iterdir()

    def scores():
        # Loaded as numpy would, without the checks segments.load makes.
        meta = json.loads((folder / "segment.json").read_text())
        arrays = {
            a: np.load(folder / f"{a}.npy")
            for a in ("chunk_ids", "indptr", "docs", "tfs", "lengths", "days", "sources")
        }
        segment = segments.Segment(folder.name, meta["words"], source_names=meta["sources"], **arrays)
        live = segments.Live(segment, np.zeros(segment.rows, dtype=bool))
        from qa_bot.text import keyword_tokens

        return [
            (h.chunk_id, round(h.score, 5))
            for h in segments.SegmentSearch([live]).search(keyword_tokens(QUERY), 10)
        ]

    intact = scores()
    _replace_array(store, name)
    try:
        damaged = scores()
    except (ValueError, IndexError):
        damaged = None
    assert damaged != intact


@pytest.mark.parametrize("name", ARRAYS)
def test_segment_with_a_replaced_array_is_not_loaded(store, name):
    from qa_bot.corpus import segments

    _replace_array(store, name)
    (folder,) = (store / "index" / "segments").iterdir()
    with pytest.raises(segments.SegmentDamaged, match=f"{name} is not the file that was written"):
        segments.load(folder.parent, folder.name)


@pytest.mark.parametrize("name", ARRAYS)
def test_reader_builds_the_keyword_index_in_memory_over_a_damaged_segment(store, embedder, name):
    intact = _hits(_snapshot(store, embedder))
    _replace_array(store, name)
    snapshot = _snapshot(store, embedder)
    assert (snapshot.from_catalog, _hits(snapshot)) == (False, intact)


@pytest.mark.parametrize("name", ARRAYS)
def test_ingest_that_changes_nothing_repairs_a_segment_with_an_array_of_wrong_size(
    store, corpus, embedder, name
):
    from ingest.pipeline import ingest_path
    from qa_bot.config import get_settings

    intact = _hits(_snapshot(store, embedder))
    _replace_array(store, name)
    report = ingest_path(corpus[0], get_settings(store_dir=store), embedder=embedder)
    snapshot = _snapshot(store, embedder)
    assert (report.changed, snapshot.from_catalog, _hits(snapshot)) == (False, True, intact)


# ---- the rebuild's swap ---------------------------------------------------------------------
def test_reader_refuses_a_store_in_the_middle_of_a_rebuild_swap(store, capsys):
    from qa_bot.corpus.store import REBUILD_JOURNAL

    (store / REBUILD_JOURNAL).write_text("{}")
    before = sorted(p.name for p in store.iterdir())
    assert main(["--store-dir", str(store), "ask", QUESTION]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        f"qa-bot: the store at {store} is being rebuilt (`qa-bot ingest --rebuild`): ask again when it "
        "has finished; if that rebuild was interrupted, run `qa-bot ingest --rebuild <folder>` again to "
        "finish it\n",
    )
    assert sorted(p.name for p in store.iterdir()) == before  # nothing created where the new store goes


@pytest.mark.parametrize("empty_store_made_meanwhile", [False, True])
def test_rebuild_killed_in_its_swap_is_finished_by_the_next(
    store, corpus, chunks, embedder, empty_store_made_meanwhile
):
    """What a kill between the swap's renames leaves (the new store staged and journaled, the
    old one moved aside, nothing in its place) is finished by the next rebuild: no article
    of another folder is lost and the staged store is used, not thrown away."""
    from ingest.rebuild import _restore, rebuild_store
    from qa_bot.config import get_settings
    from qa_bot.corpus.store import REBUILD_JOURNAL, chroma_path, salvage_chunks

    settings = get_settings(store_dir=store)
    ids, texts, metas = salvage_chunks(chroma_path(settings), settings.collection)
    staging, aside = store / ".rebuild-killed", store / "replaced-killed"
    staging.mkdir()
    _restore(settings, staging, embedder, ids, texts, metas, False)
    from qa_bot.corpus.index import index_folders

    old = ["chroma", *(p.name for p in index_folders(store))]
    aside.mkdir()
    journal = {"aside": str(aside), "staging": str(staging), "old": old}
    (store / REBUILD_JOURNAL).write_text(json.dumps(journal))
    for name in old:
        (store / name).rename(aside / name)
    if empty_store_made_meanwhile:  # as a reader that does not know the journal would
        (store / "chroma").mkdir()
    report = rebuild_store(corpus[0], settings, embedder=embedder)
    assert (report.resumed, report.moved_to, report.ingest.changed) == (True, aside, False)
    assert report.render().startswith(
        f"Rebuild: finished the swap of an interrupted rebuild; the old store is in {aside} "
    )
    assert not (store / REBUILD_JOURNAL).exists() and not staging.exists()
    assert sorted(p.name for p in aside.iterdir()) == sorted(old)
    assert _chunk_texts(store, embedder) == chunks
