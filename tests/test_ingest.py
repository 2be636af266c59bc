"""Ingest against real Chroma (temp dir) with the real embedding model."""

import json
import shutil

import pytest

from ingest.loaders import split_front_matter
from ingest.pipeline import ingest_path
from qa_bot.corpus.index import CorpusIndex
from qa_bot.corpus.store import ChunkStore
from tests.conftest import FOUNDING


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(FOUNDING, folder / FOUNDING.name)
    (folder / "kedua.md").write_text(
        "---\ntitle: Harga cabai naik\nsource: Antara\npublished: 2024-10-28\n---\n"
        "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram. "
        "Pedagang menyebut pasokan dari Jawa Tengah berkurang.\n"
    )
    return folder


@pytest.fixture
def setup(corpus, settings_factory, embedder):
    settings = settings_factory()
    store = ChunkStore.from_settings(settings, embedder.name)

    def run(path=corpus):
        return ingest_path(path, settings, store=store, embedder=embedder)

    return run, store, settings


def chunk_texts(store, article_id):
    ids, texts, metas = store.all_chunks()
    return [t for t, m in zip(texts, metas, strict=True) if m["article_id"] == article_id]


def test_ingest_adds_articles_with_provenance(setup):
    run, store, _ = setup
    report = run()
    assert (report.added, report.updated, report.removed, report.skipped) == (
        ["000_c2c96c36c1e836fc", "kedua"],
        [],
        [],
        [],
    )
    ids, texts, metas = store.all_chunks()
    assert len(ids) == report.chunks_written == 14
    meta = next(m for m in metas if m["article_id"] == "kedua")
    assert {
        k: meta[k] for k in ("title", "source", "published", "published_day", "chunk_index", "start")
    } == {
        "title": "Harga cabai naik",
        "source": "Antara",
        "published": "2024-10-28",
        "published_day": 20241028,
        "chunk_index": 0,
        "start": 0,
    }
    founding = [m for m in metas if m["article_id"] == "000_c2c96c36c1e836fc"]
    assert {m["source"] for m in founding} == {"CNN Indonesia"}
    text = split_front_matter(FOUNDING.read_text())[1].strip("\n")  # offsets are into the body
    for chunk, m in zip(texts, metas, strict=True):
        if m["article_id"] == "000_c2c96c36c1e836fc":
            assert text[m["start"] : m["end"]] == chunk


def test_second_run_changes_nothing_and_says_so(setup):
    run, store, _ = setup
    run()
    before = sorted(store.ids())
    report = run()
    assert (report.added, report.updated, report.removed, report.unchanged) == (
        [],
        [],
        [],
        ["000_c2c96c36c1e836fc", "kedua"],
    )
    assert report.chunks_written == report.chunks_deleted == 0
    assert "No changes: the store already matches the corpus." in report.render()
    assert sorted(store.ids()) == before


def test_edited_article_leaves_no_old_chunk(setup, corpus):
    run, store, settings = setup
    run()
    path = corpus / FOUNDING.name
    text = path.read_text().replace("Rabu (30/10) setelah pukul 15.00", "Jumat (1/11) setelah pukul 10.00")
    path.write_text(text)
    report = run()
    assert (report.updated, report.added, report.removed) == (["000_c2c96c36c1e836fc"], [], [])
    assert report.chunks_written == 1 and report.chunks_deleted == 1
    joined = " ".join(chunk_texts(store, "000_c2c96c36c1e836fc"))
    assert "Rabu (30/10)" not in joined
    assert "Jumat (1/11) setelah pukul 10.00" in joined
    assert CorpusIndex(store, settings.store_dir).verify() is None


def test_deleted_article_is_removed(setup, corpus):
    run, store, settings = setup
    run()
    (corpus / "kedua.md").unlink()
    report = run()
    assert (report.removed, report.unchanged) == (["kedua"], ["000_c2c96c36c1e836fc"])
    assert chunk_texts(store, "kedua") == []
    assert CorpusIndex(store, settings.store_dir).verify() is None


