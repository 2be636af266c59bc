"""Answering: retrieve, select sentences, prompt, generate (streaming), check every citation."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answer_cache import AnswerCache
from .citations import (
    add_missing_time,
    adds_information,
    cited_sentences,
    restore_numbers,
    restore_time_qualifiers,
    supporting_span,
    supports,
)
from .claim_check import ClaimCheck, SubjectThresholds, WordVectors
from .condense import clean_rewrite, condense_messages, needs_rewrite
from .config import Settings, get_settings
from .dates import published_day, with_absolute_dates
from .event_time import event_bound, event_day, event_range
from .prompt import NOT_FOUND_MESSAGES, NOT_FOUND_TOKEN, build_messages, is_refusal
from .question_time import (
    TimeScope,
    anchor_note,
    asks_for_news,
    asks_for_news_of_time,
    lead_text,
    narrow,
    no_articles_message,
    on_topic,
    prefer_period,
    published_note,
    time_scope,
)
from .retrieval import HybridRetriever
from .select import Snippet, select_snippets
from .store import ChunkStore, StoreError
from .text import detect_language
from .types import Answer, Citation, Passage, SearchFilters

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings
    from langchain_core.language_models import BaseChatModel

    from .langchain_api import AnswerRunnable, NewsRetriever


@dataclass(frozen=True)
class Token:
    """A piece of the answer as the model streams it (before checking)."""

    text: str


@dataclass(frozen=True)
class Rewritten:
    """The standalone question a follow-up was rewritten into (before retrieval)."""

    text: str


class QABot:
    """Answers questions from the store with checked, numbered citations.

    Example:
        >>> bot = QABot.from_settings(get_settings())          # doctest: +SKIP
        >>> bot.ask("Siapa Sekretaris Jenderal NATO?").text   # doctest: +SKIP
        'Sekretaris Jenderal NATO adalah Mark Rutte [1].'
    """

    def __init__(self, retriever: HybridRetriever, llm: Any, settings: Settings | None = None) -> None:
        self.retriever = retriever
        self.llm = llm
        self.settings = settings or get_settings()
        self._answers = AnswerCache(self.settings.answer_cache)
        self._word_vectors: WordVectors | None = None

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
        from .langchain_api import embedder_of
        from .models import load_chat_model, load_embeddings

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
        """Have the fixed prompt prefix evaluated, so the first question does not pay for it:
        loaded from the state saved by an earlier process (milliseconds), else evaluated
        (~5 s) and saved. Returns what happened ("loaded", "evaluated" or "" for a server,
        which manages its own cache)."""
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
        """Yield :class:`Token` s while the model writes, then the checked :class:`Answer`.

        With a ``history`` of (question, answer) pairs, a follow-up that refers back into the
        conversation is first rewritten into a standalone question (yielded as
        :class:`Rewritten`), which is what gets retrieved and answered.
        """
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
    def embedder(self) -> Any:
        """The embedding model of the store's vectors."""
        return self.retriever.embedder

    def articles(self) -> list[dict]:
        """One row per stored article: id, title, source, published, chunk count, file path."""
        return self.retriever.store.articles()

    def is_empty(self) -> bool:
        """Whether the store holds no article (the chat says how to add some)."""
        return self.retriever.store.count() == 0

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Passage]:
        """The ``k`` passages the bot would read for ``query``: the question's time scope
        applied ("berita terbaru", "pada 2022") as when answering; none when it asks for news
        of a time that holds no article."""
        scope = self._time_scope(query)
        text = scope.query if scope else query
        vector = self.retriever.embedder.embed_query(text)
        return self._scoped(text, k or self.settings.k, filters, scope, vector, "en")[0]

    def as_retriever(self, k: int | None = None, filters: SearchFilters | None = None) -> NewsRetriever:
        """:meth:`search` as a LangChain ``BaseRetriever`` returning ``Document`` s (article
        id, title, source, url, published, chunk id and score in their metadata)."""
        from .langchain_api import NewsRetriever

        return NewsRetriever(bot=self, k=k or self.settings.k, filters=filters)

    def as_runnable(self) -> AnswerRunnable:
        """The checked answer as a LangChain ``Runnable``: ``invoke(question)`` gives the
        :class:`Answer`; ``stream`` the text pieces, then the ``Answer``; ``batch`` works."""
        from .langchain_api import AnswerRunnable

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
        question = question.strip()
        language = self._language(question[: self.settings.max_question_chars])
        problem = question_problem(question, self.settings.max_question_chars, language)
        if problem:
            # Nothing to search for, or more text than a question (a pasted article would
            # overflow the model's context): say what to do instead of answering.
            yield replace(_not_found(question[:200], language, ()), text=problem)
            return
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        search = question
        if needs_rewrite(question, history):
            search = self._condense(question, history)
            timings["rewrite_s"] = time.perf_counter() - t0
            yield Rewritten(search)
        rewritten = search if search != question else ""
        scope = self._time_scope(search)
        k = k or self.settings.k
        passages, snippets, message = self._find(search, k, filters, scope, language, timings)
        if message:
            timings["total_s"] = time.perf_counter() - t0
            yield replace(_not_found(question, language, (), timings), text=message, rewritten=rewritten)
            return
        if not snippets:
            timings["total_s"] = time.perf_counter() - t0
            yield replace(_not_found(question, language, tuple(passages), timings), rewritten=rewritten)
            return
        parts: list[str] = []
        t1 = time.perf_counter()
        refusal_p = None
        # "What is the latest news / what happened last week": a request for news, not a fact.
        news = scope is not None and asks_for_news(search)
        lead = snippets[0].passage
        if news and detect_language(lead.text) == language and on_topic(search, f"{lead.title}\n{lead.text}"):
            # "Berita terbaru soal X?" over Indonesian news: the newest article's own lead
            # sentence is the answer. The 1.5B model, asked to summarise it, swapped who did
            # what ("Korut menangkap tentara Rusia" from "Ukraina menangkap tentara Korut").
            parts.append(f"{lead_text(snippets[0].text)} [1]")
            timings["first_token_s"] = time.perf_counter() - t0
            yield Token(parts[0])
        else:
            messages = build_messages(search, [s.text for s in snippets], language)
            probe = self._probe_kwargs(language, snippets, news_request=news)
            for chunk in self.llm.stream(messages, **probe):
                text = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
                if not text:
                    continue
                if not parts:
                    timings["first_token_s"] = time.perf_counter() - t0
                    refusal_p = chunk.response_metadata.get("first_token_p")
                parts.append(text)
                yield Token(text)
        timings["generation_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        # A request for the news is answered by a summary, not a value in a role: the
        # citation check alone applies.
        check = None if news else self._claim_check(search, snippets)
        answer = finalize("".join(parts), search, snippets, language, check)
        timings["check_s"] = time.perf_counter() - t2
        if scope is not None and scope.recency and answer.found:
            answer = replace(answer, text=f"{answer.text} {published_note(answer.citations, language)}")
        if scope is not None and scope.anchor is not None and answer.found:
            answer = replace(answer, text=f"{answer.text} {anchor_note(scope, language)}")
        timings["total_s"] = time.perf_counter() - t0
        yield replace(
            answer,
            question=question,
            passages=tuple(passages),
            timings=timings,
            rewritten=rewritten,
            refusal_p=None if refusal_p is None else round(refusal_p, 4),
        )

    def _find(
        self,
        search: str,
        k: int,
        filters: SearchFilters | None,
        scope: TimeScope | None,
        language: str,
        timings: dict[str, float],
    ) -> tuple[list[Passage], list[Snippet], str]:
        """Passages and the sentences the model reads; or a message when the question asks for
        news of a time that holds no article (then the lists are empty). Records retrieval and
        selection times."""
        t0 = time.perf_counter()
        embedder = self.retriever.embedder
        query = scope.query if scope else search
        vector = embedder.embed_query(query)
        passages, message = self._scoped(query, k, filters, scope, vector, language)
        if message:
            return [], [], message
        timings["retrieval_s"] = time.perf_counter() - t0
        readable = passages
        if scope is not None and scope.recency and passages:
            # "Latest" asks for the newest article: given older ones too, the model often
            # answered from whichever sentence matched best.
            readable = [p for p in passages if p.article_id == passages[0].article_id]
        snippets = select_snippets(query, vector, readable, embedder, max_snippets=self.settings.snippets)
        timings["selection_s"] = time.perf_counter() - t0 - timings["retrieval_s"]
        return passages, snippets, ""

    def _scoped(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None,
        scope: TimeScope | None,
        vector: list[float],
        language: str,
    ) -> tuple[list[Passage], str]:
        """Passages for ``query`` in the question's time scope; or a message when the
        question asks for news of a time that holds no article."""
        passages = self._retrieve(query, k, filters, scope, vector)
        if not passages and scope is not None and scope.narrows and scope.has_range:
            span = self.retriever.published_span()
            if scope.news and span is not None and not self.retriever.keyword_index().has_undated():
                return [], no_articles_message(scope, span, language)
            # Undated articles cannot be judged by the question's time (and "last year" may
            # be the article's own, as in IndoSum questions), and a question not asking for
            # the news of that time may be answered by an article of another: search them all.
            passages = self._retrieve(query, k, filters, None, vector)
        return passages, ""

    def _claim_check(self, question: str, snippets: list[Snippet]) -> ClaimCheck | None:
        """The role check of this question's answer (None when switched off)."""
        if not self.settings.claim_check:
            return None
        if self._word_vectors is None:
            self._word_vectors = WordVectors(self.retriever.embedder.encode_passages)
        settings = self.settings
        thresholds = SubjectThresholds(
            settings.claim_coverage,
            settings.claim_content,
            settings.claim_word_similarity,
            settings.claim_content_crosslingual,
        )
        titles = [s.passage.title or "" for s in snippets]
        return ClaimCheck(question, [s.text for s in snippets], titles, self._word_vectors, thresholds)

    def _time_scope(self, question: str) -> TimeScope | None:
        """The question's time; an event bound ("before the election") is dated from the corpus.

        An event bound narrows even when the question does not ask for news: an election
        splits the news in two, and given the other side's articles the 1.5B model doubted
        (refusal p 0.027 vs 0.013 narrowed, threshold 0.02, on "Siapa yang unggul setelah
        pilkada?"). Without a request for news, finding nothing on that side widens to every
        article rather than saying that none was published then."""
        scope = time_scope(question, self.settings.today or date.today())
        if scope is not None and scope.has_range:
            return scope
        event = event_bound(question)
        day = event_day(self.retriever, event) if event is not None else None
        if event is None or day is None:
            return scope
        first, last = event_range(event, day)
        query = scope.query if scope is not None else question
        recency = scope is not None and scope.recency
        news = asks_for_news_of_time(question)
        return TimeScope(recency, first, last, event.phrase, query, anchor=day, narrows=True, news=news)

    def _retrieve(
        self,
        query: str,
        k: int,
        filters: SearchFilters | None,
        scope: TimeScope | None,
        vector: list[float],
    ) -> list[Passage]:
        """Passages for ``query``: narrowed to the question's time range when it asks for news
        of that time, else with the articles published then ranked first (none hidden); for
        "latest" questions, newest first."""
        if scope is not None and scope.has_range and scope.narrows:
            filters = narrow(filters, scope.first, scope.last)
            if filters is None:
                return []  # the question's range and the caller's filters do not overlap
        if scope is not None and scope.recency:
            return self.retriever.newest_first(
                query, k, filters, query_vector=vector, margin=self.settings.recency_margin
            )
        if scope is not None and scope.has_range and not scope.narrows:
            # When something happened, which later articles report too ("realisasi anggaran
            # KPK pada 2022" in a 2025 article): a preference among the relevant, no filter.
            pool = self.retriever.retrieve(query, max(4 * k, 20), filters, query_vector=vector)
            return prefer_period(pool, scope.first, scope.last, self.settings.recency_margin, k)
        return self.retriever.retrieve(query, k, filters, query_vector=vector)

    def _probe_kwargs(
        self, language: str, snippets: list[Snippet], news_request: bool = False
    ) -> dict[str, Any]:
        """Let a calibrated threshold on the refusal token's probability decide (in-process model).

        Greedy decoding refuses whenever NOT_FOUND is the single likeliest first token; the
        threshold instead refuses exactly when its probability exceeds a value chosen on
        train questions, and otherwise makes the model give its best answer (which the
        citation check then vets). Cross-lingual questions get their own threshold: an English
        question over Indonesian passages leaves the model unsure (0.15-0.5 measured on
        answerable questions) where a same-language one is sure (< 0.005).
        An OpenAI-compatible server is asked for the same probability through logprobs
        (:mod:`qa_bot.openai_chat`); one that has none leaves the decision to greedy decoding.
        "What is the latest news about X?" asked across languages is a request for a summary,
        not a factoid, and the model is unsure about those too (0.02-0.46 on the multi-date
        test corpus, where every such question had an on-topic article): the looser threshold.
        """
        if not getattr(self.llm, "watches_first_token", False):
            return {}
        passages_language = detect_language(" ".join(s.text for s in snippets))
        if language == passages_language and not news_request:
            threshold = self.settings.abstain_threshold
        else:
            threshold = self.settings.abstain_threshold_crosslingual
        return {"watch_token": NOT_FOUND_TOKEN, "force_above": threshold}

    def _condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        reply = self.llm.invoke(condense_messages(question, history), max_tokens=60)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        return clean_rewrite(text, question)

    def _language(self, question: str) -> str:
        setting = self.settings.answer_language
        return detect_language(question) if setting == "auto" else setting


def question_problem(question: str, max_chars: int, language: str) -> str:
    """A message for a question that cannot be asked as it is ("" when it can).

    Example:
        >>> question_problem("", 2000, "en")
        'Type a question about the news, e.g. "When does the UN Security Council meet?"'
        >>> question_problem("x" * 5000, 2000, "en")
        'The question is 5,000 characters long: ask in at most 2,000 characters.'
    """
    if not question.strip():
        if language == "en":
            return 'Type a question about the news, e.g. "When does the UN Security Council meet?"'
        return 'Tulis pertanyaan tentang berita, misalnya "Kapan Dewan Keamanan PBB bertemu?"'
    if len(question) > max_chars:
        n, most = f"{len(question):,}", f"{max_chars:,}"
        if language == "en":
            return f"The question is {n} characters long: ask in at most {most} characters."
        n, most = n.replace(",", "."), most.replace(",", ".")
        return f"Pertanyaannya {n} karakter: tanyakan dalam paling banyak {most} karakter."
    return ""


def finalize(
    raw: str, question: str, snippets: list[Snippet], language: str, check: ClaimCheck | None = None
) -> Answer:
    """Turn the model's raw text into a checked answer.

    Each sentence keeps only the citations whose snippet supports it: its words and numbers
    are there (:func:`qa_bot.citations.supports`) and, with a ``check``, in the role asked
    for (:mod:`qa_bot.claim_check`). A sentence with no supporting citation is re-attributed
    to another snippet that supports it, or dropped if it makes a claim none supports.
    Citations are renumbered [1].. in order of appearance. An
    answer left with no supported claim becomes the plain "not in the corpus" answer.
    """
    text = raw.strip()
    if not text or is_refusal(text):
        return _not_found(question, language, ())
    n = len(snippets)
    kept: list[tuple[str, list[int]]] = []
    for sentence in cited_sentences(text, n):
        valid = [i for i in sentence.cited if _backs(sentence.text, snippets, i, question, check)]
        if not valid:
            valid = [i for i in range(1, n + 1) if _backs(sentence.text, snippets, i, question, check)][:1]
        if valid:
            source = snippets[valid[0] - 1]
            text = restore_numbers(sentence.text, source.text)
            text = add_missing_time(text, source.text, question, language)
            text = restore_time_qualifiers(text, source.text, language)
            kept.append((with_absolute_dates(text, published_day(source.passage.published), language), valid))
        elif not adds_information(sentence.text, question):
            kept.append((sentence.text, []))
    if not any(cites for _, cites in kept):
        return _not_found(question, language, ())
    order: list[int] = []
    for _, cites in kept:
        order.extend(i for i in cites if i not in order)
    renumber = {old: new for new, old in enumerate(order, start=1)}
    sentences = [_with_markers(sentence, [renumber[i] for i in cites]) for sentence, cites in kept]
    claims = {i: [sentence for sentence, cites in kept if i in cites] for i in order}
    citations = tuple(_citation(renumber[i], snippets[i - 1], claims[i], question) for i in order)
    return Answer(
        question=question, text=" ".join(sentences), citations=citations, found=True, language=language
    )


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """Put [n] markers before the sentence's final punctuation ("... 15.00 [1].")."""
    markers = "".join(f"[{n}]" for n in numbers)
    body = sentence.rstrip()
    if not markers:
        return body
    end = re.search(r"[.!?…]+$", body)
    if end:
        return f"{body[: end.start()]} {markers}{end.group()}"
    return f"{body} {markers}"


def _backs(
    sentence: str, snippets: list[Snippet], number: int, question: str, check: ClaimCheck | None
) -> bool:
    """Whether snippet ``number`` (1-based) supports the sentence, in the role asked for."""
    if not _supported(sentence, snippets[number - 1], question):
        return False
    return check is None or check.passes(sentence, number - 1)


def _supported(sentence: str, snippet: Snippet, question: str) -> bool:
    return supports(sentence, snippet.text, question, context=snippet.passage.published)


def _citation(number: int, s: Snippet, claims: list[str], question: str) -> Citation:
    """The citation of snippet ``s``, quoting the sentence of it that backs ``claims``."""
    p = s.passage
    start, end = supporting_span(claims, s.text, question)
    return Citation(
        number=number,
        text=p.text,
        quote=s.text[start:end],
        quote_start=s.start + start,
        quote_end=s.start + end,
        title=p.title,
        source=p.source,
        url=p.url,
        published=p.published,
        chunk_id=p.chunk_id,
        article_id=p.article_id,
        score=round(s.score, 4),
        start=p.start,
        end=p.end,
        copies=p.copies,
    )


def _not_found(
    question: str, language: str, passages: tuple[Passage, ...], timings: dict[str, float] | None = None
) -> Answer:
    return Answer(
        question=question,
        text=NOT_FOUND_MESSAGES.get(language, NOT_FOUND_MESSAGES["id"]),
        citations=(),
        found=False,
        language=language,
        passages=passages,
        timings=timings or {},
    )
