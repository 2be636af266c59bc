import json

import pytest

from qa_bot.evaluation import (
    ItemResult,
    contains_answer,
    load_qa,
    normalise,
    render_table,
    summarise,
    token_f1,
)


@pytest.mark.parametrize(
    ("prediction", "golds", "expected"),
    [
        ("Mark Rutte [1].", ["Mark Rutte"], 1.0),
        ("Sekjen NATO adalah Mark Rutte", ["Mark Rutte"], 0.571),
        ("Jens Stoltenberg", ["Mark Rutte"], 0.0),
        ("Pulau Makassar", ["Makassar", "Pulau Makassar"], 1.0),
    ],
)
def test_token_f1_table(prediction, golds, expected):
    assert round(token_f1(prediction, golds), 3) == expected


def test_normalise_and_contains_answer_respect_word_boundaries():
    assert normalise("“Rabu (30/10)” [1].") == "rabu 30 10"
    assert contains_answer("Pada Rabu (30/10) [1].", ["Rabu (30/10)"]) is True
    assert contains_answer("Ukraina meminta", ["Ukrain"]) is False


def test_load_qa_filters_split_and_limit(tmp_path):
    rows = [
        {"id": "a", "question": "q1", "answers": ["x"], "doc_id": "d1", "split": "train"},
        {"id": "b", "question": "q2", "answers": [], "doc_id": "d2", "split": "valid", "answerable": False},
        {"id": "c", "question": "q3", "answers": ["y"], "doc_id": "d3", "split": "valid"},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    items = load_qa(path, "valid")
    assert [(i.id, i.answerable) for i in items] == [("b", False), ("c", True)]
    assert [i.id for i in load_qa(path, None, limit=1)] == ["a"]


def test_summarise_exact_figures():
    results = [
        ItemResult(
            "1",
            "q",
            "d1",
            1,
            10.0,
            True,
            "A [1].",
            True,
            True,
            1.0,
            1,
            1,
            2.0,
            3.0,
            wrong_with_citation=False,
        ),
        ItemResult(
            "2",
            "q",
            "d2",
            3,
            20.0,
            True,
            "B [1].",
            True,
            False,
            0.5,
            2,
            1,
            4.0,
            5.0,
            wrong_with_citation=True,
        ),
        ItemResult("3", "q", "d3", None, 30.0, True, "no", False, False, 0.0, 0, 0, 1.0, 1.0),
        ItemResult("4", "q", "d4", 2, 40.0, False, "no", False, None, None, 0, 0, 1.0, 1.0),
    ]
    s = summarise(results)
    assert s.retrieval == {"R@1": 0.333, "R@5": 0.667, "R@10": 0.667, "MRR": 0.444}
    assert s.answers == {
        "shown": 2,
        "wrong_with_citation": 0.5,
        "accuracy": 0.333,
        "token_f1": 0.5,
        "answered_with_citation": 0.667,
        "citation_precision": 0.667,
        "abstention_recall": 1.0,
        "abstention_precision": 0.5,
    }
    assert s.latency["retrieval_ms_p50"] == 25.0
    # Keys are padded to the longest one, "answered_with_citation" (22 characters), then 2 spaces.
    assert render_table(s, "t").splitlines()[:4] == [
        "t",
        "-",
        "questions" + " " * 15 + "4",
        "answerable" + " " * 14 + "3",
    ]


def test_summarise_splits_figures_by_language_when_mixed():
    results = [
        ItemResult("1", "q", "d1", 1, 1.0, True, "A", True, True, 1.0, 1, 1, lang="en"),
        ItemResult("2", "q", "d2", 2, 1.0, True, "B", True, False, 0.0, 1, 0, lang="en"),
        ItemResult("3", "q", "d3", 1, 1.0, True, "C", True, True, 1.0, 1, 1, lang="id"),
    ]
    s = summarise(results)
    assert (s.retrieval["R@1[en]"], s.retrieval["MRR[en]"], s.retrieval["R@1[id]"]) == (0.5, 0.75, 1.0)
    assert (s.answers["accuracy[en]"], s.answers["accuracy[id]"]) == (0.5, 1.0)
    assert "R@1[id]" not in summarise(results[2:]).retrieval  # one language: no split


def test_load_qa_reads_language(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q", "answers": ["x"], "doc_id": "d", "lang": "en"}))
    assert load_qa(path)[0].lang == "en"


def test_gold_rank_counts_distinct_articles_and_folded_copies():
    from qa_bot.evaluation import gold_rank
    from qa_bot.types import Passage, SourceCopy

    def passage(article_id, *copies):
        copy_rows = tuple(SourceCopy(c, "", "", "", "") for c in copies)
        return Passage(f"{article_id}-0", "", article_id, "", "", "", "", 0, 0, 0, copies=copy_rows)

    passages = [passage("a"), passage("a"), passage("b", "gold-copy"), passage("gold")]
    assert gold_rank(passages, "a") == 1
    assert gold_rank(passages, "gold-copy") == 2  # a verbatim copy of b was folded into it
    assert gold_rank(passages, "gold") == 3
    assert gold_rank(passages, "gold", depth=2) is None
    assert gold_rank(passages, "missing") is None
