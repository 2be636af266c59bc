from ingest.report import IngestReport


def test_summary_counts_each_outcome():
    report = IngestReport(added=["a"], updated=["b", "c"], unchanged=["d"], skipped=[("x.pdf", "why")])
    assert report.summary() == "added 1, updated 2, unchanged 1, removed 0, skipped 1"
    assert report.changed is True


def test_render_lists_changes_skips_and_notes():
    report = IngestReport(
        added=["a"],
        removed=["old"],
        skipped=[("/c/x.txt", "the file is empty")],
        notes=[("/c/y.txt", "not UTF-8: decoded as Windows-1252")],
        chunks_written=5,
        chunks_deleted=2,
        seconds=1.25,
    )
    assert report.render() == (
        "Ingest: added 1, updated 0, unchanged 0, removed 1, skipped 1 (5 chunks written, 2 deleted, 1.2 s)\n"
        "  added: a\n"
        "  removed: old\n"
        "  skipped: /c/x.txt: the file is empty\n"
        "  note: /c/y.txt: not UTF-8: decoded as Windows-1252"
    )


def test_render_says_when_nothing_changed():
    report = IngestReport(unchanged=["a", "b"], seconds=0.3)
    assert report.changed is False
    assert report.render() == (
        "Ingest: added 0, updated 0, unchanged 2, removed 0, skipped 0 (0 chunks written, 0 deleted, 0.3 s)\n"
        "No changes: the store already matches the corpus."
    )


def test_to_dict_is_plain_data():
    report = IngestReport(added=["a"], skipped=[("f", "why")], seconds=0.12345)
    assert report.to_dict() == {
        "added": ["a"],
        "updated": [],
        "unchanged": [],
        "removed": [],
        "skipped": [{"what": "f", "why": "why"}],
        "notes": [],
        "chunks_written": 0,
        "chunks_deleted": 0,
        "seconds": 0.123,
        "model_seconds": 0.0,
    }


def test_render_says_how_long_loading_the_model_took_when_it_was_loaded():
    loaded = IngestReport(added=["a"], chunks_written=1, seconds=3.0, model_seconds=1.1)
    assert (
        loaded.render()
        .splitlines()[0]
        .endswith("(1 chunks written, 0 deleted, 3.0 s, 1.1 s of it loading the embedding model)")
    )
    assert IngestReport(seconds=0.5).render().splitlines()[0].endswith("(0 chunks written, 0 deleted, 0.5 s)")
