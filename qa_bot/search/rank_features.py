"""Features of a retrieval candidate, and the small learned ranker that weighs them.

Retrieval gathers candidates from both sides (dense top-n and BM25 top-n). Each is described
by four numbers that need nothing beyond what retrieval already holds (the cosine, the BM25
score, the chunk's text), and a linear model turns them into the score candidates are sorted
by. The weights were fitted on the train questions of FacQA (news, 2,495) and TyDi QA
Indonesian (5,369) by ``benchmarks/train_ranker.py`` and are committed in
``qa_bot/search/ranker.json``; ``benchmarks/ranking/README.md`` has the measurements and what else
was tried.

The features of a candidate:

- ``cosine``: its dense similarity to the question (a candidate only BM25 returned gets the
  weakest dense score among the candidates, as in the hand fusion);
- ``keyword``: the hand fusion's keyword term, BM25 normalised by the best hit and scaled by
  how much BM25 can be trusted for this question (see :mod:`qa_bot.search.retrieval`); 0 for a
  candidate BM25 did not return;
- ``overlap``: the share of the question's keywords the chunk or its article's title
  contains (a count that BM25's saturation and length normalisation blur);
- ``type_fit``: for a question asking for a time, a number, a name or a place
  (:func:`answer_type`), the share of the question's keywords in the best sentence that also
  holds such a thing: a "berapa" question wants a figure next to its subject, not a passage
  that merely mentions the subject. 0 for other questions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa_bot.text import keyword_tokens, sentence_spans
from qa_bot.types import Passage

RANKER_PATH = Path(__file__).with_name("ranker.json")
FEATURES = ("cosine", "keyword", "overlap", "type_fit")

# Checked in this order: "tahun berapa" asks for a time, not a count.
_TIME_Q = re.compile(
    r"\b(kapan\w*|bilamana|tahun berapa|tanggal berapa|bulan apa|hari apa|jam berapa|pukul berapa|"
    r"abad ke ?berapa|sejak kapan|when|what year|which year|what date|what time|what day|what month)\b",
    re.IGNORECASE,
)
_NUMBER_Q = re.compile(
    r"\b(berapa\w*|how (?:many|much|old|long|far|tall|big|large|high)|jumlah)\b", re.IGNORECASE
)
_NAME_Q = re.compile(r"\b(siapa\w*|who|whom|whose)\b", re.IGNORECASE)
_PLACE_Q = re.compile(r"\b(di ?mana\w*|ke ?mana\w*|dari ?mana\w*|where)\b", re.IGNORECASE)

_MONTHS = (
    "januari februari maret april mei juni juli agustus september oktober november desember "
    "january february march may june july august october december "
    "jan feb mar apr jun jul agu agt ags aug sep sept okt oct nov des dec"
)
_DAYS = "senin selasa rabu kamis jumat sabtu minggu monday tuesday wednesday thursday friday saturday sunday"
_TIME_TEXT = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}[./:]\d{2}\b|\b\d{1,2}/\d{1,2}\b|\babad\b|\bpukul\b|"
    rf"\b({'|'.join(_MONTHS.split())}|{'|'.join(_DAYS.split())})\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    "satu dua tiga empat lima enam tujuh delapan sembilan sepuluh sebelas belas puluh ratus "
    "ribu juta miliar milyar triliun seratus seribu sejuta separuh setengah "
    "one two three four five six seven eight nine ten eleven twelve hundred thousand million billion"
)
_NUMBER_TEXT = re.compile(rf"\d|\b({'|'.join(_NUMBER_WORDS.split())})\b", re.IGNORECASE)
# A capitalised word after another word: a name, a place or an organisation (the first word
# of a sentence is capitalised whatever it is).
_CAPITAL_WORD = re.compile(r"(?<=[\w,;:()\"'] )[A-Z\u00C0-\u00DE][\w'-]+")


def answer_type(question: str) -> str:
    """What ``question`` asks for: "time", "number", "name", "place", or "" for anything else.

    Example:
        >>> [answer_type(q) for q in ("Tahun berapa PBB didirikan?", "Berapa jumlah korban?",
        ...                           "Siapa Sekjen NATO?", "Where is Kursk?", "Apa itu PBB?")]
        ['time', 'number', 'name', 'place', '']
    """
    for kind, pattern in (("time", _TIME_Q), ("number", _NUMBER_Q), ("name", _NAME_Q), ("place", _PLACE_Q)):
        if pattern.search(question):
            return kind
    return ""


def holds_type(sentence: str, kind: str, question_words: frozenset[str] = frozenset()) -> bool:
    """Whether ``sentence`` holds something of the ``kind`` :func:`answer_type` names (a
    name or a place must be one the question does not already say).

    Example:
        >>> holds_type("PBB didirikan pada 24 Oktober 1945.", "time")
        True
        >>> holds_type("Sekjen baru NATO tiba.", "name", frozenset({"nato"}))
        False
    """
    if kind == "time":
        return bool(_TIME_TEXT.search(sentence))
    if kind == "number":
        return bool(_NUMBER_TEXT.search(sentence))
    if kind in ("name", "place"):
        return any(w.lower() not in question_words for w in _CAPITAL_WORD.findall(sentence))
    return False


@dataclass(frozen=True)
class Question:
    """What the features need to know about a question, worked out once per question."""

    keywords: frozenset[str]
    words: frozenset[str]  # lower-case words as written (a name the question says is no answer)
    kind: str

    @classmethod
    def of(cls, question: str) -> Question:
        return cls(
            frozenset(keyword_tokens(question)),
            frozenset(re.findall(r"\w+", question.lower())),
            answer_type(question),
        )


def lexical_features(question: Question, text: str, title: str = "") -> dict[str, float]:
    """``overlap`` and ``type_fit`` of one chunk (see the module doc); the title counts for
    ``overlap`` as it does for BM25 (people ask with words from headlines).

    Example:
        >>> q = Question.of("Kapan PBB didirikan?")
        >>> lexical_features(q, "PBB adalah organisasi dunia. Ia didirikan pada 24 Oktober 1945.")
        {'overlap': 1.0, 'type_fit': 0.5}
    """
    n = len(question.keywords)
    if n == 0:
        return {"overlap": 0.0, "type_fit": 0.0}
    found: set[str] = set()
    type_fit = 0.0
    for sentence, tokens in sentences_with_tokens(text):
        shared = question.keywords.intersection(tokens)
        if not shared:
            continue
        found |= shared
        share = len(shared) / n
        if share > type_fit and question.kind and holds_type(sentence, question.kind, question.words):
            type_fit = share
    if title:
        found |= question.keywords.intersection(_title_tokens(title))
    return {"overlap": len(found) / n, "type_fit": type_fit}


@lru_cache(maxsize=4096)
def sentences_with_tokens(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The sentences of a chunk with their :func:`qa_bot.text.keyword_tokens`, cached: the
    same chunks come back for question after question on one corpus (splitting and stemming
    are most of the features' cost, ~0.1 ms a chunk)."""
    return tuple(
        (text[start:end], frozenset(keyword_tokens(text[start:end]))) for start, end in sentence_spans(text)
    )