def test_unreadable_file_is_skipped_and_the_rest_ingest(setup, corpus):
    run, store, _ = setup
    (corpus / "rusak.txt").write_bytes(b"\x00\x00binary")
    (corpus / "kosong.md").write_text("")
    report = run()
    assert report.added == ["000_c2c96c36c1e836fc", "kedua"]
    assert [(p.rsplit("/", 1)[1], why) for p, why in report.skipped] == [
        ("kosong.md", "the file is empty"),
        ("rusak.txt", "binary file (NUL bytes): save the article as UTF-8 text"),
    ]


def test_article_whose_file_breaks_is_kept_not_removed(setup, corpus):
    run, store, _ = setup
    run()
    (corpus / "kedua.md").write_bytes(b"\x00broken now")
    report = run()
    assert report.removed == []
    assert chunk_texts(store, "kedua") != []


def test_ingesting_one_file_does_not_remove_articles_from_elsewhere(setup, corpus, tmp_path):
    run, store, _ = setup
    run()
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        json.dumps({"id": "x1", "text": "Gempa mengguncang Cianjur pada Senin.", "source": "Antara"}) + "\n"
    )
    report = run(extra)
    assert (report.added, report.removed) == (["x1"], [])
    assert sorted(store.article_states()) == ["000_c2c96c36c1e836fc", "kedua", "x1"]


def test_duplicate_ids_are_reported(setup, corpus):
    run, _, _ = setup
    (corpus / "z.jsonl").write_text(json.dumps({"id": "kedua", "text": "Teks lain."}) + "\n")
    report = run()
    assert report.added == ["000_c2c96c36c1e836fc", "kedua"]
    assert [why for _, why in report.skipped] == [
        f"duplicate article id, first seen in {corpus / 'kedua.md'}"
    ]


def test_store_refuses_a_different_embedding_model(setup, embedder):
    run, store, settings = setup
    run()
    from qa_bot.corpus.store import StoreError

    with pytest.raises(StoreError, match="was built with the embedding model"):
        ChunkStore.from_settings(settings, "another-model")


def test_unchanged_run_leaves_the_index_alone_but_repairs_a_damaged_one(setup):
    run, store, settings = setup
    run()
    generation = store.view()[0]
    segments = settings.store_dir / "index" / "segments"
    before = {p.relative_to(segments): p.stat().st_mtime_ns for p in segments.rglob("*")}
    run()
    assert {p.relative_to(segments): p.stat().st_mtime_ns for p in segments.rglob("*")} == before
    assert store.view() == (generation, False)  # nothing changed: no new generation
    (docs,) = segments.glob("*/docs.npy")
    docs.write_bytes(docs.read_bytes()[:-4])  # a damaged segment
    assert CorpusIndex(store, settings.store_dir).verify() is not None
    run()
    assert CorpusIndex(store, settings.store_dir).verify() is None


def test_store_from_before_generations_is_taken_over_without_embedding_again(setup):
    run, store, settings = setup
    run()
    texts_before = sorted(store.all_chunks()[1])
    # What a store written by an earlier version looks like: no generation on the records
    # or the collection, chunk ids without the article version, one "bm25" index folder.
    col = store._col
    ids, texts, metas = store.all_chunks()
    vectors = store.vectors(ids)
    col.delete(ids=ids)
    from ingest.chunking import text_key

    legacy = [f"{i.split('-')[0]}-{m['chunk_index']}-{text_key(i)}" for i, m in zip(ids, metas, strict=True)]
    col.add(
        ids=legacy,
        documents=texts,
        embeddings=[vectors[i] for i in ids],
        metadatas=[{k: v for k, v in m.items() if k not in ("gen", "dead")} for m in metas],
    )
    col.modify(metadata={"embedding_model": store.embedding_model})
    shutil.rmtree(settings.store_dir / "index")
    (settings.store_dir / "bm25").mkdir()  # the keyword index of an older version

    report = run()
    assert report.chunks_written == 0 and report.updated == [] and report.added == []
    assert sorted(store.all_chunks()[1]) == texts_before
    assert store.count() == len(texts_before)
    assert not set(legacy) & set(store.ids())
    assert list(settings.store_dir.glob("*bm25*")) == []
    assert CorpusIndex(store, settings.store_dir).verify() is None
