"""Links in an ingested folder: followed only to files inside the folder; links leaving it,
links to folders, broken links and loops are reported. Discovery alone first, then end to
end with real Chroma and the real embedding model."""

from __future__ import annotations

import os
import shutil

import pytest

from ingest.loaders import scan
from ingest.pipeline import ingest_path
from qa_bot.corpus.store import ChunkStore

ARTICLE = "Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.\n"
SECRET = "root:x:0:0:root:/root:/bin/bash\n"


@pytest.fixture
def folders(tmp_path):
    """``corpus`` with one article in a subfolder, and ``outside`` beside it with a file."""
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus / "sub").mkdir(parents=True)
    outside.mkdir()
    (corpus / "sub" / "asli.md").write_text(ARTICLE)
    (outside / "passwd.txt").write_text(SECRET)
    return corpus, outside


def outside_file(corpus, outside):
    os.symlink(outside / "passwd.txt", corpus / "passwd.txt")


def outside_folder(corpus, outside):
    os.symlink(outside, corpus / "luar")


def inside_folder(corpus, outside):
    os.symlink(corpus / "sub", corpus / "alias")


def dangling(corpus, outside):
    os.symlink(outside / "hilang.txt", corpus / "hilang.txt")


def loop(corpus, outside):
    os.symlink(corpus / "b.txt", corpus / "a.txt")
    os.symlink(corpus / "a.txt", corpus / "b.txt")


def fifo(corpus, outside):
    os.mkfifo(corpus / "pipa.txt")


# (how the folder is changed, what is skipped and why; {c} is the corpus, {o} outside)
SKIPPED = [
    (
        outside_file,
        [
            (
                "{c}/passwd.txt",
                "link to {o}/passwd.txt, outside the folder being ingested: not followed (a link "
                "could bring in any file on this machine); to ingest the article, copy the file "
                "into the folder",
            )
        ],
    ),
    (
        outside_folder,
        [
            (
                "{c}/luar",
                "link to the folder {o}: not followed (links to folders never are); ingest that folder itself",
            )
        ],
    ),
    (
        inside_folder,
        [
            (
                "{c}/alias",
                "link to the folder {c}/sub: not followed (links to folders never are); its files are "
                "read where they are, in {c}/sub",
            )
        ],
    ),
    (
        dangling,
        [
            (
                "{c}/hilang.txt",
                "broken link to {o}/hilang.txt, which does not exist: delete it, or point it at a file "
                "in the folder",
            )
        ],
    ),
    (
        loop,
        [
            (
                "{c}/a.txt",
                "link loop (the link leads back to itself through other links): delete it, or point it "
                "at a file in the folder",
            ),
            (
                "{c}/b.txt",
                "link loop (the link leads back to itself through other links): delete it, or point it "
                "at a file in the folder",
            ),
        ],
    ),
    (
        fifo,
        [("{c}/pipa.txt", "not a regular file (a pipe, socket or device): only article files are read")],
    ),
]


@pytest.mark.parametrize(("make", "expected"), SKIPPED, ids=lambda v: getattr(v, "__name__", ""))
def test_scan_skips_links_it_does_not_follow_with_the_reason(folders, make, expected):
    corpus, outside = folders
    make(corpus, outside)
    found = scan(corpus)
    assert found.files == (corpus / "sub" / "asli.md",)
    assert [(str(p), why) for p, why in found.skipped] == [
        (what.format(c=corpus, o=outside), why.format(c=corpus, o=outside)) for what, why in expected
    ]


@pytest.mark.parametrize(
    ("make", "targets"),
    [(outside_file, ["{o}/passwd.txt"]), (dangling, ["{o}/hilang.txt"]), (outside_folder, []), (loop, [])],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_scan_names_where_skipped_file_links_point(folders, make, targets):
    corpus, outside = folders
    make(corpus, outside)
    assert sorted(scan(corpus).link_targets) == [t.format(o=outside) for t in targets]


def test_scan_follows_a_link_to_a_file_inside_the_folder_under_the_links_own_path(folders):
    corpus, _ = folders
    os.symlink(corpus / "sub" / "asli.md", corpus / "salinan.md")
    found = scan(corpus)
    assert found.files == (corpus / "salinan.md", corpus / "sub" / "asli.md")
    assert found.skipped == ()


def test_scan_of_a_folder_given_through_a_link_resolves_only_the_folder(folders, tmp_path):
    corpus, _ = folders
    os.symlink(corpus, tmp_path / "pintasan")
    os.symlink(corpus / "sub" / "asli.md", corpus / "salinan.md")
    found = scan(tmp_path / "pintasan")
    assert found.scope == corpus
    assert found.files == (corpus / "salinan.md", corpus / "sub" / "asli.md")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: os.symlink(p.parent / "tidak-ada.txt", p),
            "{p}: broken link to {d}/tidak-ada.txt, which does not exist: delete it, or point it at a "
            "file in the folder",
        ),
        (
            lambda p: os.symlink(p, p),
            "{p}: link loop (the link leads back to itself through other links): delete it, or point it "
            "at a file in the folder",
        ),
    ],
    ids=["broken", "loop"],
)
def test_scan_of_a_named_broken_link_says_what_is_wrong(tmp_path, make, message):
    from ingest.article import LoadError

    link = tmp_path / "berita.txt"
    make(link)
    with pytest.raises(LoadError) as err:
        scan(link)
    assert str(err.value) == message.format(p=link, d=tmp_path)


