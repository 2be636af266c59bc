"""Citation markers: parsing [n], checking each cited passage supports its sentence, renumbering.

The small default model cites passages that do not say what it wrote, and answers
questions the corpus cannot answer ("Paris [3]"). The check here is lexical and strict
where it can be: every number in a sentence must occur in the cited passage, and at least
one piece of information the sentence adds beyond the question must be found there.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from qa_bot.text import keyword_tokens, sentence_spans, split_sentences

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def parse_markers(text: str, n_passages: int) -> list[int]:
    """Citation numbers in order of appearance (1-based, valid only), without repeats.

    Out-of-range numbers, including [0], are dropped and logged.

    Example:
        >>> parse_markers("Rabu [2]. Pukul 15.00 [1, 2][7].", 3)
        [2, 1]
    """
    seen: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part)
            if not 1 <= n <= n_passages:
                log.info("dropping citation [%d]: only %d passages were given", n, n_passages)
                continue
            if n not in seen:
                seen.append(n)
    return seen


def strip_markers(text: str) -> str:
    """The text without [n] markers (and the space before them)."""
    return re.sub(r"\s*" + _MARKER.pattern, "", text).strip()


@dataclass(frozen=True)
class CitedSentence:
    text: str  # without markers
    cited: tuple[int, ...]  # valid 1-based passage numbers


def cited_sentences(answer: str, n_passages: int) -> list[CitedSentence]:
    """Split an answer into sentences with the valid citations each carries.

    Markers that open a "sentence" (as in "... 15.00. [1] Next") belong to the one before.
    """
    out: list[CitedSentence] = []
    for sentence in split_sentences(answer):
        lead = _LEADING_MARKERS.match(sentence)
        if lead and out:
            prev = out[-1]
            extra = tuple(parse_markers(lead.group(), n_passages))
            out[-1] = CitedSentence(prev.text, tuple(dict.fromkeys(prev.cited + extra)))
            sentence = sentence[lead.end() :]
        text = strip_markers(sentence)
        if text.strip(" ."):
            out.append(CitedSentence(text, tuple(parse_markers(sentence, n_passages))))
    return out


_LEADING_MARKERS = re.compile(r"(?:\s*" + _MARKER.pattern + r")+")
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")


def canonical_number(number: str) -> str:
    """One spelling per value: thousands lose their separators (1.500 = 1,500 = 1500), a
    time or decimal uses a dot (15:00 = 15.00, 2,5 = 2.5), and leading zeros go."""
    if _THOUSANDS.fullmatch(number):
        number = re.sub(r"[.,]", "", number)
    else:
        number = re.sub(r"[,:]", ".", number)
    return number.lstrip("0") or "0"


# A number followed by a scale word also stands for its value: "135 ribu" is the 135,000
# an English answer gives, "25 juta" the "25 million".
_SCALE = re.compile(
    r"\s*(ribu|rb|thousand|juta|million|miliar|milyar|billion|triliun|trillion)\b", re.IGNORECASE
)
_SCALES = {"ribu": 3, "rb": 3, "thousand": 3, "juta": 6, "million": 6, "miliar": 9, "milyar": 9}
_SCALES |= {"billion": 9, "triliun": 12, "trillion": 12}


def numbers_in(text: str, with_parts: bool = False) -> set[str]:
    """Canonical numbers in ``text``; ``with_parts`` adds the pieces of times and dates
    (so a passage's "15.00" also backs a claim of "15").

    Example:
        >>> sorted(numbers_in("sebanyak 135 ribu ekor, 1,5 juta euro"))
        ['1.5', '135', '135000', '1500000']
    """
    found: set[str] = set()
    for m in _NUMBER.finditer(text):
        raw = m.group()
        found.add(canonical_number(raw))
        if with_parts:
            found.update(canonical_number(p) for p in re.split(r"[.,:]", raw) if p)
        scale = _SCALE.match(text, m.end())
        if scale:
            try:
                value = Decimal(canonical_number(raw)) * 10 ** _SCALES[scale.group(1).lower()]
            except InvalidOperation:  # "30.10.2024 juta" is no number
                continue
            found.add(str(value.quantize(1)) if value == value.to_integral() else str(value.normalize()))
    return found


_PERCENT_OR_MONEY = re.compile(
    r"(?:(?:Rp|US\$|\$|€|£)\s?(?P<amount>[\d.,]*\d)|(?P<share>[\d.,]*\d)\s?(?:%|persen\b|percent\b))",
    re.IGNORECASE,
)


def quantities_in(text: str) -> set[str]:
    """Canonical numbers written as a percentage or an amount of money.

    Example:
        >>> sorted(quantities_in("naik 9% menjadi Rp13.500, pada 30/10"))
        ['13500', '9']
    """
    return {canonical_number(m.group("amount") or m.group("share")) for m in _PERCENT_OR_MONEY.finditer(text)}


def _fold(token: str) -> str:
    """Accents dropped, and f and v read as p: Indonesian spells one word several ways
    ("propinsi" / "provinsi", "aktip" / "aktif")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))
    return plain.replace("f", "p").replace("v", "p")


