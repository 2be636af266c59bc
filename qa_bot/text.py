"""Text handling shared by ingest and answering: sentences, language, keyword tokens."""

from __future__ import annotations

import re
from functools import lru_cache

# Words that end with a period without ending a sentence (Indonesian and English news).
_ABBREVIATIONS = frozenset(
    """
    a.n bpk dll dsb dkk dr drs dra ds hj h ir jl jln kab kec kel kh kol letjen mayjen no
    nn ny pa prof sdr sdri st tbk tn u.p yth s.h s.e s.pd s.sos m.si m.m m.a m.h ph.d
    mr mrs ms jr sr vs etc e.g i.e inc ltd co corp gen gov lt col sgt rev approx fig
    jan feb mar apr jun jul agu agt ags sep sept okt oct nov des dec
    """.split()
)

# A candidate end: terminal punctuation, optional closing quotes/brackets, then space.
_END = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s)")
# What may start the next sentence: a capital, a digit or an opening quote/bracket.
_NEXT_START = re.compile(r"\s+[\"“‘'(\[]*[A-Z0-9\u00C0-\u00DE]")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?…]*$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentences, returned as (start, end) character offsets.

    Line breaks always end a sentence (news paragraphs); inside a line, a sentence ends at
    ``.``, ``!``, ``?`` or ``…`` followed by a capital, digit or opening quote, except after
    known abbreviations and single-letter initials. Whitespace is excluded from spans.

    Example:
        >>> t = "Rutte tiba pukul 15.00. Dia bicara."
        >>> [t[s:e] for s, e in sentence_spans(t)]
        ['Rutte tiba pukul 15.00.', 'Dia bicara.']
    """
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_start = line.start()
        body = line.group()
        start = 0
        for m in _END.finditer(body):
            end = m.end()
            if not _NEXT_START.match(body, end):
                continue
            if _is_abbreviation(body[start : m.start() + 1]):
                continue
            _add_span(spans, text, line_start + start, line_start + end)
            start = end
        _add_span(spans, text, line_start + start, line_start + len(body))
    return spans


def _is_abbreviation(before: str) -> bool:
    m = _WORD_BEFORE.search(before)
    if not m:
        return False
    word = m.group(1).rstrip(".").lower()
    if len(word) == 1 and word.isalpha():
        return True  # an initial, as in "M. Yamin"
    return word in _ABBREVIATIONS


def _add_span(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as strings (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]


_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def stopwords() -> dict[str, frozenset[str]]:
    """Indonesian and English stopwords (stopwords-iso), lower case."""
    import stopwordsiso

    return {
        "id": frozenset(stopwordsiso.stopwords("id")),
        "en": frozenset(stopwordsiso.stopwords("en")),
    }


@lru_cache(maxsize=1)
def _all_stopwords() -> frozenset[str]:
    sw = stopwords()
    # Question words matter to people but not to matching; they are stopwords here too.
    return sw["id"] | sw["en"]


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("indonesian")


def keyword_tokens(text: str) -> list[str]:
    """Tokens for keyword search: lower-cased words, stopwords of both languages removed,
    Indonesian Snowball stemming (which strips particles and affixes like -nya, -lah, me-, di-).

    Example:
        >>> keyword_tokens("Kapan pertemuannya? When does the Council meet?")
        ['temu', 'council', 'meet']
    """
    sw = _all_stopwords()
    words = [w for w in _WORD.findall(text.lower()) if _is_keyword(w, sw)]
    return _stemmer().stemWords(words)


def _is_keyword(word: str, sw: frozenset[str]) -> bool:
    if word.isdigit():
        # Dates, years and counts identify facts; single digits are noise.
        return len(word) >= 2
    return word not in sw


def detect_language(text: str) -> str:
    """'id' or 'en' by counting each language's function words; ties go to Indonesian,
    the language of the corpus.

    Example:
        >>> detect_language("Siapa Sekretaris Jenderal NATO?"), detect_language("Who leads NATO?")
        ('id', 'en')
    """
    words = _WORD.findall(text.lower())
    id_hits = sum(w in _ID_MARKERS for w in words)
    en_hits = sum(w in _EN_MARKERS for w in words)
    return "en" if en_hits > id_hits else "id"


# Short, unambiguous function words (stopword lists overlap too much between the two).
_ID_MARKERS = frozenset(
    """
    apa apakah siapa siapakah kapan dimana di mana berapa bagaimana mengapa kenapa yang dan
    dengan untuk dari ke pada dalam ini itu adalah akan telah sudah tidak bukan atau juga
    oleh karena saat tersebut para kata menurut bahwa ia dia mereka kami kita tahun bulan
    hari pukul sebagai antara seperti
    """.split()
)
_EN_MARKERS = frozenset(
    """
    what who whom whose when where which why how is are was were the a an of to in on for with
    does do did will would has have had by from that this these those it its and or not
    according about many much meet meeting said says
    """.split()
)
