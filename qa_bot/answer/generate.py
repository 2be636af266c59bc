"""The prompt and generate stages: the model reads the selected sentences and writes the
answer, streamed token by token; the refusal probe lets a calibrated threshold decide
whether it refuses (:mod:`qa_bot.models.probe`)."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from qa_bot.answer.plan import QueryPlan
from qa_bot.answer.prompt import NOT_FOUND_TOKEN, build_messages
from qa_bot.answer.select import Snippet
from qa_bot.config import Settings
from qa_bot.models.probe import RefusalProbe
from qa_bot.text import detect_language
from qa_bot.time.question import lead_text, on_topic
from qa_bot.types import Token


@dataclass(frozen=True)
class Draft:
    """The model's answer as written (before the check)."""

    text: str
    # The model's first-step probability of refusing (None when it cannot report it).
    refusal_p: float | None = None
    # Seconds from ``started`` (given to :meth:`AnswerWriter.write`) to the first piece.
    first_token_s: float | None = None


class AnswerWriter:
    """The prompt and generate stages.

    Args:
        llm: the chat model; one that implements :class:`~qa_bot.models.probe.RefusalProbe`
            refuses by the calibrated thresholds of ``settings``.
        settings: ``abstain_threshold`` and ``abstain_threshold_crosslingual``.
    """

    def __init__(self, llm: BaseChatModel | None, settings: Settings) -> None:
        self.llm = llm
        self.settings = settings

    def write(
        self, plan: QueryPlan, snippets: list[Snippet], started: float
    ) -> Generator[Token, None, Draft]:
        """Yield the answer's pieces as they come; return the whole :class:`Draft`."""
        lead = snippets[0].passage
        if (
            plan.news
            and detect_language(lead.text) == plan.language
            and on_topic(plan.search, f"{lead.title}\n{lead.text}")
        ):
            # "Berita terbaru soal X?" over Indonesian news: the newest article's own lead
            # sentence is the answer. The 1.5B model, asked to summarise it, swapped who did
            # what ("Korut menangkap tentara Rusia" from "Ukraina menangkap tentara Korut").
            text = f"{lead_text(snippets[0].text)} [1]"
            first = time.perf_counter() - started
            yield Token(text)
            return Draft(text, None, first)
        if self.llm is None:
            raise RuntimeError("this bot was built without a chat model (load_llm=False)")
        messages = build_messages(plan.search, [s.text for s in snippets], plan.language)
        parts: list[str] = []
        refusal_p = first_token_s = None
        for chunk in self._stream(messages, plan, snippets):
            text = chunk.content if isinstance(chunk.content, str) else str(chunk.content)
            if not text:
                continue
            if not parts:
                first_token_s = time.perf_counter() - started
                refusal_p = chunk.response_metadata.get("first_token_p")
            parts.append(text)
            yield Token(text)
        return Draft("".join(parts), refusal_p, first_token_s)

    def _stream(self, messages: list, plan: QueryPlan, snippets: list[Snippet]) -> Any:
        """The model's stream, probed for a refusal when the model can be.

        Cross-lingual questions get their own threshold: an English question over Indonesian
        passages leaves the model unsure (0.15-0.5 measured on answerable questions) where a
        same-language one is sure (< 0.005). "What is the latest news about X?" is a request
        for a summary, not a factoid, and the model is unsure about those too (0.02-0.46 on the
        multi-date test corpus, where every such question had an on-topic article): the
        looser threshold.
        """
        assert self.llm is not None
        if not isinstance(self.llm, RefusalProbe):
            return self.llm.stream(messages)
        passages_language = detect_language(" ".join(s.text for s in snippets))
        if plan.language == passages_language and not plan.news:
            threshold = self.settings.abstain_threshold
        else:
            threshold = self.settings.abstain_threshold_crosslingual
        return self.llm.stream_probed(messages, NOT_FOUND_TOKEN, threshold)