@lru_cache(maxsize=1024)
def _title_tokens(title: str) -> frozenset[str]:
    return frozenset(keyword_tokens(title))


def candidate_features(
    question: Question, text: str, title: str, cosine: float, keyword: float
) -> dict[str, float]:
    """The features of one candidate, named as in :data:`FEATURES`."""
    return {"cosine": cosine, "keyword": keyword, **lexical_features(question, text, title)}


@dataclass(frozen=True)
class Candidate:
    """A passage retrieval may return, with its features (named as in :data:`FEATURES`)."""

    passage: Passage
    features: dict[str, float]


class RankerError(Exception):
    """The ranker file cannot be used (missing, not JSON, or naming unknown features)."""


@dataclass(frozen=True)
class Ranker:
    """A linear score over named features: ``sum(weight * feature)``.

    The weights are stored divided by the cosine's, so a score reads like a cosine plus
    bonuses (as the hand fusion's does), and thresholds that compare scores (the recency
    band of :meth:`qa_bot.search.retrieval.HybridRetriever.newest_first`) keep their scale.

    Example:
        >>> Ranker({"cosine": 1.0, "overlap": 0.5}).score({"cosine": 0.75, "overlap": 0.5})
        1.0
    """

    weights: dict[str, float]

    @classmethod
    def load(cls, path: Path = RANKER_PATH) -> Ranker:
        """The ranker saved by ``benchmarks/train_ranker.py train``.

        Raises:
            RankerError: the file is missing or damaged, or names a feature this version
                does not compute (reinstall, or retrain with that script).
        """
        try:
            weights = {
                str(k): float(v) for k, v in json.loads(Path(path).read_text("utf-8"))["weights"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RankerError(
                f"cannot read the ranker {path} ({exc}): reinstall qa-bot, or write it again with "
                "`python benchmarks/train_ranker.py train`"
            ) from exc
        unknown = sorted(set(weights) - set(FEATURES))
        if unknown:
            raise RankerError(
                f"the ranker {path} weighs features this version does not compute ({', '.join(unknown)}): "
                "write it again with `python benchmarks/train_ranker.py train`"
            )
        return cls(weights)

    def score(self, features: dict[str, float]) -> float:
        return sum(w * features[name] for name, w in self.weights.items())


@lru_cache(maxsize=1)
def default_ranker() -> Ranker:
    """The committed ranker (read once per process)."""
    return Ranker.load()