def _nasal_variant(a: str, b: str) -> bool:
    """One stem is the other without its first letter: the stemmer leaves "menurunkan" as
    "urun" (meN- ate the t) but "diturunkan" as "turun"."""
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and len(long) == len(short) + 1 and long.endswith(short)


def same_word(token: str, vocabulary: set[str]) -> bool:
    """Exact match, or a name spelled the other language's way (Ukraine/Ukraina,
    Turkey/Türkiye, Korean/Korea): a shared prefix of at least 4 letters covering 60% of
    the shorter word and half the longer; or a stem the stemmer cut one letter short ("urun" for "turun")."""
    if token in vocabulary:
        return True
    token = _fold(token)
    for other in vocabulary:
        other = _fold(other)
        if _nasal_variant(token, other):
            return True
        if len(token) < 5:
            continue
        shared = len(os.path.commonprefix([token, other]))
        # Half the longer word too: "bank" is not "banknotes".
        if (
            shared >= 4
            and shared >= 0.6 * min(len(token), len(other))
            and shared >= 0.5 * max(len(token), len(other))
        ):
            return True
    return False


def supports(sentence: str, passage: str, question: str = "", context: str = "") -> bool:
    """Whether ``passage`` backs the claim in ``sentence`` (an answer to ``question``).

    Rules: every number the sentence states must appear in the passage (or the question,
    or ``context`` such as the publication date, which backs the day, month and year of a
    date written relative to it, never a percentage or an amount of money); and something
    the sentence adds beyond the question (a word or a number) must be found in the passage.

    Example:
        >>> supports("Pertemuan pada Rabu (30/10) pukul 15.00.", "pada Rabu (30/10) setelah pukul 15.00")
        True
        >>> supports("The capital is Paris.", "Rutte mengatakan NATO siap.", "What is the capital of France?")
        False
        >>> supports("Inflasi mencapai 9% [1].", "inflasi rendah", context="2025-09-17")
        False
    """
    sentence = strip_markers(sentence)
    passage_numbers = numbers_in(passage, with_parts=True)
    question_numbers = numbers_in(question, with_parts=True)
    claimed = numbers_in(sentence)
    if not claimed <= passage_numbers | question_numbers | numbers_in(context, with_parts=True):
        return False
    if not quantities_in(sentence) <= passage_numbers | question_numbers:
        return False  # "9%" is not backed by a publication date in September
    question_tokens = set(keyword_tokens(question))
    new_tokens = [t for t in keyword_tokens(sentence) if t not in question_tokens]
    passage_tokens = set(keyword_tokens(passage))
    if (claimed - question_numbers) & passage_numbers:
        return True
    return any(same_word(t, passage_tokens) for t in new_tokens if not t.isdigit())


