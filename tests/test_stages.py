"""The answer path's stages, each on its own and wired by the bot, on the stand-in models of
tests/fakes.py (word vectors with known geometry, a scripted chat model): plan, retrieve,
select, generate (with the refusal probe), check. The same behaviour with the real models is
tested in test_bot.py, test_retrieval.py, test_select.py, test_claim_check.py and
test_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage, BaseMessageChunk

from qa_bot.answer.check.finalize import AnswerChecker
from qa_bot.answer.generate import AnswerWriter
from qa_bot.answer.plan import QueryPlan
from qa_bot.answer.prompt import NOT_FOUND_MESSAGES, NOT_FOUND_TOKEN
from qa_bot.answer.select import Snippet, select_snippets
from qa_bot.models.embeddings import embedder_of
from qa_bot.models.probe import RefusalProbe
from qa_bot.search.scoped import ScopedRetriever
from qa_bot.text import sentence_spans
from qa_bot.time.question import TimeScope
from qa_bot.types import Answer, Passage, Rewritten, Token
from tests.fakes import ScriptedChat, WordEmbeddings, fake_bot

ARTICLES = Path(__file__).parent / "fixtures" / "trust" / "articles.jsonl"
BI_RATE = "Berapa BI Rate setelah diturunkan pada September 2025?"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The five articles written for the regression guard (published Aug-Nov 2025)."""
    folder = tmp_path_factory.mktemp("trust-corpus")
    (folder / "articles.jsonl").write_text(ARTICLES.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def bot(settings_factory, corpus):
    llm = ScriptedChat(
        script={BI_RATE: ("menjadi 4,75%", "BI Rate diturunkan menjadi 4,75% [{n}].")},
        rewrites={"Dan suku bunga Deposit Facility?": "Berapa suku bunga Deposit Facility?"},
    )
    return fake_bot(settings_factory(answer_cache=0, today=date(2025, 12, 1)), corpus, llm)


def _snippet(passage: Passage, starts: str) -> Snippet:
    (span,) = [(a, b) for a, b in sentence_spans(passage.text) if passage.text[a:b].startswith(starts)]
    return Snippet(passage, span[0], span[1], 0.9)


# --- plan ---------------------------------------------------------------------------------


def test_plan_of_a_question_without_time_searches_it_as_asked(bot):
    question = "Berapa suku bunga Deposit Facility?"
    plan = bot.planner.plan(question, question, "id")
    assert (plan.query, plan.rewritten, plan.scope, plan.news) == (question, "", None, False)


def test_plan_of_a_fact_in_a_month_prefers_that_month_without_narrowing(bot):
    scope = bot.planner.plan(BI_RATE, BI_RATE, "id").scope
    assert (scope.first, scope.last, scope.narrows, scope.news) == (
        date(2025, 9, 1),
        date(2025, 9, 30),
        False,
        False,
    )


def test_plan_rewrites_a_follow_up_with_the_chat_model(bot):
    history = [(BI_RATE, "BI Rate diturunkan menjadi 4,75% [1].")]
    assert bot.planner.rewrite("Dan suku bunga Deposit Facility?", history) == (
        "Berapa suku bunga Deposit Facility?"
    )


def test_plan_of_a_request_for_the_latest_news_is_newest_first(bot):
    plan = bot.planner.plan("Apa berita terbaru soal BI Rate?", "Apa berita terbaru soal BI Rate?", "id")
    assert plan.scope is not None and plan.scope.recency
    assert plan.news
    assert "terbaru" not in plan.query


# --- retrieve -----------------------------------------------------------------------------


def test_retrieve_ranks_the_article_sharing_the_question_words_first(bot):
    found = bot.retriever_stage.retrieve("Islandia batasi kapal pesiar", 3, None, None, "id")
    assert found.passages[0].article_id == "trust-iceland"
    assert found.message == ""


def _scope(first: date, last: date, *, news: bool) -> TimeScope:
    return TimeScope(False, first, last, "then", "berita", narrows=True, news=news)


def test_retrieve_narrows_to_the_time_asked_about(bot):
    scope = _scope(date(2025, 8, 1), date(2025, 8, 31), news=True)
    found = bot.retriever_stage.retrieve("berita", 5, None, scope, "id")
    assert {p.article_id for p in found.passages} == {"trust-banknotes"}  # the only August article


def test_retrieve_says_no_article_was_published_then_for_news_of_an_empty_time(bot):
    scope = _scope(date(2020, 1, 1), date(2020, 12, 31), news=True)
    found = bot.retriever_stage.retrieve("berita", 5, None, scope, "id")
    assert found.passages == ()
    assert found.message.startswith("Tidak ada artikel di korpus yang terbit")


def test_retrieve_widens_to_every_article_when_the_question_only_mentions_the_time(bot):
    scope = _scope(date(2020, 1, 1), date(2020, 12, 31), news=False)
    found = bot.retriever_stage.retrieve("Islandia kapal pesiar", 3, None, scope, "id")
    assert (found.message, found.passages[0].article_id) == ("", "trust-iceland")


def test_retrieve_stage_embeds_the_query_once(settings_factory, corpus):
    embeddings = WordEmbeddings()
    stage_bot = fake_bot(settings_factory(answer_cache=0), corpus, ScriptedChat())
    stage = ScopedRetriever(stage_bot.retriever, 0.05)
    stage.retriever.embedder = embedder_of(embeddings)
    stage.retrieve("harga beras medium", 3, None, None, "id")
    assert embeddings.calls == 1


# --- select -------------------------------------------------------------------------------


def test_select_picks_the_sentence_sharing_the_question_words(bot):
    found = bot.retriever_stage.retrieve("harga beras medium Cipinang", 3, None, None, "id")
    (best, *_) = select_snippets(
        "harga beras medium Cipinang", found.vector, list(found.passages), bot.embedder, max_snippets=3
    )
    assert best.passage.article_id == "trust-rice"
    assert "beras medium" in best.text


# --- generate -----------------------------------------------------------------------------


class ProbedScript(ScriptedChat):
    """A scripted model that implements the refusal probe and records the thresholds used."""

    thresholds: list[float] = []

    def stream_probed(
        self, messages: Sequence[BaseMessage], refusal: str, threshold: float
    ) -> Iterator[BaseMessageChunk]:
        self.thresholds.append(threshold)
        for i, chunk in enumerate(self.stream(list(messages))):
            yield AIMessageChunk(
                content=chunk.content, response_metadata={"first_token_p": 0.125} if i == 0 else {}
            )


def _rate_snippets(bot) -> list[Snippet]:
    found = bot.retriever_stage.retrieve(BI_RATE, 3, None, None, "id")
    passage = next(p for p in found.passages if p.article_id == "trust-bi-rate")
    return [_snippet(passage, "Rapat Dewan Gubernur")]


def test_generate_streams_pieces_and_returns_the_whole_draft(bot):
    writer = AnswerWriter(bot.llm, bot.settings)
    plan = QueryPlan(BI_RATE, "id", BI_RATE, None)
    pieces = writer.write(plan, _rate_snippets(bot), started=0.0)
    tokens = []
    try:
        while True:
            tokens.append(next(pieces))
    except StopIteration as stop:
        draft = stop.value
    assert "".join(t.text for t in tokens) == draft.text == "BI Rate diturunkan menjadi 4,75% [1]."
    assert draft.refusal_p is None  # a model without the probe cannot report it


@pytest.mark.parametrize(
    "question, language, threshold",
    [
        (BI_RATE, "id", "abstain_threshold"),
        ("What is the BI Rate after the cut?", "en", "abstain_threshold_crosslingual"),
    ],
)
def test_generate_probes_a_model_that_can_with_the_threshold_for_its_languages(
    bot, question, language, threshold
):
    llm = ProbedScript(script={question: ("menjadi 4,75%", "4,75% [{n}].")}, thresholds=[])
    assert isinstance(llm, RefusalProbe) and not isinstance(ScriptedChat(), RefusalProbe)
    draft = yield_all(
        AnswerWriter(llm, bot.settings).write(
            QueryPlan(question, language, question, None), _rate_snippets(bot), 0.0
        )
    )
    assert llm.thresholds == [getattr(bot.settings, threshold)]
    assert (draft.text, draft.refusal_p) == ("4,75% [1].", 0.125)


def yield_all(pieces):
    """Run a stage generator to its end; its return value."""
    while True:
        try:
            next(pieces)
        except StopIteration as stop:
            return stop.value


# --- check --------------------------------------------------------------------------------


def test_check_keeps_the_value_in_the_role_asked_and_refuses_a_rival_one(bot):
    checker = AnswerChecker(bot.embedder.encode_passages, bot.settings)
    snippets = _rate_snippets(bot)
    right = checker.check("BI Rate turun menjadi 4,75% [1].", BI_RATE, snippets, "id", news=False)
    rival = checker.check("BI Rate turun menjadi 3,75% [1].", BI_RATE, snippets, "id", news=False)
    assert right.found and right.citations[0].article_id == "trust-bi-rate"
    assert (rival.found, rival.text) == (False, NOT_FOUND_MESSAGES["id"])


def test_check_renumbers_citations_in_order_of_appearance(bot):
    checker = AnswerChecker(bot.embedder.encode_passages, bot.settings)
    snippets = [_rate_snippets(bot)[0]] * 2
    answer = checker.check("BI Rate turun menjadi 4,75% [2].", BI_RATE, snippets, "id", news=False)
    assert answer.text == "BI Rate turun menjadi 4,75% [1]."


# --- the bot: the stages wired ------------------------------------------------------------


def test_bot_streams_tokens_then_the_checked_answer(bot):
    events = list(bot.stream(BI_RATE))
    assert all(isinstance(e, Token) for e in events[:-1])
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert answer.text == "BI Rate diturunkan menjadi 4,75% [1]."
    assert answer.citations[0].article_id == "trust-bi-rate"
    assert "".join(e.text for e in events[:-1]) == answer.text
    assert list(answer.timings) == [
        "retrieval_s",
        "selection_s",
        "first_token_s",
        "generation_s",
        "first_shown_s",
        "check_s",
        "total_s",
    ]


def test_bot_says_a_rewritten_follow_up_before_answering_it(bot):
    history = [(BI_RATE, "BI Rate diturunkan menjadi 4,75% [1].")]
    events = list(bot.stream("Dan suku bunga Deposit Facility?", history=history))
    assert events[0] == Rewritten("Berapa suku bunga Deposit Facility?")
    assert events[-1].rewritten == "Berapa suku bunga Deposit Facility?"
    assert events[-1].found is False  # not in the script: the model refuses


def test_bot_refuses_when_the_model_does(bot):
    answer = bot.ask("Siapa pemenang Piala Dunia 2022?")
    assert (answer.found, answer.text, answer.citations) == (False, NOT_FOUND_MESSAGES["id"], ())
    assert NOT_FOUND_TOKEN not in answer.text


def test_bot_asks_for_a_question_without_calling_the_model(bot):
    prompts = len(bot.llm.prompts)
    answer = bot.ask("   ")
    assert answer.text.startswith("Tulis pertanyaan tentang berita")
    assert len(bot.llm.prompts) == prompts


def test_bot_says_what_the_corpus_covers(bot):
    summary = bot.summary()
    assert (summary.articles, summary.first, summary.last, summary.undated) == (
        5,
        date(2025, 8, 12),
        date(2025, 11, 3),
        0,
    )
    assert summary.sources == ("test fixture (written for the regression guard)",)
    assert summary.generation == bot.generation() >= 1


# --- what streams is what stays -------------------------------------------------------------

THREE = (
    "BI Rate diturunkan menjadi 4,75% [{n}]. Inflasi tahun ini mencapai 9% [{n}]. "
    "BI Rate diturunkan sebesar 25 basis poin [{n}]."
)


class CountingScript(ScriptedChat):
    """A scripted model that counts the pieces it has streamed so far."""

    streamed: list[str] = []

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            self.streamed.append(str(chunk.message.content))
            yield chunk


@pytest.fixture
def three_sentence_bot(bot):
    llm = CountingScript(script={BI_RATE: ("menjadi 4,75%", THREE)}, streamed=[])
    original = bot.llm
    bot.llm = llm
    yield bot, llm
    bot.llm = original


def test_stream_shows_each_sentence_once_checked_and_never_takes_it_back(three_sentence_bot):
    bot, llm = three_sentence_bot
    shown, seen_at = [], []
    for event in bot.stream(BI_RATE):
        if isinstance(event, Token):
            shown.append(event.text)
            seen_at.append(len(llm.streamed))
        else:
            answer = event
    # The unsupported 9% (the article was published in September, 2025-09-17) is dropped
    # before anything after it is shown; what was shown stays.
    assert shown == [
        "BI Rate diturunkan menjadi 4,75% [1].",
        " BI Rate diturunkan sebesar 25 basis poin [1].",
    ]
    assert "".join(shown) == answer.text
    # The first sentence was shown while the model was still writing.
    assert seen_at[0] < len(llm.streamed)


def test_stream_of_a_refusal_shows_only_the_refusal(bot):
    events = list(bot.stream("Siapa pemenang Piala Dunia 2022?"))
    tokens = [e.text for e in events if isinstance(e, Token)]
    assert tokens == [NOT_FOUND_MESSAGES["id"]]
    assert events[-1].text == NOT_FOUND_MESSAGES["id"]


@pytest.mark.parametrize(
    "pieces",
    [
        ["BI Rate turun menjadi 4,75% [1]. Rapat berikutnya digelar pada 28-29 Oktober 2025 [2]."],
        list("BI Rate turun menjadi 4,75% [1]. Rapat berikutnya digelar pada 28-29 Oktober 2025 [2]."),
        ["BI Rate turun menjadi 4,75%. [1", "] [2] Rapat berikutnya digelar pada 28-29 Oktober 2025."],
        ["BI Rate turun menjadi 4,75% [1]. Data ", "tidak disebutkan dalam teks."],
    ],
)
def test_checked_stream_fed_in_any_pieces_decides_as_the_whole_text(bot, pieces):
    snippets = [_article_snippet("Rapat Dewan Gubernur"), _article_snippet("Pasar kini menanti")]
    checker = AnswerChecker(bot.embedder.encode_passages, bot.settings)
    stream = checker.begin(BI_RATE, snippets, "id", news=False)
    shown = [text for piece in pieces for text in stream.feed(piece)]
    rest, answer = stream.close()
    whole = checker.check("".join(pieces), BI_RATE, snippets, "id", news=False)
    assert "".join(shown + rest) == answer.text == whole.text
    assert answer.citations == whole.citations


def _article_snippet(starts: str) -> Snippet:
    """The sentence of the BI Rate article starting with ``starts``, as a snippet."""
    import json

    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines() if line.strip()]
    row = next(r for r in rows if r["id"] == "trust-bi-rate")
    text = row["text"]
    passage = Passage(
        "trust-bi-rate:0", text, row["id"], row["title"], "", "", row["published"], 0, 0, len(text)
    )
    return _snippet(passage, starts)
