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
    index = retriever.snapshot()
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


def test_a_keyword_index_that_disagrees_with_the_store_is_built_in_memory(retriever, founding_settings):
    import shutil

    # The index of the generation readers see is gone (damaged, deleted by hand).
    shutil.rmtree(founding_settings.store_dir / "index")
    retriever.index._snapshot = None
    index = retriever.snapshot()
    assert (index.chunks, index.from_catalog) == (retriever.store.count(), False)
    assert index.chunks == 13


# ---- the ranker ------------------------------------------------------------------------------


def _retriever_with(retriever, **kwargs):
    from qa_bot.search.retrieval import HybridRetriever

    return HybridRetriever(retriever.store, retriever.embedder, retriever.index.store_dir, **kwargs)


def test_from_settings_ranks_with_the_committed_ranker(retriever):
    from qa_bot.search.rank_features import FEATURES, RANKER_PATH, Ranker

    assert retriever.ranker == Ranker.load(RANKER_PATH)
    assert sorted(retriever.ranker.weights) == sorted(FEATURES)


@pytest.mark.parametrize(
    "question", ["Kapan Dewan Keamanan PBB bertemu?", "How many North Korean troops are in Russia?"]
)
def test_retrieve_scores_are_the_rankers(retriever, question):
    pool = {c.passage.chunk_id: c.features for c in retriever.candidate_pool(question)}
    passages = retriever.retrieve(question, 4)
    assert [p.score for p in passages] == [
        round(retriever.ranker.score(pool[p.chunk_id]), 6) for p in passages
    ]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_retrieve_orders_candidates_by_the_ranker_it_was_given(retriever):
    from qa_bot.search.rank_features import Ranker

    question = "Siapa Sekretaris Jenderal NATO?"
    worst_first = _retriever_with(retriever, ranker=Ranker({"cosine": -1.0}))
    pool = retriever.candidate_pool(question)
    by_cosine = [c.passage.chunk_id for c in sorted(pool, key=lambda c: c.features["cosine"])]
    assert [p.chunk_id for p in worst_first.retrieve(question, 13)] == by_cosine


def test_retrieve_without_ranker_is_the_hand_fusion(retriever):
    question = "Berapa tentara Korea Utara yang dikirim ke Rusia?"
    hand = _retriever_with(retriever, keyword_weight=0.1)
    pool = {c.passage.chunk_id: c.features for c in retriever.candidate_pool(question)}
    passages = hand.retrieve(question, 4)
    assert [p.score for p in passages] == [
        round(pool[p.chunk_id]["cosine"] + 0.1 * pool[p.chunk_id]["keyword"], 6) for p in passages
    ]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Kapan Dewan Keamanan PBB bertemu?", "time"),
        ("Tahun berapa PBB didirikan?", "time"),
        ("When does the UN Security Council meet?", "time"),
        ("Berapa tentara Korea Utara yang dikirim ke Rusia?", "number"),
        ("How many North Korean troops are in Russia?", "number"),
        ("Siapakah Sekretaris Jenderal NATO?", "name"),
        ("Who leads NATO?", "name"),
        ("Di mana pasukan Korea Utara berada?", "place"),
        ("Apa isi perjanjian itu?", ""),
    ],
)
def test_answer_type_of_question(question, kind):
    from qa_bot.search.rank_features import answer_type

    assert answer_type(question) == kind


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        # The date is in the sentence with the subject: full fit.
        ("Kapan PBB didirikan?", "PBB didirikan pada 24 Oktober 1945.", {"overlap": 1.0, "type_fit": 1.0}),
        # The date sits beside half of the question's keywords only.
        (
            "Kapan PBB didirikan?",
            "PBB adalah organisasi dunia. Ia didirikan pada 24 Oktober 1945.",
            {"overlap": 1.0, "type_fit": 0.5},
        ),
        # No figure anywhere: the passage names the subject but cannot answer "berapa".
        (
            "Berapa korban gempa Cianjur?",
            "Gempa Cianjur memakan banyak korban.",
            {"overlap": 1.0, "type_fit": 0.0},
        ),
        (
            "Berapa korban gempa Cianjur?",
            "Gempa Cianjur menewaskan 602 korban.",
            {"overlap": 1.0, "type_fit": 1.0},
        ),
        # A name the question already says is no answer to "siapa".
        ("Siapa pemimpin NATO?", "Pemimpin NATO bertemu di Brussel.", {"overlap": 1.0, "type_fit": 1.0}),
        ("Siapa pemimpin NATO?", "Para pemimpin NATO bertemu.", {"overlap": 1.0, "type_fit": 0.0}),
        # Questions asking for no particular kind have no type fit.
        ("Apa isi perjanjian itu?", "Isi perjanjian itu rahasia.", {"overlap": 1.0, "type_fit": 0.0}),
    ],
)
def test_lexical_features_of_passage(question, text, expected):
    from qa_bot.search.rank_features import Question, lexical_features

    assert lexical_features(Question.of(question), text) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the ranker"),
        ("not json", "cannot read the ranker"),
        (
            '{"weights": {"cosine": 1.0, "pagerank": 0.2}}',
            "weighs features this version does not compute (pagerank)",
        ),
    ],
)
def test_ranker_load_says_what_to_do(tmp_path, content, message):
    from qa_bot.search.rank_features import Ranker, RankerError

    path = tmp_path / "ranker.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RankerError, match=r"python benchmarks/train_ranker.py train") as caught:
        Ranker.load(path)
    assert message in str(caught.value)
