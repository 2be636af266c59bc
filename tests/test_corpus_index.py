"""The corpus index followed through many ingests (adds, edits, removals, copies) equals the
index built from scratch over what the store holds, and a change costs what it changes.

Stand-in embeddings (tests/fakes.py) keep this fast; the real-model ingest, crash and damage
tests (test_ingest, test_crash, test_store_damage) run the same code with the real models.
"""

from __future__ import annotations

import json
import random
import re
import shutil

import pytest

from ingest.pipeline import ingest_path
from qa_bot.corpus.duplicates import article_texts, copy_groups
from qa_bot.corpus.index import CorpusIndex, _snapshot_from_chunks
from qa_bot.corpus.store import ChunkStore
from qa_bot.models.embeddings import embedder_of
from tests.conftest import FOUNDING
from tests.fakes import WordEmbeddings

WORDS = sorted(set(re.findall(r"[A-Za-z]{3,}", FOUNDING.read_text())))
QUERIES = ["Dewan Keamanan PBB", "Sekretaris Jenderal NATO", "Korea Utara Kursk", "Zelensky", "rapat darurat"]


def _story(rng: random.Random, n: int) -> str:
    """A story of ``n`` sentences of the founding article's words: stories share words (so
    BM25 has work to do), and no two share a run of five words by chance, as in real news."""
    return " ".join(" ".join(rng.choices(WORDS, k=rng.randint(8, 16))).capitalize() + "." for _ in range(n))


@pytest.fixture
def world(tmp_path, settings_factory):
    settings = settings_factory()
    embedder = embedder_of(WordEmbeddings())
    store = ChunkStore.from_settings(settings, embedder.name)
    folder = tmp_path / "corpus"
    folder.mkdir()

    def ingest(articles: dict[str, str]):
        for old in folder.glob("*.jsonl"):
            old.unlink()
        lines = [
            json.dumps({"id": aid, "text": text, "source": "Antara"})
            for aid, text in sorted(articles.items())
        ]
        (folder / "articles.jsonl").write_text("\n".join(lines) + "\n")
        return ingest_path(folder, settings, store=store, embedder=embedder)

    return ingest, store, settings


def _from_scratch(store):
    return _snapshot_from_chunks(store, store.view()[0])


def _agree(store, settings) -> None:
    index = CorpusIndex(store, settings.store_dir)
    assert index.verify() is None
    snap, scratch = index.snapshot(), _from_scratch(store)
    assert snap.from_catalog
    for q in QUERIES:
        got = [(h.chunk_id, round(h.score, 4)) for h in snap.search(q, 20)]
        want = [(h.chunk_id, round(h.score, 4)) for h in scratch.search(q, 20)]
        assert got == want, q
    assert snap.copies == scratch.copies


def test_index_followed_through_many_ingests_equals_one_built_from_scratch(world):
    ingest, store, settings = world
    rng = random.Random(3)
    articles = {f"a{i}": _story(rng, rng.randint(2, 5)) for i in range(12)}
    for round_ in range(6):
        # Edits, removals, new articles, and syndicated copies (a dateline and a line more).
        for aid in rng.sample(sorted(articles), 2):
            articles[aid] = _story(rng, rng.randint(2, 5))
        for aid in rng.sample(sorted(articles), 1):
            del articles[aid]
        for i in range(3):
            articles[f"n{round_}-{i}"] = _story(rng, rng.randint(2, 5))
        source = rng.choice(sorted(articles))
        articles[f"copy{round_}"] = "JAKARTA, KOMPAS - " + articles[source] + " Baca juga: berita lain."
        if round_ % 2:  # a longer version of a story: the other copy is contained in it
            source = rng.choice(sorted(articles))
            articles[f"long{round_}"] = articles[source] + " " + _story(rng, 1)
        report = ingest(articles)
        assert report.changed
        _agree(store, settings)
    # The copies the incremental index found are the ones the batch finder finds.
    ids, texts, metas = store.all_chunks()
    groups = copy_groups(article_texts(ids, texts, metas))
    assert (
        groups
        and {
            aid: tuple(g["group"])
            for aid, g in CorpusIndex(store, settings.store_dir).snapshot().copies.items()
        }
        == groups
    )
    # Rebuilt from the store in one go (a lost catalog, a store of an older version): every
    # article is new to the index at once, and the same groups come out.
    shutil.rmtree(settings.store_dir / "index")
    index = CorpusIndex(store, settings.store_dir)
    with index.lock():
        index.begin().commit()
    assert {aid: tuple(g["group"]) for aid, g in index.snapshot().copies.items()} == groups
    _agree(store, settings)


