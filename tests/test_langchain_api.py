"""The bot's LangChain edges as a LangChain user would use them: ``bot.as_retriever()`` in a
chain of their own, ``bot.as_runnable()`` inside LCEL, any ``Embeddings`` for retrieval.

Fast tests run on the stand-in models of tests/fakes.py; the last ones repeat the essentials
with the real e5 model and the real chat model."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from qa_bot.types import Answer, SearchFilters
from tests.conftest import FOUNDING
from tests.fakes import ScriptedChat
from tests.fakes import fake_bot as bot_over

MEETING = "Kapan pertemuan Dewan Keamanan PBB berlangsung?"
MEETING_REPLY = "Pertemuan Dewan Keamanan PBB berlangsung pada Rabu (30/10) setelah pukul 15.00 [{n}]."
METADATA = {"article_id", "title", "source", "url", "published", "chunk_id", "score"}


@pytest.fixture(scope="module")
def fake_bot(settings_factory, founding_corpus):
    """A bot over the founding article with the word-vector embedder and a scripted model."""
    llm = ScriptedChat(script={MEETING: ("Rabu (30/10)", MEETING_REPLY)})
    bot = bot_over(settings_factory(answer_cache=0), founding_corpus, llm)
    assert [row["article_id"] for row in bot.articles()] == [FOUNDING.stem]
    return bot


def format_docs(docs: list[Document]) -> str:
    return "\n".join(f"[{i}] {' '.join(d.page_content.split())}" for i, d in enumerate(docs, start=1))


def test_as_retriever_is_a_langchain_retriever_of_documents(fake_bot):
    retriever = fake_bot.as_retriever(k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("pertemuan Dewan Keamanan PBB Rabu")
    assert 1 <= len(docs) <= 3
    assert all(METADATA <= set(d.metadata) for d in docs)
    assert docs[0].metadata["article_id"] == FOUNDING.stem
    assert docs[0].metadata["published"] == "2024-10-29"
    assert "Rabu (30/10)" in docs[0].page_content
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_as_retriever_applies_filters(fake_bot):
    later = SearchFilters(published_from=__import__("datetime").date(2025, 1, 1))
    assert fake_bot.as_retriever(filters=later).invoke("Dewan Keamanan PBB") == []
    assert fake_bot.as_retriever(filters=SearchFilters(sources=("nowhere",))).invoke("PBB") == []


def test_users_own_chain_around_our_retriever(fake_bot):
    """retriever | format_docs | prompt | llm, as in LangChain's RAG tutorial."""
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer from the passages."),
            ("human", "{context}\n\nQuestion: {question}\nAnswer in Indonesian:"),
        ]
    )
    llm = ScriptedChat(script={MEETING: ("Rabu (30/10)", "Rabu (30/10) [{n}].")})
    chain = (
        {"context": fake_bot.as_retriever() | format_docs, "question": RunnablePassthrough()} | prompt | llm
    )
    chain = chain | StrOutputParser()
    assert chain.invoke(MEETING) == "Rabu (30/10) [1]."
    assert "Rabu (30/10) setelah pukul 15.00" in llm.prompts[-1]


def test_as_runnable_invoke_returns_the_checked_answer(fake_bot):
    qa = fake_bot.as_runnable()
    assert isinstance(qa, Runnable)
    answer = qa.invoke(MEETING)
    assert isinstance(answer, Answer) and answer.found
    # The check made the date absolute and kept the passage's time qualifier.
    assert answer.text == (
        "Pertemuan Dewan Keamanan PBB berlangsung pada Rabu, 30 Oktober 2024 setelah pukul 15.00 "
        "waktu setempat [1]."
    )
    assert "Rabu (30/10) setelah pukul 15.00" in answer.citations[0].quote
    # The same answer as asking the bot.
    assert fake_bot.ask(MEETING).text == answer.text


def test_as_runnable_refuses_what_the_corpus_does_not_say(fake_bot):
    answer = fake_bot.as_runnable().invoke({"question": "Siapa juara Piala Dunia 2022?"})
    assert not answer.found and answer.citations == ()


def test_as_runnable_streams_text_then_the_answer(fake_bot):
    pieces = list(fake_bot.as_runnable().stream(MEETING))
    assert isinstance(pieces[-1], Answer)
    text = pieces[:-1]
    # Checked sentences only (here one), which joined are the answer: what streams stays.
    assert all(isinstance(p, str) for p in text)
    assert "".join(text) == pieces[-1].text
    assert pieces[-1].text.startswith("Pertemuan Dewan Keamanan PBB")


def test_as_runnable_inside_lcel(fake_bot):
    qa = fake_bot.as_runnable()
    chain = (
        RunnableLambda(lambda q: q.strip())
        | qa
        | RunnableLambda(lambda a: [c.published for c in a.citations])
    )
    assert chain.invoke(f"  {MEETING} ") == ["2024-10-29"]
    # Streaming through the chain: the step after ours receives the Answer.
    assert list(chain.stream(MEETING)) == [["2024-10-29"]]
    texts = (qa | RunnableLambda(lambda a: a.found)).batch([MEETING, "Siapa juara Piala Dunia 2022?"])
    assert texts == [True, False]


def test_as_runnable_says_what_input_it_takes(fake_bot):
    with pytest.raises(TypeError, match="a question string or a dict"):
        fake_bot.as_runnable().invoke(42)
    with pytest.raises(TypeError, match="unknown keys"):
        fake_bot.as_runnable().invoke({"question": MEETING, "sources": ["cnn"]})


def test_any_langchain_embeddings_is_recorded_by_name(fake_bot):
    from qa_bot.models.embeddings import LangChainEmbedder

    embedder = fake_bot.retriever.embedder
    assert isinstance(embedder, LangChainEmbedder)
    assert embedder.name == "langchain:tests.fakes.WordEmbeddings:fake-words-256"
    assert fake_bot.retriever.store.embedding_model == embedder.name


# ---- the same with the real models ----------------------------------------------------------


@pytest.mark.slow
def test_real_models_retriever_and_runnable(founding_settings, embedder, llm):
    from tests.conftest import bot_for

    bot = bot_for(founding_settings, embedder, llm)
    docs = bot.as_retriever(k=2).invoke("When does the UN Security Council meet?")
    assert docs and "Rabu (30/10)" in " ".join(d.page_content for d in docs)
    assert METADATA <= set(docs[0].metadata)
    chain = bot.as_runnable() | RunnableLambda(
        lambda a: (a.found, a.text, a.citations[0].quote if a.citations else "")
    )
    found, text, quote = chain.invoke("When does the UN Security Council meet?")
    assert found and "30" in text and "Rabu (30/10)" in quote
