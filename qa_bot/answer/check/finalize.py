"""The check stage: the whole citation check, from the model's raw text to the answer shown.

Each sentence of the answer keeps only the citations whose snippet supports it: its words
and numbers are there (:func:`qa_bot.answer.check.citations.supports`) and, for a fact asked for,
in the role the question asks about (:mod:`qa_bot.answer.check.claim_check`). A sentence with no
supporting citation is re-attributed to another snippet that supports it, or dropped if it
makes a claim none supports; an answer left with no supported claim is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa_bot.answer.check.citations import (
    add_missing_time,
    adds_information,
    cited_sentences,
    restore_numbers,
    restore_time_qualifiers,
    supporting_span,
    supports,
)
from qa_bot.answer.check.claim_check import ClaimCheck, SubjectThresholds, WordVectors
from qa_bot.answer.prompt import NOT_FOUND_MESSAGES, is_refusal
from qa_bot.answer.select import Snippet
from qa_bot.config import Settings
from qa_bot.time.dates import published_day, with_absolute_dates
from qa_bot.types import Answer, Citation, Passage


class AnswerChecker:
    """The check stage.

    Args:
        encode_words: the embedding model's passage encoder (the role check matches the
            question's words across languages by their vectors).
        settings: ``claim_check`` and its thresholds.
    """

    def __init__(self, encode_words: Callable, settings: Settings) -> None:
        self.encode_words = encode_words
        self.settings = settings
        self._word_vectors: WordVectors | None = None

    def check(self, raw: str, question: str, snippets: list[Snippet], language: str, news: bool) -> Answer:
        """The answer ``raw`` as shown: supported sentences with renumbered citations, or the
        "not in the corpus" answer. A request for the news (``news``) is answered by a
        summary, not a value in a role: the citation check alone applies."""
        check = None if news else self.claim_check(question, snippets)
        return finalize(raw, question, snippets, language, check)

    def claim_check(self, question: str, snippets: list[Snippet]) -> ClaimCheck | None:
        """The role check of this question's answer (None when switched off)."""
        if not self.settings.claim_check:
            return None
        if self._word_vectors is None:
            self._word_vectors = WordVectors(self.encode_words)
        settings = self.settings
        thresholds = SubjectThresholds(
            settings.claim_coverage,
            settings.claim_content,
            settings.claim_word_similarity,
            settings.claim_content_crosslingual,
        )
        titles = [s.passage.title or "" for s in snippets]
        return ClaimCheck(question, [s.text for s in snippets], titles, self._word_vectors, thresholds)


def finalize(
    raw: str, question: str, snippets: list[Snippet], language: str, check: ClaimCheck | None = None
) -> Answer:
    """Turn the model's raw text into a checked answer.

    Each sentence keeps only the citations whose snippet supports it: its words and numbers
    are there (:func:`qa_bot.answer.check.citations.supports`) and, with a ``check``, in the role asked
    for (:mod:`qa_bot.answer.check.claim_check`). A sentence with no supporting citation is re-attributed
    to another snippet that supports it, or dropped if it makes a claim none supports.
    Citations are renumbered [1].. in order of appearance. An
    answer left with no supported claim becomes the plain "not in the corpus" answer.
    """
    text = raw.strip()
    if not text or is_refusal(text):
        return not_found(question, language, ())
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
        return not_found(question, language, ())
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


def not_found(
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
