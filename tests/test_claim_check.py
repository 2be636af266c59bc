"""The role check: a value must be the one its source gives the asked thing.

The regression guard reproduces four wrong answers that passed the old check on recent
news (a test over detikcom articles, 2025), on small articles written for it
(``tests/fixtures/trust/articles.jsonl``): the model's wrong answer is scripted, the
snippets are the articles' sentences, the embedder is the real one. Each must be refused,
and the right answer beside it must still be shown (a check refusing everything fails).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa_bot.answer.check.claim_check import (
    ClaimCheck,
    WordVectors,
    asked_type,
    clause_spans,
    fits_type,
    misbound,
    values_in,
)
from qa_bot.answer.check.finalize import finalize
from qa_bot.answer.select import Snippet
from qa_bot.text import sentence_spans
from qa_bot.types import Passage

from .conftest import bot_for

ARTICLES = Path(__file__).parent / "fixtures" / "trust" / "articles.jsonl"


def _articles() -> dict[str, dict]:
    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["id"]: r for r in rows}


def _snippet(article_id: str, *starts: str) -> Snippet:
    """The run of the article's sentences beginning with each of ``starts`` (in order)."""
    article = _articles()[article_id]
    text = article["text"]
    spans = [(a, b) for a, b in sentence_spans(text) if any(text[a:b].startswith(s) for s in starts)]
    assert len(spans) == len(starts), starts
    passage = Passage(
        f"{article_id}:0", text, article_id, article["title"], "", "", article["published"], 0, 0, 0
    )
    return Snippet(passage, spans[0][0], spans[-1][1], 0.9)


def _check(question: str, snippets: list[Snippet], embedder) -> ClaimCheck:
    titles = [s.passage.title for s in snippets]
    return ClaimCheck(question, [s.text for s in snippets], titles, WordVectors(embedder.encode_passages))


def _answer(raw: str, question: str, snippets: list[Snippet], embedder, language: str = "en"):
    return finalize(raw, question, snippets, language, _check(question, snippets, embedder))


# --- the pieces -------------------------------------------------------------------------


def test_values_know_their_kind():
    kinds = [
        (v.canonical, v.kind) for v in values_in("naik 5% menjadi Rp13.500 per kilogram pada (30/10) 2025")
    ]
    assert kinds == [("5", "percent"), ("13500", "money"), ("30", "date"), ("10", "date"), ("2025", "year")]


def test_clauses_do_not_split_decimal_commas():
    text = "BI Rate 4,75%, Deposit Facility 3,75% dan Lending Facility 5,50%."
    assert [text[a:b] for a, b in clause_spans(text)] == [
        "BI Rate 4,75%",
        "Deposit Facility 3,75%",
        "Lending Facility 5,50%.",
    ]


def test_asked_type_in_both_languages():
    assert asked_type("Sampai kapan uang lama bisa ditukar?") == "time"
    assert asked_type("Until when can the old notes be exchanged?") == "time"
    assert asked_type("Berapa korban tewas?") == "number"
    assert asked_type("Who won?") == "name"
    assert asked_type("Apa nama kapal itu?") == ""


def test_an_answer_of_the_wrong_type_fails():
    assert not fits_type("The meeting is in New York [1].", "When is the meeting?")
    assert not fits_type("Korban berada di rumah sakit [1].", "Berapa korban tewas?")
    assert fits_type("Tiga orang tewas [1].", "Berapa korban tewas?")
    assert not fits_type("He is the minister of finance [1].", "Who is the minister of finance?")
    assert fits_type("Sri Mulyani is the minister of finance [1].", "Who is the minister of finance?")


def test_a_value_bound_to_another_subject_is_misbound():
    text = (
        "Rapat memutuskan menurunkan BI Rate sebesar 25 basis poin menjadi 4,75%, suku bunga Deposit "
        "Facility turun 25 basis poin menjadi 3,75%, dan suku bunga Lending Facility turun menjadi 5,50%."
    )
    question = "What is the BI Rate after the September 2025 cut?"
    assert misbound("The BI Rate is 3,75% [1].", text, question)
    assert misbound("The BI Rate is 5,50% [1].", text, question)
    assert not misbound("The BI Rate is 4,75% [1].", text, question)
    assert not misbound("The Deposit Facility rate is 3,75% [1].", text, "What is the Deposit Facility rate?")


def test_a_clause_continuing_the_subject_keeps_it():
    text = "Harga emas Antam naik Rp10.000, menjadi Rp1.900.000 per gram."
    assert not misbound("Rp1.900.000 per gram [1].", text, "Berapa harga emas Antam?")


# --- the regression guard: four wrong answers behind real citations ----------------------------


@pytest.fixture(scope="module")
def bi():
    return _snippet("trust-bi-rate", "Rapat Dewan Gubernur BI")


