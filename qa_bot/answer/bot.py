"""The question-answering bot: the answer path's stages wired together, and what callers
(the chat, the CLI, LangChain, MCP) ask of the corpus."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Generator, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from qa_bot.answer.cache import AnswerCache
from qa_bot.answer.check.finalize import AnswerChecker, CheckedStream, not_found
from qa_bot.answer.condense import needs_rewrite
from qa_bot.answer.generate import AnswerWriter, Draft
from qa_bot.answer.plan import QueryPlan, QueryPlanner, question_problem
from qa_bot.answer.prompt import build_messages
from qa_bot.answer.select import select_for
from qa_bot.config import Settings, get_settings
from qa_bot.corpus.store import ChunkStore, StoreError
from qa_bot.search.retrieval import HybridRetriever
from qa_bot.search.scoped import Retrieved, ScopedRetriever
from qa_bot.time.dates import published_day
from qa_bot.time.question import anchor_note, published_note
from qa_bot.types import Answer, CorpusSummary, Passage, Rewritten, SearchFilters, Token

if TYPE_CHECKING:
    from qa_bot.answer.langchain_api import AnswerRunnable, NewsRetriever
    from qa_bot.models.embeddings import Embedder

__all__ = ["QABot", "Rewritten", "Token"]

log = logging.getLogger(__name__)


class QABot:
    """Answers questions from the store with checked, numbered citations.

    Example:
        >>> bot = QABot.from_settings(get_settings())          # doctest: +SKIP
        >>> bot.ask("Siapa Sekretaris Jenderal NATO?").text   # doctest: +SKIP
        'Sekretaris Jenderal NATO adalah Mark Rutte [1].'
    """

    def __init__(
        self, retriever: HybridRetriever, llm: BaseChatModel | None, settings: Settings | None = None
    ) -> None:
        self.retriever = retriever
        self.settings = settings = settings or get_settings()
        # The stages of the answer path, in order (each owned by one module).
        self.planner = QueryPlanner(llm, retriever, settings)
        self.retriever_stage = ScopedRetriever(retriever, settings.recency_margin)
        self.writer = AnswerWriter(llm, settings)
        self.checker = AnswerChecker(retriever.embedder.encode_passages, settings)
        self._answers = AnswerCache(settings.answer_cache)

    @property
    def llm(self) -> BaseChatModel | None:
        """The chat model that rewrites follow-ups and writes answers (None: retrieval only)."""
        return self.writer.llm

    @llm.setter
    def llm(self, llm: BaseChatModel | None) -> None:
        self.planner.llm = self.writer.llm = llm

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        require_documents: bool = False,
        load_llm: bool = True,
        *,
        embeddings: Embeddings | None = None,
        llm: BaseChatModel | None = None,
    ) -> QABot:
        """Load the configured embedding model, store and LLM (preparing defaults once).

        Raises:
            StoreError: ``require_documents`` is set and the store is empty (said before
                the LLM is needed; a model in a worker process loads meanwhile).

        ``load_llm=False`` gives a retrieval-only bot (``retriever`` works, ``ask`` does not).
        ``embeddings`` (any LangChain ``Embeddings``) and ``llm`` (any LangChain chat model)
        replace the configured ones; a store holds the vectors of one embedding model, so
        ingest with the same ``embeddings`` (``ingest_path(..., embedder=embedder_of(e))``).
        """
        from qa_bot.models.chat import load_chat_model
        from qa_bot.models.embeddings import embedder_of, load_embeddings

        settings = settings or get_settings()
        if llm is None and load_llm:
            llm = load_chat_model(settings)
        # A model in its own worker process loads while the embedder and the store do.
        start = getattr(llm, "start_in_background", None)
        if start is not None:
            start()
        embedder = embedder_of(embeddings) if embeddings is not None else load_embeddings(settings)
        store = ChunkStore.from_settings(settings, embedder.name)
        if require_documents and store.count() == 0:
            where = settings.chroma_host or settings.store_dir
            raise StoreError(f"the store at {where} holds no articles: run `qa-bot ingest corpus/` first")
        retriever = HybridRetriever.from_settings(store, embedder, settings)
        return cls(retriever, llm, settings)

    def warm_up(self) -> str:
        """Load what the first question would otherwise wait for: the corpus index (on an
        app machine of a Chroma server, catching up with it: a new machine builds its index
        from the server once, 38 s at 50k articles measured) and the fixed prompt prefix
        (loaded from the state saved by an earlier process in milliseconds, else evaluated,
        ~5 s, and saved). Returns what happened to the prefix ("loaded", "evaluated" or ""
        for a server, which manages its own cache)."""
        try:
            self.retriever.snapshot()
        except StoreError as exc:  # the first question tries again and says why
            log.warning("loading the corpus index ahead of the first question failed: %s", exc)
        prime = getattr(self.llm, "prime", None)
        if prime is None:
            return ""
        return prime(build_messages("?", ["-"], "en"), Path(self.settings.cache_dir) / "llm-prefix")

    def ask(
        self,
        question: str,
        filters: SearchFilters | None = None,
        k: int | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """Answer ``question``; see :meth:`stream` for the same with tokens as they come."""
        answer = None
        for event in self.stream(question, filters=filters, k=k, history=history):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None  # stream always ends with an Answer
        return answer

    def stream(
        self,
        question: str,
        filters: SearchFilters | None = None,
        k: int | None = None,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[Token | Rewritten | Answer]:
        """Yield :class:`Token` s as the answer is written and checked, then the :class:`Answer`.

        What streams is what stays: each Token holds sentences the citation check has passed,
        in their final form and numbering, and the Tokens joined are the answer's text (the
        "not in the corpus" text too). With a ``history`` of (question, answer) pairs, a
        follow-up that refers back into the conversation is first rewritten into a standalone
        question (yielded as :class:`Rewritten`), which is what gets retrieved and answered.
        """
        shown = ""
        for event in self._cached_or_answered(question, filters, k, history):
            if isinstance(event, Token):
                shown += event.text
            elif isinstance(event, Answer):
                # The rest of the text: notes on the question's time, or the refusal.
                if not event.text.startswith(shown):
                    raise AssertionError(f"streamed {shown!r}, answered {event.text!r}")
                if event.text[len(shown) :]:
                    yield Token(event.text[len(shown) :])
            yield event

    def _cached_or_answered(
        self,
        question: str,
        filters: SearchFilters | None,
        k: int | None,
        history: Sequence[tuple[str, str]],
    ) -> Iterator[Token | Rewritten | Answer]:
        key = self._cache_key(question, filters, k, history)
        if key is None:
            yield from self._stream(question, filters, k, history)
            return
        t0 = time.perf_counter()
        cached = self._answers.claim(key)
        if cached is not None:
            yield Token(cached.text)
            waited = round(time.perf_counter() - t0, 4)
            yield replace(cached, timings={**cached.timings, "cached": 1.0, "total_s": waited})
            return
        answer = None
        try:
            for event in self._stream(question, filters, k, history):
                if isinstance(event, Answer):
                    answer = event
                yield event
        finally:
            self._answers.release(key, answer)

    @property
    def store(self) -> ChunkStore:
        """The store the bot reads (ingest writes into it: ``ingest_path(..., store=bot.store,
        embedder=bot.embedder)`` keeps one open store and one loaded model)."""
        return self.retriever.store

    @property
    def embedder(self) -> Embedder:
        """The embedding model of the store's vectors."""
        return self.retriever.embedder

    def articles(self) -> list[dict]:
        """One row per stored article: id, title, source, published, chunk count, file path."""
        return self.retriever.index.articles()

    def is_empty(self) -> bool:
        """Whether the store holds no article (the chat says how to add some)."""
        return self.retriever.store.count() == 0

    def generation(self) -> int:
        """The store's committed generation: it changes with every ingest that changes it."""
        return self.retriever.store.view()[0]

    def summary(self) -> CorpusSummary:
        """What the corpus covers: articles, outlets, publication date range."""
        covered = self.retriever.index.coverage()
        # One SQL pass over the catalog (no row list at 100k articles), unless a malformed
        # date sorted first or last.
        if covered is not None and all(published_day(d) for d in covered[2:4] if d):
            n, sources, first, last, undated = covered
            return CorpusSummary(
                articles=n,
                sources=tuple(sources),
                first=published_day(first) if first else None,
                last=published_day(last) if last else None,
                undated=undated,
                generation=self.generation(),
            )
        rows = self.articles()
        outlets = Counter(r["source"] for r in rows if r["source"])
        days = sorted(d for d in (published_day(r["published"]) for r in rows) if d is not None)
        return CorpusSummary(
            articles=len(rows),
            sources=tuple(name for name, _ in outlets.most_common()),
            first=days[0] if days else None,
            last=days[-1] if days else None,
            undated=len(rows) - len(days),
            generation=self.generation(),
        )

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Passage]:
        """The ``k`` passages the bot would read for ``query``: the question's time scope
        applied ("berita terbaru", "pada 2022") as when answering; none when it asks for news
        of a time that holds no article."""
        plan = self.planner.plan(query, query, "en")
        found = self.retriever_stage.retrieve(plan.query, k or self.settings.k, filters, plan.scope, "en")
        return list(found.passages)

    def as_retriever(self, k: int | None = None, filters: SearchFilters | None = None) -> NewsRetriever:
        """:meth:`search` as a LangChain ``BaseRetriever`` returning ``Document`` s (article
        id, title, source, url, published, chunk id and score in their metadata)."""
        from qa_bot.answer.langchain_api import NewsRetriever

        return NewsRetriever(bot=self, k=k or self.settings.k, filters=filters)

    def as_runnable(self) -> AnswerRunnable:
        """The checked answer as a LangChain ``Runnable``: ``invoke(question)`` gives the
        :class:`Answer`; ``stream`` the text pieces, then the ``Answer``; ``batch`` works."""
        from qa_bot.answer.langchain_api import AnswerRunnable

        return AnswerRunnable(self)

    def _cache_key(
        self, question: str, filters: SearchFilters | None, k: int | None, history: Sequence
    ) -> tuple | None:
        """What an answer depends on besides the models (None: not cached, for follow-ups)."""
        if history or self._answers.size <= 0:
            return None
        generation = self.retriever.store.view()
        today = self.settings.today or date.today()
        return (" ".join(question.split()), filters, k or self.settings.k, generation, today)

    def _stream(
        self,
        question: str,
        filters: SearchFilters | None,
        k: int | None,
        history: Sequence[tuple[str, str]],
    ) -> Iterator[Token | Rewritten | Answer]:
        """The answer path: plan -> retrieve -> select -> prompt and generate -> check."""
        question = question.strip()
        language = self.planner.language(question[: self.settings.max_question_chars])
        problem = question_problem(question, self.settings.max_question_chars, language)
        if problem:
            # Nothing to search for, or more text than a question (a pasted article would
            # overflow the model's context): say what to do instead of answering.
            yield replace(not_found(question[:200], language, ()), text=problem)
            return
        started = time.perf_counter()
        timings: dict[str, float] = {}
        search = question
        if needs_rewrite(question, history):
            search = self.planner.rewrite(question, history)
            timings["rewrite_s"] = time.perf_counter() - started
            yield Rewritten(search)
        plan = self.planner.plan(question, search, language)
        lap = time.perf_counter()
        found = self.retriever_stage.retrieve(plan.query, k or self.settings.k, filters, plan.scope, language)
        if found.message:
            yield self._refused(plan, (), timings, started, found.message)
            return
        timings["retrieval_s"] = time.perf_counter() - lap
        snippets = select_for(plan, found, self.retriever.embedder, self.settings.snippets)
        timings["selection_s"] = time.perf_counter() - lap - timings["retrieval_s"]
        if not snippets:
            yield self._refused(plan, found.passages, timings, started)
            return
        lap = time.perf_counter()
        checking = self.checker.begin(plan.search, snippets, language, plan.news)
        draft = yield from self._checked(
            self.writer.write(plan, snippets, started), checking, timings, started
        )
        if draft.first_token_s is not None:
            timings["first_token_s"] = draft.first_token_s
        timings["generation_s"] = time.perf_counter() - lap
        shown, answer = checking.close()
        yield from self._pieces(shown, timings, started)
        timings["check_s"] = checking.seconds
        yield self._finished(answer, plan, found, draft, timings, started)

    def _checked(
        self, pieces: Generator[Token, None, Draft], checking: CheckedStream, timings: dict, started: float
    ) -> Generator[Token, None, Draft]:
        """The model's pieces fed to the check; yields what the check lets through, as soon
        as it does: what streams is what stays."""
        while True:
            try:
                piece = next(pieces)
            except StopIteration as end:
                return end.value
            yield from self._pieces(checking.feed(piece.text), timings, started)

    @staticmethod
    def _pieces(shown: list[str], timings: dict[str, float], started: float) -> Iterator[Token]:
        for text in shown:
            timings.setdefault("first_shown_s", time.perf_counter() - started)
            yield Token(text)

    def _finished(
        self,
        answer: Answer,
        plan: QueryPlan,
        found: Retrieved,
        draft: Draft,
        timings: dict[str, float],
        started: float,
    ) -> Answer:
        """The checked answer with what it was found in: notes on the question's time,
        passages, timings, the rewritten follow-up and the model's refusal probability."""
        scope = plan.scope
        if scope is not None and scope.recency and answer.found:
            answer = replace(answer, text=f"{answer.text} {published_note(answer.citations, plan.language)}")
        if scope is not None and scope.anchor is not None and answer.found:
            answer = replace(answer, text=f"{answer.text} {anchor_note(scope, plan.language)}")
        timings["total_s"] = time.perf_counter() - started
        return replace(
            answer,
            question=plan.question,
            passages=found.passages,
            timings=timings,
            rewritten=plan.rewritten,
            refusal_p=None if draft.refusal_p is None else round(draft.refusal_p, 4),
        )

    def _refused(
        self,
        plan: QueryPlan,
        passages: tuple[Passage, ...],
        timings: dict[str, float],
        started: float,
        message: str = "",
    ) -> Answer:
        """ "Not in the corpus" (or ``message``) for a question nothing was found for."""
        timings["total_s"] = time.perf_counter() - started
        answer = not_found(plan.question, plan.language, passages, timings)
        return replace(answer, text=message or answer.text, rewritten=plan.rewritten)