def test_report_names_the_copy_a_new_article_is_of(world):
    ingest, store, settings = world
    rng = random.Random(5)
    story = _story(rng, 4)
    ingest({"asli": story, "lain": _story(rng, 3)})
    report = ingest({"asli": story, "lain": _story(rng, 3), "salinan": "BANDUNG, ANTARA - " + story})
    assert ("salinan", "same story as asli: answers cite one copy and name the rest") in report.notes


def test_an_unchanged_run_reads_no_chunk_and_writes_nothing(world, monkeypatch):
    ingest, store, settings = world
    rng = random.Random(9)
    articles = {f"a{i}": _story(rng, 3) for i in range(5)}
    ingest(articles)
    generation = store.view()
    # Reading every chunk (or every chunk's metadata) is what made ingest grow with the archive.
    for name in ("all_chunks", "article_states", "articles", "ids"):
        monkeypatch.setattr(ChunkStore, name, lambda *a, **k: pytest.fail("read every chunk"))
    report = ingest(articles)
    assert (report.changed, store.view()) == (False, generation)
    # One new article: still no full read.
    articles["baru"] = _story(rng, 2)
    report = ingest(articles)
    assert report.added == ["baru"]


def test_files_unchanged_since_they_were_read_are_not_read_again(world, monkeypatch):
    import ingest.pipeline as pipeline

    ingest, store, settings = world
    monkeypatch.setattr(pipeline, "RACY_SECONDS", 0.0)  # the files are written just before
    folder = settings.store_dir.parent / "files"
    folder.mkdir()
    rng = random.Random(11)
    for name in ("a", "b", "c"):
        (folder / f"{name}.md").write_text(f"---\ntitle: {name}\n---\n{_story(rng, 3)}\n")
    read: list[str] = []
    real = pipeline.iter_articles

    def counting(files, *args, **kwargs):
        read.extend(sorted(p.name for p in files))
        return real(files, *args, **kwargs)

    monkeypatch.setattr(pipeline, "iter_articles", counting)
    embedder = embedder_of(WordEmbeddings())

    def run(**overrides):
        read.clear()
        return ingest_path(folder, settings.model_copy(update=overrides), store=store, embedder=embedder)

    assert run().added == ["a", "b", "c"] and read == ["a.md", "b.md", "c.md"]
    report = run()
    assert (read, report.unchanged, report.changed) == ([], ["a", "b", "c"], False)
    # An edit of the same length is seen (its times change); so is a new file.
    text = (folder / "b.md").read_text()
    assert text.endswith(".\n")
    (folder / "b.md").write_text(text[:-2] + "!\n")
    (folder / "d.md").write_text(f"---\ntitle: d\n---\n{_story(rng, 2)}\n")
    report = run()
    assert (read, report.updated, report.added) == (["b.md", "d.md"], ["b"], ["d"])
    # A gone file's articles go; a setting that changes the chunks reads every file again.
    (folder / "a.md").unlink()
    assert (run().removed, read) == (["a"], [])
    run(chunk_max_chars=settings.chunk_max_chars - 100)
    assert read == ["b.md", "c.md", "d.md"]
    assert CorpusIndex(store, settings.store_dir).verify() is None


