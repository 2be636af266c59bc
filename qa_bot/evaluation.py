"""Measuring the bot: retrieval recall, answer accuracy, abstention, citation precision and
the wrong-with-citation rate (wrong answers shown behind a citation, per answer shown).

The QA format is the one of ``shared/data``: one JSON object a line with ``question``,
``answers`` (gold strings, empty when unanswerable), ``doc_id`` (the gold passage's article
id), optional ``answerable`` and ``split``. The corpus must already be in the bot's store
(the CLI ingests it first).
"""

from __future__ import annotations

import json
import re
import statistics
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.answer.check.citations import numbers_in, strip_markers

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot
    from qa_bot.types import Answer, Passage

RECALL_AT = (1, 5, 10)


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    doc_id: str
    answerable: bool = True
    lang: str = "id"


@dataclass
class ItemResult:
    id: str
    question: str
    doc_id: str
    rank: int | None  # 1-based rank of the gold article among retrieved articles, None if absent
    retrieval_ms: float
    answerable: bool = True
    answer: str = ""
    found: bool | None = None
    correct: bool | None = None
    f1: float | None = None
    citations: int = 0
    citations_with_answer: int = 0
    first_token_s: float | None = None
    first_shown_s: float | None = None  # the first checked sentence shown to the asker
    total_s: float | None = None
    refusal_p: float | None = None
    lang: str = "id"
    check_s: float | None = None  # the role check's time (qa_bot.answer.check.claim_check)
    # An answer shown with citations that a reader would trust wrongly: a wrong answer, an
    # answer to an unanswerable question, or one whose citations do not hold the gold answer.
    wrong_with_citation: bool | None = None


def load_qa(path: Path, split: str | None = None, limit: int | None = None) -> list[QAItem]:
    """Questions from a QA JSONL file, optionally one split and the first ``limit``."""
    items = []
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            if split and row.get("split", split) != split:
                continue
            answers = tuple(row.get("answers") or ())
            items.append(
                QAItem(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=answers,
                    doc_id=str(row["doc_id"]),
                    answerable=bool(row.get("answerable", bool(answers))),
                    lang=str(row.get("lang") or "id"),
                )
            )
            if limit and len(items) >= limit:
                break
    return items


