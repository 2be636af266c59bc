"""Time named by an event: "before the election", "setelah pelantikan", "menjelang Lebaran".

An event is no date, but the corpus usually says when it is: "Pilkada serentak digelar Rabu
(27/11)". The event's day is taken from the sentences of the best passages about it that
mention it and carry a date (resolved against each article's publication date); the day
most of them agree on wins. Only public, scheduled events are read this way (a small table
of words in both languages): "setelah bertemu Rutte" or "sebelum kejadian itu" are ordinary
questions, and narrowing them by a guessed day would hide the articles that answer them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from qa_bot.text import sentence_spans
from qa_bot.time.dates import published_day, resolve_dates
from qa_bot.types import Passage

# Event -> the words that name it (Indonesian and English); the first ones are searched for.
EVENTS: dict[str, tuple[str, ...]] = {
    "election": ("pemilu", "pilkada", "pilpres", "pemilihan umum", "pemilihan presiden", "pileg",
                 "pemungutan suara", "election", "elections", "polls"),
    "inauguration": ("pelantikan", "dilantik", "inauguration"),
    "eid": ("lebaran", "idulfitri", "idul fitri", "eid"),
    "christmas": ("natal", "christmas"),
    "new year": ("tahun baru", "new year"),
    "summit": ("ktt", "konferensi tingkat tinggi", "summit"),
    "ramadan": ("ramadan", "ramadhan", "bulan puasa"),
}  # fmt: skip
BEFORE = ("before", "sebelum", "menjelang", "jelang", "ahead of")
AFTER = ("after", "sesudah", "setelah", "pasca", "usai", "following")
SINCE = ("since", "sejak")

_WORD_TO_EVENT = {w: key for key, words in EVENTS.items() for w in words}
_WORDS = "|".join(sorted(map(re.escape, _WORD_TO_EVENT), key=len, reverse=True))
_BOUNDS = "|".join(sorted(map(re.escape, BEFORE + AFTER + SINCE), key=len, reverse=True))
_EVENT_BOUND = re.compile(
    rf"\b(?P<bound>{_BOUNDS})\s+(?:the\s+)?(?P<word>{_WORDS})\b(?:\s+(?P<year>(?:19|20)\d{{2}}))?", re.I
)


@dataclass(frozen=True)
class EventBound:
    """ "before the election": ``bound`` "before", ``event`` "election", ``phrase`` as asked."""

    bound: str  # "before", "after" or "since"
    event: str
    phrase: str
    year: int | None


def event_bound(question: str) -> EventBound | None:
    """The event a question bounds its time by, if it names a known one.

    Example:
        >>> event_bound("What did the KPU say before the election?")
        EventBound(bound='before', event='election', phrase='before the election', year=None)
        >>> event_bound("Apa kata Yoon setelah bertemu Rutte?") is None
        True
    """
    m = _EVENT_BOUND.search(question)
    if not m:
        return None
    word = m.group("bound").lower()
    bound = "before" if word in BEFORE else "after" if word in AFTER else "since"
    year = int(m.group("year")) if m.group("year") else None
    return EventBound(bound, _WORD_TO_EVENT[m.group("word").lower()], m.group(0), year)


class PassageSearch(Protocol):
    """What dating an event needs of a retriever: the best passages for a query."""

    def retrieve(self, query: str, k: int) -> list[Passage]: ...


def event_day(retriever: PassageSearch, event: EventBound, depth: int = 20) -> date | None:
    """The day the corpus gives for ``event``: most agreed on among dated sentences naming it
    in the best ``depth`` passages about it (better-ranked passages weigh more)."""
    words = EVENTS[event.event]
    query = " ".join(words[:3]) + (f" {event.year}" if event.year else "")
    mention = re.compile(rf"\b(?:{'|'.join(map(re.escape, words))})\b", re.I)
    votes: dict[date, float] = defaultdict(float)
    for rank, passage in enumerate(retriever.retrieve(query, depth)):
        published = published_day(passage.published)
        for start, end in sentence_spans(passage.text):
            sentence = passage.text[start:end]
            if not mention.search(sentence):
                continue
            for found in resolve_dates(sentence, published):
                if event.year is None or found.first.year == event.year:
                    votes[found.first] += 1.0 / (1 + rank)
    return max(votes, key=lambda d: (votes[d], d)) if votes else None


def event_range(event: EventBound, day: date) -> tuple[date | None, date | None]:
    """Publication dates that are before / after / since the event's ``day``."""
    if event.bound == "before":
        return None, day - timedelta(days=1)
    if event.bound == "after":
        return day + timedelta(days=1), None
    return day, None