def test_a_moved_folder_updates_paths_in_place_without_a_new_generation(world, tmp_path):
    ingest, store, settings = world
    rng = random.Random(13)
    folder = tmp_path / "old"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.md").write_text(f"---\ntitle: {name}\n---\n{_story(rng, 3)}\n")
    embedder = embedder_of(WordEmbeddings())
    ingest_path(folder, settings, store=store, embedder=embedder)
    generation = store.view()
    moved = folder.rename(tmp_path / "new")
    report = ingest_path(moved, settings, store=store, embedder=embedder)
    assert (report.changed, sorted(report.unchanged), store.view()) == (False, ["a", "b"], generation)
    index = CorpusIndex(store, settings.store_dir)
    assert sorted(a["path"] for a in index.articles()) == [str(moved / "a.md"), str(moved / "b.md")]
    assert index.verify() is None  # Chroma's records were moved too
    assert sorted(index.article_states()) == ["a", "b"]


def test_coverage_from_the_catalog_equals_the_one_counted_from_every_article(world):
    from collections import Counter

    _, store, settings = world
    rng = random.Random(17)
    folder = settings.store_dir.parent / "dated"
    folder.mkdir()
    lines = [
        {"id": f"a{i}", "text": _story(rng, 2), "source": ["Antara", "Kompas", "Antara"][i % 3]}
        | ({"published": f"2025-0{i + 1}-1{i}"} if i % 2 else {})
        for i in range(6)
    ]
    (folder / "a.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    ingest_path(folder, settings, store=store, embedder=embedder_of(WordEmbeddings()))
    index = CorpusIndex(store, settings.store_dir)
    rows = index.articles()
    n, outlets, first, last, undated = index.coverage()
    published = sorted(r["published"] for r in rows if r["published"])
    assert (n, undated) == (len(rows), len(rows) - len(published))
    assert outlets == [s for s, _ in Counter(r["source"] for r in rows if r["source"]).most_common()]
    assert (first[:10], last[:10], undated, outlets) == ("2025-02-11", "2025-06-15", 3, ["Antara", "Kompas"])
    assert (first, last) == (published[0], published[-1])


def test_a_killed_ingest_of_more_chunks_than_sqlite_takes_variables_is_recovered(tmp_path):
    """Chroma fails a filtered read that matches over ~32k records ("too many SQL variables"):
    read whole, the leftovers of a killed bulk ingest would make the store unrecoverable."""
    from qa_bot.config import get_settings

    store = ChunkStore.from_settings(get_settings(store_dir=tmp_path), "tiny")
    n = 40_000
    ids = [f"c{i}" for i in range(n)]
    metas = [{"article_id": f"a{i // 3}", "chunk_index": i % 3} for i in range(n)]
    store.put(
        ids, ["teks"] * n, [[1.0, float(i % 7)] for i in range(n)], metas, generation=1
    )  # never committed
    generation = CorpusIndex(store, tmp_path).begin().generation
    assert (generation.committed, generation.number, len(generation.leftovers)) == (0, 2, n)
    assert len(store.all_chunks(at=2)[0]) == n


def test_warm_up_loads_the_corpus_index_so_the_first_question_does_not(
    tmp_path, settings_factory, monkeypatch
):
    # On an app machine of a Chroma server this is where it catches up (38 s at 50k articles
    # for a new machine, measured): the app's background loader calls warm_up, not a user.
    from qa_bot.corpus import index as index_module
    from tests.fakes import ScriptedChat, fake_bot

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"id": "a", "text": FOUNDING.read_text()[:2000]}) + "\n")
    bot = fake_bot(settings_factory(), folder, ScriptedChat())
    loads = []
    real = index_module.CorpusIndex._load
    monkeypatch.setattr(index_module.CorpusIndex, "_load", lambda self, c: loads.append(c) or real(self, c))
    bot.warm_up()
    assert len(loads) == 1
    bot.retriever.retrieve("Sekretaris Jenderal NATO", 4)
    assert len(loads) == 1
