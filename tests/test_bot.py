"""The answer path end to end with a scripted chat model (the citation logic is ours)."""

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa_bot import QABot
from qa_bot.answer.prompt import NOT_FOUND_MESSAGES
from qa_bot.types import Token


def make_bot(retriever, settings, *replies):
    return QABot(retriever, FakeListChatModel(responses=list(replies)), settings)


def test_scripted_reply_citation_is_checked_and_renumbered(retriever, founding_settings):
    # The scripted model cites the first snippet; whichever that is, the check must hold.
    bot = make_bot(retriever, founding_settings, "The meeting is on Wednesday (30/10) after 15.00 [1].")
    answer = bot.ask("When does the UN Security Council meet?")
    assert answer.found is True
    assert answer.text == "The meeting is on Wednesday 30 October 2024 after 15.00 local time [1]."
    (citation,) = answer.citations
    assert citation.number == 1
    assert "Rabu (30/10) setelah pukul 15.00" in citation.quote
    assert citation.text[citation.quote_start : citation.quote_end] == citation.quote
    assert citation.source == "CNN Indonesia"


def test_made_up_citation_becomes_not_found(retriever, founding_settings):
    bot = make_bot(retriever, founding_settings, "The capital of France is Paris [2].")
    answer = bot.ask("What is the capital of France?")
    assert (answer.text, answer.citations, answer.found) == (NOT_FOUND_MESSAGES["en"], (), False)


def test_stream_yields_tokens_then_answer(retriever, founding_settings):
    bot = make_bot(retriever, founding_settings, "Mark Rutte [1].")
    events = list(bot.stream("Siapa Sekretaris Jenderal NATO?"))
    assert all(isinstance(e, Token) for e in events[:-1])
    assert "".join(e.text for e in events[:-1]) == "Mark Rutte [1]."
    assert events[-1].text == "Mark Rutte [1]."
    assert set(events[-1].timings) == {
        "retrieval_s",
        "selection_s",
        "first_token_s",
        "generation_s",
        "first_shown_s",
        "check_s",
        "total_s",
    }


def test_empty_question_asks_for_one_without_calling_the_model(retriever, founding_settings):
    bot = make_bot(retriever, founding_settings)  # no replies: a call would fail
    answer = bot.ask("   ")
    assert (answer.found, answer.citations) == (False, ())
    assert answer.text.startswith("Tulis pertanyaan tentang berita")


def test_a_question_longer_than_the_limit_gets_a_message_without_search_or_model(
    retriever, founding_settings
):
    bot = make_bot(retriever, founding_settings)
    answer = bot.ask("When does the UN Security Council meet? " * 2500)  # 100,000 characters
    assert answer.text == "The question is 99,999 characters long: ask in at most 2,000 characters."
    assert (answer.found, answer.citations, answer.passages) == (False, (), ())
    assert len(answer.question) <= 200  # the reply does not echo the whole text back


def test_answer_to_dict_is_json_ready(retriever, founding_settings):
    import json

    bot = make_bot(retriever, founding_settings, "Mark Rutte [1].")
    data = json.loads(json.dumps(bot.ask("Siapa Sekretaris Jenderal NATO?").to_dict()))
    assert data["citations"][0]["number"] == 1
    assert data["language"] == "id"


def test_the_same_question_is_answered_once_until_the_corpus_changes(
    settings_factory, embedder, founding_corpus, tmp_path
):
    import shutil

    from ingest.pipeline import ingest_path
    from tests.conftest import bot_for

    corpus = tmp_path / "corpus"
    shutil.copytree(founding_corpus, corpus)
    settings = settings_factory()
    ingest_path(corpus, settings, embedder=embedder)
    # Two scripted replies: a third model call would fail.
    llm = FakeListChatModel(responses=["Mark Rutte [1].", "Sekjen NATO adalah Mark Rutte [1]."])
    bot = bot_for(settings, embedder, llm)
    first = bot.ask("Siapa Sekretaris Jenderal NATO?")
    again = bot.ask("  Siapa Sekretaris  Jenderal NATO? ")
    assert (again.text, again.citations) == (first.text, first.citations)
    assert "cached" in again.timings and "cached" not in first.timings
    # A commit of new articles makes the stored answer unreachable.
    (corpus / "cabai.md").write_text("Harga cabai rawit naik menjadi Rp80.000 per kilogram.\n")
    ingest_path(corpus, settings, embedder=embedder)
    fresh = bot.ask("Siapa Sekretaris Jenderal NATO?")
    assert fresh.text == "Sekjen NATO adalah Mark Rutte [1]." and "cached" not in fresh.timings