def supporting_span(claims: list[str], text: str, question: str = "") -> tuple[int, int]:
    """The sentence of ``text`` that backs ``claims`` best, as (start, end) in ``text``;
    the whole text when no single sentence stands out (a snippet of two sentences is
    quoted by the one that says it).

    Example:
        >>> text = "Tevez pindah ke Shanghai Shenhua. Penyerang itu berusia 32 tahun."
        >>> start, end = supporting_span(["Tevez berusia 32 tahun [1]."], text, "Berapa usia Tevez?")
        >>> text[start:end]
        'Penyerang itu berusia 32 tahun.'
    """
    spans = sentence_spans(text)
    if len(spans) < 2:
        return 0, len(text)
    question_tokens = set(keyword_tokens(question))
    question_numbers = numbers_in(question)
    # What each claim adds beyond the question: its new words and numbers (read once).
    added = []
    for claim in map(strip_markers, claims):
        words = {t for t in keyword_tokens(claim) if t not in question_tokens and not t.isdigit()}
        added.append((words, numbers_in(claim) - question_numbers))
    scores = []
    for start, end in spans:
        sentence = text[start:end]
        tokens, numbers = set(keyword_tokens(sentence)), numbers_in(sentence, with_parts=True)
        scores.append(
            sum(sum(same_word(t, tokens) for t in words) + 2 * len(nums & numbers) for words, nums in added)
        )
    best = max(scores)
    if best == 0 or scores.count(best) > 1:
        return 0, len(text)
    return spans[scores.index(best)]


_BROKEN_THOUSANDS = re.compile(r"\b\d{1,3}(?:[.,] \d{3})+\b")


def restore_numbers(sentence: str, passage: str) -> str:
    """Write the sentence's numbers the way the passage does, where the values agree.

    Small models reformat numbers ("1.500" becomes "1,500" or "1, 500"); the passage's
    spelling is the one the reader can find in the citation.

    Example:
        >>> restore_numbers("About 1, 500 troops.", "sekitar 1.500 pasukan khusus")
        'About 1.500 troops.'
        >>> restore_numbers("Pukul 15:00.", "setelah pukul 15.00 waktu setempat")
        'Pukul 15.00.'
    """
    spelled: dict[str, str] = {}
    for m in _NUMBER.finditer(passage):
        spelled.setdefault(canonical_number(m.group()), m.group())

    def rewrite(m: re.Match) -> str:
        raw = m.group()
        if raw in passage:
            return raw
        return spelled.get(canonical_number(raw.replace(" ", "")), raw)

    sentence = _BROKEN_THOUSANDS.sub(rewrite, sentence)
    return _NUMBER.sub(rewrite, sentence)


# "setelah pukul 15.00 waktu setempat", "sekitar pukul 09.30 WIB": the qualifiers that
# change what "at 15.00" would say ("hingga"/"mulai" read too differently in context).
_QUALIFIED_TIME = re.compile(
    r"\b(?P<q>setelah|sesudah|sebelum|sekitar)\s+(?:pukul\s+)?"
    r"(?P<t>(?<![\d.,])\d{1,2}[.:]\d{2}(?!\d|[.,]\d))(?:\s+(?P<z>waktu\s+setempat|WIB|WITA|WIT))?",
    re.I,
)
_QUALIFIERS = {
    "en": {"setelah": "after", "sesudah": "after", "sebelum": "before", "sekitar": "around"},
}  # fmt: skip
_ZONES = {"en": {"waktu setempat": "local time"}}
# The time as the model wrote it, with the word before it that it may have put instead
# ("at 15.00", "pukul 15.00") and a zone after it that it may have kept.
_ANSWER_TIME = re.compile(
    r"(?:\b(?P<w>at|on|around|about|after|before|from|until|by|pukul|jam|pada|setelah|sesudah|"
    r"sebelum|sekitar|mulai|hingga|sampai)\s+)?(?:pukul\s+)?"
    r"(?P<t>(?<![\d.,])\d{1,2}[.:]\d{2}(?!\d|[.,]\d))"
    r"(?P<z>\s+(?:local\s+time|waktu\s+setempat|WIB|WITA|WIT))?",
    re.I,
)


