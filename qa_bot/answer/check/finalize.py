"""The check stage: the whole citation check, from the model's raw text to the answer shown.

Each sentence of the answer keeps only the citations whose snippet supports it: its words
and numbers are there (:func:`qa_bot.answer.check.citations.supports`) and, for a fact asked for,
in the role the question asks about (:mod:`qa_bot.answer.check.claim_check`). A sentence with no
supporting citation is re-attributed to another snippet that supports it, or dropped if it
makes a claim none supports; an answer left with no supported claim is refused.
"""

from __future__ import annotations

import re
import time
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
from qa_bot.answer.check.forms import localize
from qa_bot.answer.prompt import NOT_FOUND_MESSAGES, is_refusal
from qa_bot.answer.select import Snippet
from qa_bot.config import Settings
from qa_bot.text import detect_language
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

    def begin(self, question: str, snippets: list[Snippet], language: str, news: bool) -> CheckedStream:
        """The check of one answer, fed as the model writes it. A request for the news
        (``news``) is answered by a summary, not a value in a role: the citation check alone
        applies."""
        check = None if news else self.claim_check(question, snippets)
        return CheckedStream(question, snippets, language, check)

    def check(self, raw: str, question: str, snippets: list[Snippet], language: str, news: bool) -> Answer:
        """The whole answer ``raw`` as shown: supported sentences with renumbered citations,
        or the "not in the corpus" answer."""
        stream = self.begin(question, snippets, language, news)
        stream.feed(raw)
        return stream.close()[1]

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
    """Turn the model's whole raw text into a checked answer (:class:`CheckedStream` fed at
    once: the same decisions as when the text streams in)."""
    stream = CheckedStream(question, snippets, language, check)
    stream.feed(raw)
    return stream.close()[1]