def test_bi_rate_is_not_the_deposit_facility(embedder, bi):
    q = "Berapa BI Rate setelah diturunkan pada September 2025?"
    wrong = _answer(
        "BI Rate setelah diturunkan pada September 2025 adalah 3,75% [1].", q, [bi], embedder, "id"
    )
    assert not wrong.found, wrong.text
    right = _answer(
        "BI Rate setelah diturunkan pada September 2025 adalah 4,75% [1].", q, [bi], embedder, "id"
    )
    assert right.found and "4,75%" in right.text
    deposit = _answer(
        "The Deposit Facility rate is 3,75% [1].", "What is the Deposit Facility rate?", [bi], embedder
    )
    assert deposit.found


def test_iceland_visitors_are_not_basis_points(embedder):
    q = "How many international visitors did Iceland record from January to September 2025?"
    snippets = [
        _snippet("trust-bi-rate", "Gubernur BI Perry", "Sejak September 2024"),
        _snippet("trust-iceland", "Menteri Pariwisata Islandia"),
    ]
    wrong = _answer(
        "Iceland recorded 125 international visitors from January to September 2025 [1].",
        q,
        snippets,
        embedder,
    )
    assert not wrong.found, wrong.text


def test_a_stimulus_is_not_the_years_total(embedder):
    q = "How much does the additional cash assistance stimulus at the end of 2025 cost?"
    snippets = [_snippet("trust-stimulus", "Menteri Keuangan", "Dari jumlah itu")]
    wrong = _answer(
        "The additional cash assistance stimulus costs Rp110,718 triliun [1].", q, snippets, embedder
    )
    assert not wrong.found, wrong.text
    right = _answer(
        "The additional cash assistance stimulus costs Rp31,542 triliun [1].", q, snippets, embedder
    )
    # The passage's "Rp31,542 triliun" (a decimal comma) as English writes it.
    assert right.found and "Rp31.542 trillion" in right.text


def test_a_meeting_date_is_not_an_exchange_deadline(embedder):
    q = "Until when can the old banknotes withdrawn by Bank Indonesia be exchanged?"
    snippets = [
        _snippet("trust-banknotes", "Bank Indonesia mencabut"),
        _snippet("trust-banknotes", "Masyarakat yang masih"),
        _snippet("trust-bi-rate", "Pasar kini menanti"),
    ]
    wrong = _answer("The old banknotes can be exchanged until 28-29 October 2025 [3].", q, snippets, embedder)
    assert not wrong.found, wrong.text


def test_the_right_answer_behind_a_real_citation_still_shows(embedder):
    snippets = [_snippet("trust-bi-rate", "Pasar kini menanti")]
    answer = _answer(
        "Rapat FOMC digelar pada 28-29 Oktober 2025 [1].", "Kapan rapat FOMC digelar?", snippets, embedder
    )
    assert answer.found


def test_a_name_the_source_does_not_hold_is_refused(embedder):
    """The small model answered "who" with a name from its prompt's worked examples."""
    snippets = [_snippet("trust-bi-rate", "Gubernur BI Perry")]
    q = "Siapa Gubernur BI?"
    assert not _answer("Gubernur BI adalah Didiek Hartantyo [1].", q, snippets, embedder, "id").found
    assert _answer("Gubernur BI adalah Perry Warjiyo [1].", q, snippets, embedder, "id").found


# --- the same with the real model, end to end ----------------------------------------------


@pytest.fixture(scope="module")
def trust_settings(settings_factory, embedder, tmp_path_factory):
    from ingest.pipeline import ingest_path

    folder = tmp_path_factory.mktemp("trust")
    (folder / "articles.jsonl").write_text(ARTICLES.read_text(encoding="utf-8"), encoding="utf-8")
    settings = settings_factory()
    report = ingest_path(folder, settings, embedder=embedder)
    assert len(report.added) == 5
    return settings


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, right, wrong",
    [
        ("Berapa BI Rate setelah diturunkan pada September 2025?", "4,75", ("3,75", "5,50", "125")),
        (
            "How many international visitors did Iceland record from January to September 2025?",
            None,
            ("125",),
        ),
        (
            "How much does the additional cash assistance stimulus at the end of 2025 cost?",
            "31.542",  # the passage's "Rp31,542 triliun" as English writes it
            ("110,718", "110.718"),
        ),
        ("Until when can the old banknotes withdrawn by Bank Indonesia be exchanged?", None, ("28", "29")),
        ("Berapa harga beras medium di Pasar Induk Cipinang?", "13.500", ("Rp1 ",)),
    ],
)
def test_the_real_model_is_right_or_silent(trust_settings, embedder, llm, question, right, wrong):
    answer = bot_for(trust_settings, embedder, llm).ask(question)
    if answer.found:
        assert right is not None and right in answer.text, answer.text
        assert not any(w in answer.text for w in wrong), answer.text


def test_the_bot_refuses_a_scripted_wrong_answer(trust_settings, embedder):
    """Through the whole pipeline (retrieval, selection, check) with a scripted model."""
    llm = FakeListChatModel(responses=["BI Rate setelah diturunkan pada September 2025 adalah 3,75% [1]."])
    answer = bot_for(trust_settings, embedder, llm).ask(
        "Berapa BI Rate setelah diturunkan pada September 2025?"
    )
    assert not answer.found, answer.text
    assert "check_s" in answer.timings