def restore_time_qualifiers(sentence: str, passage: str, language: str) -> str:
    """Give a time in the answer the qualifier the passage gives it ("after", "around").

    The small model shortens "setelah pukul 15.00 waktu setempat" (after 15.00 local time)
    to "at 15.00", which changes what the source says. Only a time the passage qualifies
    is touched, and only with the passage's own qualifier and zone.

    Example:
        >>> passage = "pertemuan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat"
        >>> restore_time_qualifiers("The council meets on Wednesday at 15.00.", passage, "en")
        'The council meets on Wednesday after 15.00 local time.'
        >>> restore_time_qualifiers("Rapat pada pukul 15.00.", passage, "id")
        'Rapat setelah pukul 15.00 waktu setempat.'
    """
    qualified: dict[str, tuple[str, str | None]] = {}
    for m in _QUALIFIED_TIME.finditer(passage):
        qualified.setdefault(m.group("t").replace(":", "."), (m.group("q").lower(), m.group("z")))
    if not qualified:
        return sentence

    def rewrite(m: re.Match) -> str:
        time = m.group("t").replace(":", ".")
        if time not in qualified:
            return m.group()
        word, zone = qualified[time]
        if language == "en":
            word = _QUALIFIERS["en"][word]
            zone = _ZONES["en"].get(" ".join(zone.lower().split()), zone) if zone else None
            out = f"{word} {m.group('t')}"
        else:
            out = f"{word} pukul {m.group('t')}"
        if zone or m.group("z"):
            out += " " + (zone or m.group("z").strip())
        return out[0].upper() + out[1:] if m.start() == 0 else out

    return _ANSWER_TIME.sub(rewrite, sentence)


_ASKS_WHEN = re.compile(r"\b(?:kapan|when|what time|jam berapa|pukul berapa)\b", re.I)
# A day as news writes it, followed by its clock time: "Rabu (30/10) setelah pukul 15.00".
_DAY_THEN_TIME = re.compile(
    r"(?P<d>\(\d{1,2}/\d{1,2}(?:/\d{2,4})?\))\s+(?:(?:setelah|sesudah|sebelum|sekitar|mulai|pada)\s+)?"
    r"(?:pukul|jam)\s+(?P<t>\d{1,2}[.:]\d{2})(?!\d)",
    re.I,
)


def add_missing_time(sentence: str, passage: str, question: str, language: str) -> str:
    """Answer a "when" question with the day's clock time when the passage gives both and
    the answer kept only the day (the small model drops it about as often as it keeps it).

    Only a day the answer writes as the passage does ("(30/10)") gets the time the passage
    puts right after that day; :func:`restore_time_qualifiers` then adds its qualifier.

    Example:
        >>> passage = "pertemuan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat"
        >>> add_missing_time("It meets on Wednesday (30/10) [1].", passage, "When does it meet?", "en")
        'It meets on Wednesday (30/10) at 15.00 [1].'
    """
    if not _ASKS_WHEN.search(question) or _ANSWER_TIME.search(sentence):
        return sentence
    for m in _DAY_THEN_TIME.finditer(passage):
        at = sentence.find(m.group("d"))
        if at >= 0:
            end = at + len(m.group("d"))
            word = "at" if language == "en" else "pukul"
            return f"{sentence[:end]} {word} {m.group('t')}{sentence[end:]}"
    return sentence


def adds_information(sentence: str, question: str) -> bool:
    """Whether the sentence says anything beyond restating the question."""
    question_tokens = set(keyword_tokens(question))
    return any(t not in question_tokens for t in keyword_tokens(sentence))