def normalise(text: str) -> str:
    """Lower case, no punctuation, single spaces (SQuAD-style, kept language-neutral)."""
    text = strip_markers(text).lower()
    text = "".join(" " if ch in string.punctuation or ch in "“”‘’" else ch for ch in text)
    return " ".join(text.split())


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token-overlap F1 of ``prediction`` against any gold answer."""
    pred = normalise(prediction).split()
    best = 0.0
    for gold in golds:
        ref = normalise(gold).split()
        common = sum((Counter(pred) & Counter(ref)).values())
        if not common:
            continue
        precision, recall = common / len(pred), common / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """Whether a gold answer occurs in ``text`` (normalised, on word boundaries), or, for a
    gold answer with numbers, whether ``text`` states all of them (an English answer writes
    "12 hingga 14 Desember 2016" as "December 12 to 14, 2016", "9,46 triliun" as "9.46
    trillion").

    Example:
        >>> contains_answer("Held from December 12 to 14, 2016 [1].", ["12 hingga 14 Desember 2016"])
        True
        >>> contains_answer("66 people [1].", ["60 penumpang"])
        False
    """
    hay = f" {normalise(text)} "
    if any(f" {normalise(g)} " in hay for g in golds if normalise(g)):
        return True
    stated = numbers_in(strip_markers(text))
    return any(numbers_in(g) and _numbers_only(g) <= stated for g in golds)


def _numbers_only(gold: str) -> set[str]:
    """The canonical numbers of a gold answer, without the scaled forms ("1,2 triliun" is
    1.2, which an answer must state too, however it writes the scale)."""
    from qa_bot.answer.check.citations import canonical_number

    return {canonical_number(m) for m in re.findall(r"\d+(?:[.,:]\d+)*", gold)}


def evaluate(
    bot: QABot,
    items: Sequence[QAItem],
    *,
    retrieval_only: bool = False,
    on_item: Callable[[ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Ask every question; retrieval is ranked at depth 10, answers come from ``bot.ask``."""
    results = []
    depth = max(RECALL_AT)
    for item in items:
        t0 = time.perf_counter()
        passages = bot.retriever.retrieve(item.question, depth * 3)
        retrieval_ms = 1000 * (time.perf_counter() - t0)
        rank = gold_rank(passages, item.doc_id, depth)
        result = ItemResult(
            item.id, item.question, item.doc_id, rank, retrieval_ms, item.answerable, lang=item.lang
        )
        if not retrieval_only:
            answer = bot.ask(item.question)
            result.answer = answer.text
            result.found = answer.found
            result.first_token_s = answer.timings.get("first_token_s")
            result.first_shown_s = answer.timings.get("first_shown_s")
            result.total_s = answer.timings.get("total_s")
            result.refusal_p = answer.refusal_p
            result.check_s = answer.timings.get("check_s")
            if item.answerable:
                result.correct = answer.found and contains_answer(answer.text, item.answers)
                result.f1 = token_f1(answer.text, item.answers) if answer.found else 0.0
                result.citations = len(answer.citations)
                result.citations_with_answer = sum(
                    contains_answer(c.text, item.answers) for c in answer.citations
                )
            result.wrong_with_citation = wrong_with_citation(answer, item)
        results.append(result)
        if on_item:
            on_item(result)
    return results


def wrong_with_citation(answer: Answer, item: QAItem) -> bool | None:
    """Whether ``answer`` is shown with citations and is not right behind them (None when
    nothing was shown): the answer does not hold a gold answer, no citation holds one, or
    the question has no answer in the corpus at all.

    Example:
        >>> from qa_bot.types import Answer, Citation
        >>> c = Citation(1, "BI Rate 4,75%, Deposit Facility 3,75%", "", 0, 0, *[""] * 6, 0, 0, 0)
        >>> item = QAItem("1", "Berapa BI Rate?", ("4,75%",), "bi")
        >>> wrong_with_citation(Answer("", "BI Rate 3,75% [1].", (c,), True, "id"), item)
        True
        >>> wrong_with_citation(Answer("", "BI Rate 4,75% [1].", (c,), True, "id"), item)
        False
    """
    if not answer.found or not answer.citations:
        return None
    if not item.answerable:
        return True
    right = contains_answer(answer.text, item.answers)
    return not (right and any(contains_answer(c.text, item.answers) for c in answer.citations))


def gold_rank(passages: Iterable[Passage], doc_id: str, depth: int | None = None) -> int | None:
    """1-based rank of ``doc_id`` among the distinct articles of ``passages`` (first ``depth``).

    A passage stands for its article and the near-duplicate copies folded into it, so
    finding a verbatim copy of the gold article counts as finding it.
    """
    stories: dict[str, set[str]] = {}
    for p in passages:
        stories.setdefault(p.article_id, {p.article_id, *(c.article_id for c in p.copies)})
    for rank, ids in enumerate(list(stories.values())[:depth], start=1):
        if doc_id in ids:
            return rank
    return None


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class Summary:
    """The figures of one evaluation run."""

    questions: int
    answerable: int
    retrieval: dict[str, float] = field(default_factory=dict)
    answers: dict[str, float | None] = field(default_factory=dict)
    latency: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def summarise(results: Sequence[ItemResult]) -> Summary:
    """Recall@k and MRR over answerable questions; answer, abstention and citation figures.

    When the questions come in several languages, R@1, R@5, MRR and accuracy are also given
    per language (``R@1[en]``), so cross-lingual retrieval can be compared with monolingual.
    """
    answerable = [r for r in results if r.answerable]
    summary = Summary(questions=len(results), answerable=len(answerable))
    summary.retrieval = _retrieval_figures(answerable)
    asked = [r for r in results if r.found is not None]
    if asked:
        summary.answers = _answer_figures(asked)
    languages = sorted({r.lang for r in results})
    if len(languages) > 1:
        for lang in languages:
            figures = _retrieval_figures([r for r in answerable if r.lang == lang])
            for key in ("R@1", "R@5", "MRR"):
                summary.retrieval[f"{key}[{lang}]"] = figures[key]
            if asked:
                summary.answers[f"accuracy[{lang}]"] = _answer_figures([r for r in asked if r.lang == lang])[
                    "accuracy"
                ]
    retrieval_ms = [r.retrieval_ms for r in results]
    first = [r.first_token_s for r in asked if r.first_token_s is not None] if asked else []
    shown = [r.first_shown_s for r in asked if r.first_shown_s is not None] if asked else []
    total = [r.total_s for r in asked if r.total_s is not None] if asked else []
    for name, values in (
        ("retrieval_ms", retrieval_ms),
        ("first_token_s", first),
        ("first_shown_s", shown),
        ("total_s", total),
    ):
        for q in (50, 95):
            value = _pct(values, q)
            summary.latency[f"{name}_p{q}"] = None if value is None else round(value, 3)
    return summary


def _retrieval_figures(answerable: Sequence[ItemResult]) -> dict[str, float]:
    n = len(answerable) or 1
    figures = {
        f"R@{k}": round(sum(r.rank is not None and r.rank <= k for r in answerable) / n, 3) for k in RECALL_AT
    }
    figures["MRR"] = round(sum(1 / r.rank for r in answerable if r.rank) / n, 3)
    return figures


def _answer_figures(asked: Sequence[ItemResult]) -> dict[str, float | None]:
    ans = [r for r in asked if r.answerable]
    unans = [r for r in asked if not r.answerable]
    abstained = [r for r in asked if not r.found]
    cited = sum(r.citations for r in ans)
    shown = [r for r in asked if r.wrong_with_citation is not None]
    return {
        "shown": len(shown),
        "wrong_with_citation": _ratio(sum(bool(r.wrong_with_citation) for r in shown), len(shown)),
        "accuracy": _ratio(sum(bool(r.correct) for r in ans), len(ans)),
        "token_f1": round(sum(r.f1 or 0.0 for r in ans) / len(ans), 3) if ans else None,
        "answered_with_citation": _ratio(sum(r.citations > 0 for r in ans), len(ans)),
        "citation_precision": _ratio(sum(r.citations_with_answer for r in ans), cited),
        "abstention_recall": _ratio(sum(not r.found for r in unans), len(unans)),
        "abstention_precision": _ratio(sum(not r.answerable for r in abstained), len(abstained)),
    }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def render_table(summary: Summary, title: str) -> str:
    """A plain-text table of the figures."""
    rows: list[tuple[str, float | None]] = [
        ("questions", summary.questions),
        ("answerable", summary.answerable),
    ]
    rows += list(summary.retrieval.items()) + list(summary.answers.items()) + list(summary.latency.items())
    width = max(len(k) for k, _ in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{k:<{width}}  {'-' if v is None else v}" for k, v in rows]
    return "\n".join(lines)


def draw_chart(summary: Summary, title: str, path: Path) -> Path:
    """A bar chart of the quality figures (0..1) with latency in the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = {**summary.retrieval, **{k: v for k, v in summary.answers.items() if v is not None}}
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    bars = ax.bar(list(figures), list(figures.values()), color="#4C72B0")
    ax.bar_label(bars, fmt="%.2f", padding=2)
    ax.set_ylim(0, 1.1)
    ax.set_title(title)
    ax.tick_params(axis="x", rotation=30)
    lat = ", ".join(f"{k} {v}" for k, v in summary.latency.items() if v is not None)
    fig.text(0.01, 0.01, re.sub(r"(.{1,150})(, |$)", r"\1\n", lat).strip(), fontsize=7, color="#555")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path
