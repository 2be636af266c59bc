import pytest

from ingest.article import Article
from ingest.chunking import article_hash, chunk_article, chunk_id, chunk_spans
from qa_bot.text import sentence_spans

TEXT = "Satu dua tiga. Empat lima enam.\nTujuh delapan sembilan sepuluh sebelas."


@pytest.mark.parametrize(
    ("max_chars", "expected"),
    [
        (10, ["Satu dua tiga.", "Empat lima enam.", "Tujuh delapan sembilan sepuluh sebelas."]),
        (31, ["Satu dua tiga. Empat lima enam.", "Tujuh delapan sembilan sepuluh sebelas."]),
        (200, [TEXT]),
    ],
)
def test_chunk_spans_group_whole_sentences(max_chars, expected):
    assert [TEXT[s:e] for s, e in chunk_spans(TEXT, max_chars)] == expected


def test_chunk_spans_never_cut_a_sentence(founding_text):
    sentence_ends = {e for _, e in sentence_spans(founding_text)}
    sentence_starts = {s for s, _ in sentence_spans(founding_text)}
    for start, end in chunk_spans(founding_text, 300):
        assert start in sentence_starts
        assert end in sentence_ends


@pytest.mark.parametrize("separator", [" ", ""])
def test_a_huge_line_without_sentence_ends_is_cut_into_pieces_that_fit(separator):
    text = separator.join(["kata"] * 20_000)  # 100k / 80k characters, no full stop
    spans = chunk_spans(text, 500)
    assert all(0 < e - s <= 500 for s, e in spans)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")
    if separator:
        assert all(text[s:e].startswith("kata") and text[s:e].endswith("kata") for s, e in spans)


def test_chunk_spans_rejects_non_positive_size():
    with pytest.raises(ValueError, match="max_chars must be positive"):
        chunk_spans(TEXT, 0)


def test_chunk_article_carries_offsets_and_index():
    article = Article(id="a1", text=TEXT)
    chunks = chunk_article(article, 31)
    assert [(c.chunk_index, c.start, c.end) for c in chunks] == [(0, 0, 31), (1, 32, 71)]
    assert all(TEXT[c.start : c.end] == c.text for c in chunks)
    assert {c.article_id for c in chunks} == {"a1"}


def test_chunk_id_is_deterministic_and_content_addressed():
    assert chunk_id("a1", 0, "Satu.") == chunk_id("a1", 0, "Satu.")
    # Pinned: ids must be the same on every machine and in every run.
    assert chunk_id("a1", 0, "Satu.") == "f55ff16f66f43360-0-46035b7db8ce"
    assert chunk_id("a1", 0, "Satu.") != chunk_id("a2", 0, "Satu.")
    assert chunk_id("a1", 0, "Satu.") != chunk_id("a1", 0, "Dua.")
    assert chunk_id("a1", 0, "Satu.") != chunk_id("a1", 1, "Satu.")


def test_article_hash_changes_with_text_and_metadata_not_path():
    base = Article(id="a", text="Satu.", title="T", path="/x/a.txt")
    assert article_hash(base, 500) == article_hash(
        Article(id="a", text="Satu.", title="T", path="/y/a.txt"), 500
    )
    assert article_hash(base, 500) != article_hash(Article(id="a", text="Dua.", title="T"), 500)
    assert article_hash(base, 500) != article_hash(Article(id="a", text="Satu.", title="U"), 500)
    assert article_hash(base, 500) != article_hash(base, 400)


@pytest.fixture
def founding_text():
    from tests.conftest import FOUNDING

    return FOUNDING.read_text()
