"""The bot as LangChain parts: a retriever of ``Document``s and a ``Runnable`` that answers.

A LangChain user builds their own chain around either::

    retriever = bot.as_retriever(k=4)
    chain = retriever | format_docs | prompt | llm            # their prompt, their model
    qa = bot.as_runnable()
    qa.invoke("Kapan DK PBB bersidang?").citations            # the checked answer
    (qa | RunnableLambda(lambda a: a.text)).batch([...])

Both go through :class:`qa_bot.answer.bot.QABot`: the retriever searches as the bot does before
answering (the question's time scope, the caller's filters, near-duplicate copies folded),
the runnable returns the same checked :class:`~qa_bot.types.Answer` as ``bot.ask``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict

from qa_bot.types import Answer, Passage, SearchFilters

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot


def passage_document(passage: Passage) -> Document:
    """A retrieved passage as a LangChain ``Document`` (provenance in its metadata).

    Example:
        >>> text = "DK PBB bersidang Rabu."
        >>> p = Passage("a1:0", text, "a1", "PBB", "cnn", "https://x", "2024-10-29", 0, 0, 22, 0.83)
        >>> d = passage_document(p)
        >>> d.page_content, d.metadata["article_id"], d.metadata["score"]
        ('DK PBB bersidang Rabu.', 'a1', 0.83)
    """
    return Document(
        id=passage.chunk_id,
        page_content=passage.text,
        metadata={
            "article_id": passage.article_id,
            "title": passage.title,
            "source": passage.source,
            "url": passage.url,
            "published": passage.published,
            "chunk_id": passage.chunk_id,
            "chunk_index": passage.chunk_index,
            "start": passage.start,
            "end": passage.end,
            "score": passage.score,
            # Other outlets' copies of the same story, folded into this passage.
            "copies": [c.article_id for c in passage.copies],
        },
    )


class NewsRetriever(BaseRetriever):
    """``bot.as_retriever()``: the bot's search as a LangChain retriever.

    ``k`` passages per question, narrowed by ``filters`` (sources, published dates).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bot: Any
    k: int = 4
    filters: SearchFilters | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [passage_document(p) for p in self.bot.search(query, k=self.k, filters=self.filters)]


@dataclass(frozen=True)
class Question:
    """What :class:`AnswerRunnable` accepts besides a plain string (as a dict, same keys)."""

    question: str
    filters: SearchFilters | None = None
    k: int | None = None
    history: Sequence[tuple[str, str]] = ()

    @classmethod
    def of(cls, value: str | Mapping[str, Any] | Question) -> Question:
        """Raises TypeError for anything else, naming what is accepted."""
        if isinstance(value, Question):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping) and isinstance(value.get("question"), str):
            unknown = set(value) - {"question", "filters", "k", "history"}
            if unknown:
                raise TypeError(f"unknown keys {sorted(unknown)}: use question, filters, k, history")
            history = tuple((str(q), str(a)) for q, a in value.get("history") or ())
            return cls(value["question"], value.get("filters"), value.get("k"), history)
        raise TypeError(
            f"expected a question string or a dict with a 'question' string, got {type(value).__name__}"
        )


class AnswerRunnable(Runnable[Any, Answer]):
    """``bot.as_runnable()``: the question-answering chain as a LangChain ``Runnable``.

    ``invoke(question)`` returns the checked :class:`~qa_bot.types.Answer`; ``stream`` yields
    the answer's text pieces as the bot streams them, then the ``Answer`` (a step after it in
    a chain receives the ``Answer``). The input is a question string or a dict with
    ``question`` and optionally ``filters`` (a :class:`~qa_bot.types.SearchFilters`), ``k``
    and ``history`` ((question, answer) pairs, for follow-ups).
    """

    def __init__(self, bot: QABot) -> None:
        self.bot = bot

    @property
    def InputType(self) -> type:  # noqa: N802 (LangChain's name)
        return str

    @property
    def OutputType(self) -> type[Answer]:  # noqa: N802 (LangChain's name)
        return Answer

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        return self._call_with_config(self._answer, input, config)

    def _answer(self, input: Any) -> Answer:
        q = Question.of(input)
        return self.bot.ask(q.question, filters=q.filters, k=q.k, history=q.history)

    # stream and transform yield text pieces before the Answer, which LangChain's Runnable
    # types as Iterator[Output]: the ignores below are for that documented difference.
    def stream(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Answer]:
        yield from self._transform_stream_with_config(iter([input]), self._pieces, config)  # type: ignore[arg-type]

    def transform(  # type: ignore[override]
        self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Answer]:
        # Inside a chain the previous step streams into this one: the question is its last
        # output (a string chunked into pieces is joined first).
        yield from self._transform_stream_with_config(input, self._pieces, config)  # type: ignore[arg-type]

    def _pieces(self, inputs: Iterator[Any]) -> Iterator[str | Answer]:
        from qa_bot.types import Token

        value: Any = None
        for chunk in inputs:
            value = value + chunk if isinstance(value, str) and isinstance(chunk, str) else chunk
        q = Question.of(value)
        for event in self.bot.stream(q.question, filters=q.filters, k=q.k, history=q.history):
            if isinstance(event, Token):
                yield event.text
            elif isinstance(event, Answer):
                yield event