# ---- end to end ------------------------------------------------------------------------


@pytest.fixture
def ingest(settings_factory, embedder):
    settings = settings_factory()
    store = ChunkStore.from_settings(settings, embedder.name)

    def run(path):
        return ingest_path(path, settings, store=store, embedder=embedder)

    return run, store


def paths(store) -> dict[str, str]:
    return {a["article_id"]: a["path"] for a in store.articles()}


def test_ingest_does_not_follow_a_link_out_of_the_folder(folders, ingest):
    corpus, outside = folders
    outside_file(corpus, outside)
    run, store = ingest
    report = run(corpus)
    assert report.added == ["asli"]
    assert [what for what, _ in report.skipped] == [str(corpus / "passwd.txt")]
    assert SECRET.strip() not in " ".join(store.all_chunks()[1])


@pytest.mark.parametrize("make", [outside_folder, inside_folder, dangling, loop], ids=lambda f: f.__name__)
def test_ingest_reports_links_it_does_not_follow_and_adds_nothing_from_them(folders, ingest, make):
    corpus, outside = folders
    make(corpus, outside)
    run, store = ingest
    report = run(corpus)
    assert report.added == ["asli"]
    assert [(what, why) for what, why in report.skipped] == [(str(p), why) for p, why in scan(corpus).skipped]
    assert sorted(paths(store)) == ["asli"]


def test_ingest_stores_a_link_inside_the_folder_under_the_links_path(folders, ingest):
    corpus, _ = folders
    os.symlink(corpus / "sub" / "asli.md", corpus / "salinan.md")
    run, store = ingest
    assert run(corpus).added == ["salinan", "asli"]
    assert paths(store) == {"asli": str(corpus / "sub" / "asli.md"), "salinan": str(corpus / "salinan.md")}


def test_deleting_a_link_inside_the_folder_removes_its_article(folders, ingest):
    corpus, _ = folders
    os.symlink(corpus / "sub" / "asli.md", corpus / "salinan.md")
    run, store = ingest
    run(corpus)
    (corpus / "salinan.md").unlink()
    report = run(corpus)
    assert (report.removed, report.unchanged) == (["salinan"], ["asli"])


def test_link_turned_to_point_out_of_the_folder_removes_its_article(folders, ingest):
    corpus, outside = folders
    os.symlink(corpus / "sub" / "asli.md", corpus / "passwd.txt")
    run, store = ingest
    run(corpus)
    (corpus / "passwd.txt").unlink()
    outside_file(corpus, outside)
    report = run(corpus)
    assert (report.removed, report.unchanged) == (["passwd"], ["asli"])


def test_article_an_old_store_read_through_a_link_out_of_the_folder_is_removed(folders, ingest):
    """The issue's case: a .txt link to /etc/passwd. The old code stored the article under
    the target's path, a file no ingest reads as an article (no article suffix)."""
    corpus, outside = folders
    run, store = ingest
    target = outside / "passwd"
    target.write_text(SECRET)
    run(outside / "passwd.txt")
    ids = sorted(store.article_states()["passwd"].chunk_ids)
    store.update_metadata(ids, [{"path": str(target)}] * len(ids))  # as the old code recorded it
    shutil.rmtree(store.location.parent / "index")  # an old store: no corpus index yet
    os.symlink(target, corpus / "passwd.txt")
    report = run(corpus)
    assert (report.added, report.removed) == (["asli"], ["passwd"])
    assert sorted(paths(store)) == ["asli"]


def test_article_ingested_from_its_own_folder_stays_when_a_link_points_at_it(folders, ingest):
    """A link that is not followed must not take away an article that another folder's
    ingest brought in on purpose (else each ingest would undo the other's)."""
    corpus, outside = folders
    run, store = ingest
    run(outside)
    outside_file(corpus, outside)
    report = run(corpus)
    assert (report.added, report.removed) == (["asli"], [])
    assert report.notes == [
        (
            "passwd",
            f"stored from {outside / 'passwd.txt'}, where a link in {corpus} points that is no longer "
            "followed; if the article came in through that link, take it out with `qa-bot remove passwd`",
        )
    ]
    assert run(outside).unchanged == ["passwd"]
    assert sorted(paths(store)) == ["asli", "passwd"]


def test_article_an_old_store_read_through_a_now_broken_link_is_removed(folders, ingest):
    corpus, outside = folders
    run, store = ingest
    (outside / "hilang.txt").write_text(SECRET)
    run(outside / "hilang.txt")  # as ingest through the link wrote it before links were checked
    (outside / "hilang.txt").unlink()
    dangling(corpus, outside)
    report = run(corpus)
    assert (report.added, report.removed) == (["asli"], ["hilang"])