class CheckedStream:
    """The check, sentence by sentence as the model writes, so that what is shown while the
    answer streams is exactly the beginning of the final answer.

    Each sentence keeps only the citations whose snippet supports it: its words and numbers
    are there (:func:`qa_bot.answer.check.citations.supports`) and, with a ``check``, in the
    role asked for (:mod:`qa_bot.answer.check.claim_check`). A sentence with no supporting
    citation is re-attributed to another snippet that supports it, or dropped if it makes a
    claim none supports. Citations are numbered [1].. in order of appearance, which is known
    sentence by sentence. An answer left with no supported claim becomes the plain "not in
    the corpus" answer.

    A sentence is decided once the next one has begun (a citation marker opening the next
    sentence still belongs to it: "... 15.00. [1] Next") or the text has ended. Sentences
    without a citation that are kept (they add nothing beyond the question) wait until a
    cited one is shown, since an answer with no cited sentence is refused. A refusal in the
    first sentence refuses the answer; a later sentence saying the passages do not tell is
    dropped, and what was shown before it stands.

    Example:
        >>> from qa_bot.types import Passage
        >>> text = "Dewan Keamanan PBB bertemu pada Rabu (30/10)."
        >>> snippet = Snippet(Passage("c", text, "a", "", "", "", "", 0, 0, len(text)), 0, len(text), 1.0)
        >>> stream = CheckedStream("Kapan DK PBB bertemu?", [snippet], "id", None)
        >>> stream.feed("Dewan Keamanan PBB bertemu pada Rabu (30/10) [1]. Itu")
        ['Dewan Keamanan PBB bertemu pada Rabu (30/10) [1].']
        >>> stream.feed(" saja.")
        []
        >>> shown, answer = stream.close()
        >>> shown, answer.text
        ([' Itu saja.'], 'Dewan Keamanan PBB bertemu pada Rabu (30/10) [1]. Itu saja.')
    """

    def __init__(
        self, question: str, snippets: list[Snippet], language: str, check: ClaimCheck | None
    ) -> None:
        self.question, self.snippets, self.language, self.check = question, snippets, language, check
        self._raw = ""
        self._decided = 0  # sentences of the raw text decided so far
        # (sentence as shown, as checked, snippet numbers): shown in the answer's language's
        # forms ("3,000" in English), checked and quoted in the passage's ("3.000").
        self._kept: list[tuple[str, str, list[int]]] = []
        self._order: list[int] = []  # snippet numbers in order of first citation
        self._shown = 0  # kept sentences already returned by feed/close
        self._refused = False
        self.seconds = 0.0  # time spent checking so far

    @property
    def raw(self) -> str:
        """The model's text as written so far (before the check)."""
        return self._raw

    def feed(self, piece: str) -> list[str]:
        """Take the next piece of the model's text; return the sentences now decided and
        shown, in their final form (final [n] numbers), each but the answer's first with the
        space that joins it to the one before: joined, everything returned is the answer."""
        self._raw += piece
        started = time.perf_counter()
        try:
            return self._advance(final=False)
        finally:
            self.seconds += time.perf_counter() - started

    def close(self) -> tuple[list[str], Answer]:
        """The text has ended: the sentences still to show, and the checked answer (whose
        text is every sentence shown, joined by spaces)."""
        started = time.perf_counter()
        try:
            return self._close()
        finally:
            self.seconds += time.perf_counter() - started

    def _close(self) -> tuple[list[str], Answer]:
        shown = self._advance(final=True)
        if self._refused or not self._order:
            return [], not_found(self.question, self.language, ())
        renumber = {old: new for new, old in enumerate(self._order, start=1)}
        sentences = [_with_markers(s, [renumber[i] for i in cites]) for s, _, cites in self._kept]
        claims = {i: [s for _, s, cites in self._kept if i in cites] for i in self._order}
        citations = tuple(
            _citation(renumber[i], self.snippets[i - 1], claims[i], self.question) for i in self._order
        )
        answer = Answer(
            question=self.question,
            text=" ".join(sentences),
            citations=citations,
            found=True,
            language=self.language,
        )
        return shown, answer

    def _advance(self, final: bool) -> list[str]:
        if self._refused:
            return []
        sentences = cited_sentences(self._raw.strip(), len(self.snippets))
        ready = len(sentences)
        if not final and sentences:
            # The last sentence may still grow; and until it has words of its own, markers
            # opening it may still be the previous sentence's citations.
            ready -= 1 if _has_words(sentences[-1].text) else 2
        for sentence in sentences[self._decided : max(ready, self._decided)]:
            self._decided += 1
            if is_refusal(sentence.text):
                if self._decided == 1:
                    self._refused = True
                    return []
                continue  # "the passages do not say ...": no claim, nothing to show
            self._decide(sentence.text, sentence.cited)
        return self._release()

    def _decide(self, text: str, cited: tuple[int, ...]) -> None:
        snippets, question, check = self.snippets, self.question, self.check
        valid = [i for i in cited if _backs(text, snippets, i, question, check)]
        if not valid:
            candidates = range(1, len(snippets) + 1)
            valid = [i for i in candidates if _backs(text, snippets, i, question, check)][:1]
        if valid:
            source = snippets[valid[0] - 1]
            text = restore_numbers(text, source.text)
            text = add_missing_time(text, source.text, question, self.language)
            text = restore_time_qualifiers(text, source.text, self.language)
            text = with_absolute_dates(text, published_day(source.passage.published), self.language)
            written_as = detect_language(source.text)  # numbers are now as the passage writes them
            self._kept.append((localize(text, self.language, written_as), text, valid))
            self._order.extend(i for i in valid if i not in self._order)
        elif not adds_information(text, question):
            self._kept.append((localize(text, self.language), text, []))

    def _release(self) -> list[str]:
        """Kept sentences not yet shown, once a cited one makes the answer stand."""
        if not self._order:
            return []
        renumber = {old: new for new, old in enumerate(self._order, start=1)}
        out = [
            ("" if n == 0 else " ") + _with_markers(s, [renumber[i] for i in cites])
            for n, (s, _, cites) in enumerate(self._kept[self._shown :], start=self._shown)
        ]
        self._shown = len(self._kept)
        return out


def _has_words(text: str) -> bool:
    return re.search(r"[^\W\d_]", text) is not None


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
