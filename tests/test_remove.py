"""Removing articles from the store by id (ingest/remove.py), against real Chroma and the
real embedding model. The CLI's output is in tests/test_cli.py."""

from __future__ import annotations

import json
import shutil

import pytest

from ingest.pipeline import ingest_path
from ingest.remove import RemoveReport, remove_articles
from qa_bot.corpus.index import CorpusIndex
from qa_bot.corpus.store import ChunkStore, StoreError

CABAI = "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.\n"
BANJIR = "Banjir setinggi 50 sentimeter merendam tiga kelurahan di Semarang pada Senin pagi.\n"


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "cabai.md").write_text(CABAI)
    (folder / "banjir.md").write_text(BANJIR)
    (folder / "kumpulan.jsonl").write_text(json.dumps({"id": "gempa", "text": "Gempa di Cianjur."}) + "\n")
    return folder


@pytest.fixture
def ingested(corpus, settings_factory, embedder):
    settings = settings_factory()
    store = ChunkStore.from_settings(settings, embedder.name)
    ingest_path(corpus, settings, store=store, embedder=embedder)
    return settings, store


def article_ids(store) -> list[str]:
    return sorted(a["article_id"] for a in store.articles())


def test_remove_commits_a_generation_with_its_keyword_index(ingested):
    settings, store = ingested
    generation = store.view()[0]
    report = remove_articles(["cabai"], settings, store=store)
    assert (report.removed, report.unknown, report.chunks_deleted) == (["cabai"], [], 1)
    assert article_ids(store) == ["banjir", "gempa"]
    assert store.view() == (generation + 1, False)
    assert CorpusIndex(store, settings.store_dir).verify() is None


def test_remove_unknown_ids_are_reported_with_close_matches_and_the_rest_removed(ingested):
    settings, store = ingested
    report = remove_articles(["cabe", "banjir", "zzz", "banjir"], settings, store=store)
    assert (report.removed, report.unknown, report.suggestions) == (
        ["banjir"],
        ["cabe", "zzz"],
        {"cabe": ["cabai"]},
    )
    assert article_ids(store) == ["cabai", "gempa"]


def test_remove_of_only_unknown_ids_changes_nothing(ingested):
    settings, store = ingested
    before = (store.view(), sorted(store.ids()))
    assert remove_articles(["zzz"], settings, store=store).unknown == ["zzz"]
    assert (store.view(), sorted(store.ids())) == before


@pytest.mark.parametrize(
    ("article_id", "gone", "note"),
    [
        (
            "cabai",
            False,
            "its file {c}/cabai.md is still there: the next ingest of its folder adds it again "
            "(move or delete the file)",
        ),
        (
            "gempa",
            False,
            "its file {c}/kumpulan.jsonl is still there: the next ingest of its folder adds it again "
            "(take its line out of the file, or move or delete the file)",
        ),
        ("cabai", True, None),
    ],
)
def test_remove_says_when_the_source_would_bring_the_article_back(ingested, corpus, article_id, gone, note):
    settings, store = ingested
    if gone:
        (corpus / "cabai.md").unlink()
    report = remove_articles([article_id], settings, store=store)
    assert report.notes == ([] if note is None else [(article_id, note.format(c=corpus))])


def test_next_ingest_of_the_folder_adds_a_removed_article_again(ingested, corpus, embedder):
    settings, store = ingested
    remove_articles(["cabai"], settings, store=store)
    report = ingest_path(corpus, settings, store=store, embedder=embedder)
    assert (report.added, report.unchanged) == (["cabai"], ["banjir", "gempa"])


class _KilledBeforeCommit(ChunkStore):
    def commit(self, generation: int) -> None:
        raise KeyboardInterrupt


def test_remove_interrupted_before_its_commit_leaves_the_corpus_as_it_was(ingested, embedder):
    settings, store = ingested
    view, ids = store.view()[0], sorted(store.ids())
    killed = _KilledBeforeCommit.from_settings(settings, embedder.name)
    with pytest.raises(KeyboardInterrupt):
        remove_articles(["cabai"], settings, store=killed)
    # Readers still see the last committed corpus; the next removal finishes the job.
    assert (store.view()[0], sorted(store.ids())) == (view, ids)
    assert remove_articles(["cabai"], settings, store=store).removed == ["cabai"]
    assert article_ids(store) == ["banjir", "gempa"]
    assert store.view() == (store.view()[0], False)


def test_remove_while_an_ingest_runs_is_refused(ingested):
    settings, store = ingested
    with store.ingest_lock(settings.store_dir), pytest.raises(StoreError, match="another ingest is writing"):
        remove_articles(["cabai"], settings, store=store)
    assert article_ids(store) == ["banjir", "cabai", "gempa"]


def test_remove_report_renders_names_on_one_line_each():
    report = RemoveReport(removed=["a\nb"], unknown=["c\u2028d"], suggestions={"c\u2028d": ["cd"]})
    assert report.render() == (
        "Remove: removed 1, not found 1 (0 chunks deleted)\n"
        "  removed: a\\nb\n"
        "  not found: c\\u2028d: no article with this id in the store (did you mean 'cd'?)"
    )


def test_remove_of_an_article_an_old_store_read_through_a_link_gives_no_advice(ingested, tmp_path):
    """An old store recorded an article read through a link under its target's path (e.g.
    /etc/passwd): that file still exists but no ingest reads it, so nothing would bring the
    article back and the report must not suggest moving or deleting it."""
    settings, store = ingested
    target = tmp_path / "passwd"  # like /etc/passwd: no article suffix
    target.write_text("root:x:0:0:root:/root:/bin/bash\n")
    ids = sorted(store.article_states()["cabai"].chunk_ids)
    store.update_metadata(ids, [{"path": str(target)}] * len(ids))
    shutil.rmtree(store.location.parent / "index")  # an old store: no corpus index yet
    report = remove_articles(["cabai"], settings, store=store)
    assert (report.removed, report.notes) == (["cabai"], [])
