"""Hybrid retrieval over the founding article (real Chroma, real embedding model)."""

from datetime import date

import pytest

from qa_bot.types import SearchFilters


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When does the UN Security Council meet?", "Rabu (30/10) setelah pukul 15.00"),
        ("Kapan Dewan Keamanan PBB bertemu?", "Rabu (30/10) setelah pukul 15.00"),
        ("Siapa Sekretaris Jenderal NATO?", "Sekretaris Jenderal NATO Mark Rutte"),
        ("Siapa juru bicara Kementerian Luar Negeri Rusia?", "Maria Zakharova"),
    ],
)
def test_retrieve_finds_the_passage_in_top_2(retriever, question, expected):
    passages = retriever.retrieve(question, 2)
    assert any(expected in p.text for p in passages), [p.text[:60] for p in passages]


def test_keyword_side_gets_no_weight_when_corpus_knows_no_query_word(retriever):
    index = retriever.keyword_index()
    assert index.coverage("When does the Security Council meet?") == 0.0
    assert index.coverage("Siapa Sekretaris Jenderal NATO?") == 1.0


def test_passages_carry_provenance(retriever):
    (p,) = retriever.retrieve("Siapa Sekretaris Jenderal NATO?", 1)
    assert (p.article_id, p.source, p.title[:18]) == (
        "000_c2c96c36c1e836fc",
        "CNN Indonesia",
        "Bergerak cepat, Pa",
    )
    assert p.end > p.start and p.score > 0


@pytest.mark.parametrize(
    ("filters", "count"),
    [
        (SearchFilters(sources=("CNN Indonesia",)), 3),
        (SearchFilters(sources=("Kompas",)), 0),
        # The founding article was published on 2024-10-29 (its front matter).
        (SearchFilters(published_from=date(2024, 10, 29), published_to=date(2024, 10, 29)), 3),
        (SearchFilters(published_from=date(2024, 10, 30)), 0),
        (SearchFilters(published_to=date(2024, 10, 28)), 0),
    ],
)
def test_filters_apply_to_both_retrievers(retriever, filters, count):
    assert len(retriever.retrieve("Siapa Sekretaris Jenderal NATO?", 3, filters)) == count


def test_stale_keyword_index_is_rebuilt(retriever, founding_settings):
    from qa_bot.keyword import KeywordIndex

    # A damaged index of the generation readers see.
    KeywordIndex.build([], [], []).save(founding_settings.store_dir, retriever.store.view()[0])
    retriever._index = None
    index = retriever.keyword_index()
    assert len(index.ids) == retriever.store.count() == 13
