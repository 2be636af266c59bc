"""Whether an answer's value is the one its source gives the asked thing.

:func:`qa_bot.answer.check.citations.supports` asks whether a claim's words and numbers occur in the
cited snippet. On recent news that let wrong answers through behind real citations: "3,75%"
for the BI Rate from "BI Rate ... menjadi 4,75%, suku bunga Deposit Facility ... menjadi
3,75%"; "125" international visitors to Iceland from a sentence about BI's 125 basis
points; a year's social-protection total for the one stimulus line asked about. The checks
here read the role of what the claim states:

- **answer type**: a "berapa / how many" question needs a number in the claim, a "kapan /
  when" question a date or a time, a "siapa / who" question a name;
- **binding**: the clause of the snippet that states the claimed value must be about the
  asked thing at least as much as every other clause stating a value of the same kind (a
  percentage against percentages, rupiah against rupiah, a count of people against counts
  of people);
- **subject**: the sentence that states the value must be about what was asked: it, the
  sentence before it or the article's title holds enough of the question's subject words
  (not its time words, not the noun naming the kind of answer: "negara manakah"); across
  languages a word counts when its e5 single-word vector is close to the subject word's.

The first two are pure text; the third uses word vectors when given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa_bot.answer.check.citations import (
    canonical_number,
    numbers_in,
    same_word,
    strip_markers,
    supporting_span,
)
from qa_bot.text import detect_language, keyword_tokens, sentence_spans, stopwords

# Words of a question that say when or how it is asked, not what about: a value's own
# clause rarely repeats them ("Berapa BI Rate pada September 2025?").
_TIME_WORDS = frozenset(
    """
    januari februari maret april mei juni juli agustus september oktober november desember
    january february march may june july august october december jan feb mar apr jun jul
    agu agt aug sep sept okt oct nov des dec senin selasa rabu kamis jumat sabtu minggu
    monday tuesday wednesday thursday friday saturday sunday tahun bulan hari pekan year
    month day week date tanggal akhir awal end beginning start pertengahan mid kuartal
    quarter semester periode period sejak since hingga until sampai lalu last ago kini
    saat current currently
    """.split()
)
# Words that ask for a quantity without naming what is counted.
_GENERIC = frozenset(
    """
    jumlah total number amount banyak many much sebesar sebanyak nilai value figure berapa
    record recorded catat tercatat cost costs biaya how mana manakah dimana dimanakah
    """.split()
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
# Stopwords that tell two values of one article apart ("kamera belakang" 8MP, "di depan"
# 5MP): kept as subject words. ("lama", "baru", "old" are left out: "berapa lama", "how old".)
_CONTRAST = frozenset(
    """
    belakang depan atas bawah luar pertama kedua ketiga terakhir sebelumnya berikutnya
    front rear back first second third last previous next former minimum maximum
    """.split()
)


# The noun naming the kind of answer, not the subject: "negara manakah", "departemen apa",
# "siapa nama", "which country", "what ministry". The answer's sentence need not repeat it
# ("Delegasi Iran di IAEA" answers "Negara manakah yang diwakili ...").
_CATEGORY = re.compile(
    r"\b(\w+)\s+(?:apa|apakah|mana|manakah)\b|\b(?:which|what)\s+(\w+)|\b(nama|name)\b", re.I
)


def answer_category(question: str) -> set[str]:
    """The stems of the words that name the kind of answer asked for.

    Example:
        >>> sorted(answer_category("Negara manakah yang diwakili Javad Vaeidi?"))
        ['negara']
        >>> sorted(answer_category("Siapa nama menteri yang ditunjuk?")), answer_category("Which ministry?")
        (['nama'], {'ministry'})
    """
    found = set()
    for m in _CATEGORY.finditer(question):
        word = next(g for g in m.groups() if g)
        found.update(keyword_tokens(word) or [word.lower()])
    return found


def subject_terms(question: str) -> list[str]:
    """The question's keywords that name what it asks about (not when, not "how many", not
    the kind of answer).

    Example:
        >>> subject_terms("Berapa BI Rate setelah diturunkan pada September 2025?")
        ['rate', 'turun', 'bi']
        >>> subject_terms("Dimanakah sidang tahunan JMI diselenggarakan?")
        ['sidang', 'jmi', 'selenggara']
    """
    category = answer_category(question)
    terms = []
    for token in words(question):
        if (
            token in _TIME_WORDS
            or token in _GENERIC
            or token in category
            or _YEAR.match(token)
            or token in terms
        ):
            continue
        terms.append(token)
    return terms


_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")


def words(text: str) -> list[str]:
    """Keyword tokens plus the acronyms stopword lists drop ("BI", "AS", "DK").

    Example:
        >>> words("BI Rate diturunkan")
        ['rate', 'turun', 'bi']
    """
    tokens = keyword_tokens(text)
    extra = [a.lower() for a in _ACRONYM.findall(text)]
    extra += [w for w in re.findall(r"\w+", text.lower()) if w in _CONTRAST]
    return tokens + [w for w in dict.fromkeys(extra) if w not in tokens]


# --- answer type -----------------------------------------------------------------------

_ASKS_TIME = re.compile(
    r"\b(?:kapan|when|what time|what date|what year|which year|which day|tanggal berapa|"
    r"tahun berapa|pukul berapa|jam berapa|hari apa|bulan apa|sejak kapan|hingga kapan|sampai kapan)\b",
    re.I,
)
_ASKS_NUMBER = re.compile(
    r"\b(?:berapa|how many|how much|how old|how long|how far|how high|how big|what percentage|"
    r"what share|what is the number|what number|what was the number|what amount)\b",
    re.I,
)
_ASKS_NAME = re.compile(r"\b(?:siapa|siapakah|who|whom)\b", re.I)
_NUMBER_WORDS = re.compile(
    r"\b(?:nol|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|sepuluh|sebelas|"
    r"se?(?:puluh|ratus|ribu|juta)|puluhan|ratusan|ribuan|jutaan|belas|half|setengah|"
    r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|hundreds|thousand|thousands|million|millions|dozens?)\b",
    re.I,
)
_DATE_WORDS = re.compile(
    r"\b(?:" + "|".join(sorted(_TIME_WORDS - {"hingga", "until", "sampai", "saat", "kini"})) + r"|"
    r"kemarin|besok|lusa|yesterday|tomorrow|tonight|malam|pagi|siang|sore|morning|evening|"
    r"afternoon|night|today|hari ini)\b",
    re.I,
)


def asked_type(question: str) -> str:
    """ "time", "number", "name" or "" (anything else).

    Example:
        >>> asked_type("Kapan DK PBB bertemu?"), asked_type("How many troops?"), asked_type("Siapa dia?")
        ('time', 'number', 'name')
    """
    if _ASKS_TIME.search(question):
        return "time"
    if _ASKS_NUMBER.search(question):
        return "number"
    if _ASKS_NAME.search(question):
        return "name"
    return ""


def fits_type(claim: str, question: str) -> bool:
    """Whether the claim states the kind of thing asked for (a number, a date, a name).

    Example:
        >>> fits_type("The meeting is in New York [1].", "When is the meeting?")
        False
        >>> fits_type("Pertemuan pada Rabu (30/10) [1].", "Kapan pertemuannya?")
        True
    """
    kind = asked_type(question)
    claim = strip_markers(claim)
    if kind == "number":
        return bool(re.search(r"\d", claim) or _NUMBER_WORDS.search(claim))
    if kind == "time":
        return bool(re.search(r"\d", claim) or _DATE_WORDS.search(claim))
    if kind == "name":
        sw = stopwords()
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return any(
            w[0].isupper() and w.lower() not in asked and w.lower() not in sw["id"] | sw["en"]
            for w in re.findall(r"\w+", claim)
        )
    return True


def names_found(claim: str, question: str, source: str) -> bool:
    """Whether a name the claim gives beyond the question occurs in ``source``: the small
    model answers "who" with a name from its prompt's examples when the passage has none.

    Example:
        >>> names_found("Timnya dilatih Didiek Hartantyo [1].", "Siapa pelatih tim voli?", "Pelatih Mashudi")
        False
    """
    sw = stopwords()
    asked = {w.lower() for w in re.findall(r"\w+", question)}
    there = set(words(source)) | {w.lower() for w in re.findall(r"\w+", source)}
    names = [
        w.lower()
        for w in re.findall(r"\w+", strip_markers(claim))
        if w[0].isupper()
        and w.lower() not in asked
        and w.lower() not in sw["id"] | sw["en"]
        and not _DATE_WORDS.fullmatch(w)
    ]
    # Any of them: the model also writes words of its own ("Sekjen NATO adalah Mark Rutte").
    return not names or any(same_word(n, there) for n in names)


# --- binding ---------------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CURRENCY_BEFORE = re.compile(r"(?:Rp|IDR|US\$|USD|S\$|RM|\$|€|£|¥)\.?\s*$", re.I)
_SCALE_AFTER = re.compile(
    r"\s*(?:ribu|rb|juta|jt|miliar|milyar|triliun|thousand|million|billion|trillion)\b\.?", re.I
)
_UNIT_AFTER = re.compile(r"\s*(%|[A-Za-z]+(?:\s+(?:poin|points?))?)")
_UNITS = {
    "%": "percent",
    "persen": "percent",
    "percent": "percent",
    "basis poin": "bps",
    "basis point": "bps",
    "basis points": "bps",
    "bps": "bps",
    "rupiah": "money",
    "dolar": "money",
    "dollar": "money",
    "dollars": "money",
    "euro": "money",
    "yen": "money",
}
_MONTHS = _TIME_WORDS & {
    *"januari februari maret april mei juni juli agustus september oktober november desember".split(),
    *"january february march may june july august october december".split(),
}


@dataclass(frozen=True)
class Value:
    """A number in a text with what kind of quantity it is ("percent", "money", "bps",
    "date", "year", "time" or "count:<the word after it>")."""

    canonical: str
    kind: str
    start: int


def values_in(text: str) -> list[Value]:
    """The numbers of ``text`` with their kinds.

    Example:
        >>> [(v.canonical, v.kind) for v in values_in("BI Rate turun 25 basis poin menjadi 4,75%")]
        [('25', 'bps'), ('4.75', 'percent')]
        >>> [v.kind for v in values_in("Rp31,542 triliun untuk 35,04 juta keluarga pada 2025")]
        ['money', 'count:keluarga', 'year']
    """
    found = []
    for m in _NUMBER.finditer(text):
        raw = m.group()
        found.append(Value(canonical_number(raw), _kind(text, m), m.start()))
    return found


def _kind(text: str, m: re.Match) -> str:
    raw, before = m.group(), text[max(0, m.start() - 6) : m.start()]
    if _CURRENCY_BEFORE.search(before):
        return "money"
    if before.endswith("/") or text.startswith("/", m.end()):
        return "date"
    at = m.end()
    scale = _SCALE_AFTER.match(text, at)
    if scale:
        at = scale.end()
    unit = _UNIT_AFTER.match(text, at)
    word = unit.group(1).lower() if unit else ""
    if word in _UNITS:
        return _UNITS[word]
    if word.split()[0:1] and word.split()[0] in _UNITS:
        return _UNITS[word.split()[0]]
    if not scale and word in _MONTHS:
        return "date"
    if not scale and _YEAR.match(raw):
        return "year"
    if re.fullmatch(r"\d{1,2}[.:]\d{2}", raw) and re.search(r"(?:pukul|jam|at)\s*$", before, re.I):
        return "time"
    return f"count:{word.split()[0] if word else ''}"


# A clause ends at ", " (not a decimal comma), ";" or a conjunction joining two statements.
_CLAUSE_BREAK = re.compile(
    r",\s+|;\s*|:\s+|\s+(?:dan|serta|sedangkan|sementara|while|whereas|and)\s+(?=\S)", re.I
)
# A clause that only continues the one before ("..., menjadi 4,75%"): about the same thing.
_CONTINUES = re.compile(
    r"^(?:menjadi|sebesar|sebanyak|yakni|yaitu|atau|yang|mencapai|hingga|sampai|dari|kemudian|"
    r"lalu|to|at|or|which|reaching|from|up|down|then|later|naik|turun)\b",
    re.I,
)


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Clauses of ``text`` as (start, end), sentence by sentence.

    Example:
        >>> t = "BI Rate turun menjadi 4,75%, suku bunga Deposit Facility menjadi 3,75%."
        >>> [t[a:b] for a, b in clause_spans(t)]
        ['BI Rate turun menjadi 4,75%', 'suku bunga Deposit Facility menjadi 3,75%.']
    """
    spans = []
    for start, end in sentence_spans(text):
        at = start
        for m in _CLAUSE_BREAK.finditer(text, start, end):
            if m.start() > at:
                spans.append((at, m.start()))
            at = m.end()
        if end > at:
            spans.append((at, end))
    return spans


def _compatible(a: str, b: str) -> bool:
    return a == b


def misbound(claim: str, snippet: str, question: str) -> bool:
    """Whether a value the claim states sits in a clause of ``snippet`` about something
    else, while another clause with a value of the same kind is more about the question.

    Example:
        >>> s = ("BI memutuskan menurunkan BI Rate menjadi 4,75%, suku bunga Deposit Facility "
        ...      "turun menjadi 3,75%.")
        >>> misbound("BI Rate adalah 3,75% [1].", s, "Berapa BI Rate setelah diturunkan?")
        True
        >>> misbound("BI Rate adalah 4,75% [1].", s, "Berapa BI Rate setelah diturunkan?")
        False
    """
    terms = subject_terms(question)
    if not terms:
        return False
    names = {t.stem for t in question_terms(question) if t.name}
    question_numbers = numbers_in(question)
    claimed = {v.canonical: v.kind for v in values_in(strip_markers(claim))}
    claimed = {c: k for c, k in claimed.items() if c not in question_numbers and k != "year"}
    if not claimed:
        return False
    clauses = clause_spans(snippet)
    scores: list[int] = []
    clause_values: list[list[Value]] = []
    clause_names: list[set[str]] = []
    for i, (a, b) in enumerate(clauses):
        tokens = set(words(snippet[a:b]))
        score = sum(same_word(t, tokens) for t in terms)
        clause_names.append({n for n in names if same_word(n, tokens)})
        if i and _CONTINUES.match(snippet[a:b]) and _same_sentence(snippet, clauses[i - 1][1], a):
            score = max(score, scores[-1])
        scores.append(score)
        clause_values.append(values_in(snippet[a:b]))
    for value, kind in claimed.items():
        own = [i for i, vs in enumerate(clause_values) if any(v.canonical == value for v in vs)]
        if not own:
            continue
        own_names = set().union(*(clause_names[i] for i in own))
        for i, vs in enumerate(clause_values):
            if i in own or not any(_rival(v, kind, claimed, question_numbers) for v in vs):
                continue
            # A rival clause about the asked thing more than the value's own, unless the own
            # one names something asked that the rival does not ("BPNT ... 18,2 juta KPM"
            # after "PKH tahap III ... 9,9 juta keluarga penerima manfaat").
            if scores[i] > max(scores[j] for j in own) and own_names <= clause_names[i]:
                return True
    return False


def _rival(v: Value, kind: str, claimed: dict[str, str], question_numbers: set[str]) -> bool:
    """A value of the claimed kind that neither the claim nor the question states."""
    return _compatible(v.kind, kind) and v.canonical not in claimed and v.canonical not in question_numbers


def _same_sentence(text: str, end: int, start: int) -> bool:
    return not re.search(r"[.!?\n]", text[end:start])


# --- subject ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectThresholds:
    """When the sentence stating a claim counts as being about the question.

    ``coverage``: the share of the question's subject words that the sentence, the one
    before it in the snippet or the article's title holds; ``content``: the same share of
    the subject words that are not names (what is asked of the named thing: "penjualan",
    "kapasitas baterai": a sentence about Indofood's profit names Indofood too);
    ``word_similarity``: the e5 cosine at which a word there counts as the subject word in
    the other language ("visitors" / "wisatawan" 0.94, "Iceland" / "Islandia" 0.95,
    against 0.87-0.89 for the nearest unrelated words of those sentences);
    ``content_crosslingual``: ``content`` for a question in another language than the
    snippet (word vectors find fewer of its words: "meet" / "rapat" 0.88).
    """

    coverage: float = 0.5
    content: float = 0.67
    word_similarity: float = 0.91
    content_crosslingual: float = 0.5


class WordVectors:
    """e5 vectors of single words, kept between questions (a question needs about a hundred,
    most of them seen before)."""

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], size: int = 20_000) -> None:
        self._encode = encode
        self._size = size
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        # Read through a local copy: another question's thread may clear the cache meanwhile.
        known = {w: self._cache[w] for w in words if w in self._cache}
        missing = list(dict.fromkeys(w for w in words if w not in known))
        if missing:
            if len(self._cache) + len(missing) > self._size:
                self._cache.clear()
            for word, vector in zip(
                missing, np.asarray(self._encode(missing), dtype=np.float32), strict=True
            ):
                known[word] = self._cache[word] = vector
        return np.stack([known[w] for w in words]) if words else np.zeros((0, 0), np.float32)


_RAW_WORD = re.compile(r"[^\W_]{2,}")


@dataclass(frozen=True)
class Term:
    """A subject word of the question: its stem, the word as asked, whether it is a name."""

    stem: str
    word: str
    name: bool


def question_terms(question: str) -> list[Term]:
    """The subject terms of ``question``; a capitalised word after the first, an acronym or
    a word with digits ("4A") is a name.

    Example:
        >>> [(t.word, t.name) for t in question_terms("Berapa kapasitas baterai Xiaomi Redmi 4A?")]
        [('kapasitas', False), ('baterai', False), ('xiaomi', True), ('redmi', True), ('4a', True)]
    """
    stems = subject_terms(question)
    found: dict[str, Term] = {}
    for i, m in enumerate(_RAW_WORD.finditer(question)):
        word = m.group()
        for stem in words(word):
            if stem in stems and stem not in found:
                name = (i > 0 and word[0].isupper()) or word.isupper() or any(c.isdigit() for c in word)
                found[stem] = Term(stem, word.lower(), name)
    return [found.get(s, Term(s, s, False)) for s in stems]


class ClaimCheck:
    """The role checks for one question, over the snippets the model read.

    ``word_vectors`` gives e5 vectors of single words (a :class:`WordVectors`); without it
    subject words count only where they occur as such (same language, shared names).
    """

    def __init__(
        self,
        question: str,
        snippets: Sequence[str],
        titles: Sequence[str] = (),
        word_vectors: Callable[[Sequence[str]], np.ndarray] | None = None,
        thresholds: SubjectThresholds = SubjectThresholds(),
    ) -> None:
        self.question = question
        self.terms = question_terms(question)
        self.snippets = list(snippets)
        self.titles = list(titles) or [""] * len(self.snippets)
        self.word_vectors = word_vectors
        self.thresholds = thresholds

    def passes(self, claim: str, index: int) -> bool:
        """Whether snippet ``index`` (0-based) backs ``claim`` in the role asked for."""
        return self.why_not(claim, index) == ""

    def why_not(self, claim: str, index: int) -> str:
        """Which check the claim fails ("type", "name", "binding", "subject"); "" if none."""
        if not fits_type(claim, self.question):
            return "type"
        snippet = self.snippets[index]
        if asked_type(self.question) == "name" and not names_found(claim, self.question, snippet):
            return "name"
        if misbound(claim, snippet, self.question):
            return "binding"
        overall, content = self.coverage(claim, index)
        t = self.thresholds
        across = detect_language(self.question) != detect_language(snippet)
        if overall < t.coverage or content < (t.content_crosslingual if across else t.content):
            return "subject"
        return ""

    def coverage(self, claim: str, index: int) -> tuple[float, float]:
        """The shares of all subject terms and of those not names found around the sentence
        of snippet ``index`` that states ``claim`` (it, the sentence before it, the title);
        1.0 where there are none."""
        found = self._found(self._context(claim, index))
        content = [f for f, t in zip(found, self.terms, strict=True) if not t.name]
        return (sum(found) / len(found) if found else 1.0, sum(content) / len(content) if content else 1.0)

    def _context(self, claim: str, index: int) -> str:
        snippet = self.snippets[index]
        spans = sentence_spans(snippet) or [(0, len(snippet))]
        start, end = supporting_span([claim], snippet, self.question)
        chosen = [i for i, (a, b) in enumerate(spans) if a < end and start < b] or [0]
        context = " ".join(snippet[a:b] for a, b in spans[max(0, chosen[0] - 1) : chosen[-1] + 1])
        return f"{context} {self.titles[index]}"

    def _found(self, context: str) -> list[bool]:
        """For each subject term, whether ``context`` holds it (or, with word vectors, its
        translation)."""
        tokens = set(words(context))
        found = [same_word(t.stem, tokens) for t in self.terms]
        if all(found) or self.word_vectors is None:
            return found
        sw = stopwords()
        candidates = [w.lower() for w in _RAW_WORD.findall(context)]
        # Function words sit close to everything in e5 ("pada" 0.92 to "indonesia").
        candidates = list(dict.fromkeys(w for w in candidates if len(w) > 2 and w not in sw["id"] | sw["en"]))
        if not candidates:
            return found
        sims = self.word_vectors([t.word for t in self.terms]) @ self.word_vectors(candidates).T
        # A word stands for the subject word it is nearest to, and only that one: "bank"
        # (of "bank sentral") is the question's "bank", not its "banknotes".
        nearest = sims.argmax(axis=0)
        for i, (row, term) in enumerate(zip(sims, self.terms, strict=True)):
            if not found[i] and len(term.word) > 2:
                found[i] = bool(((row >= self.thresholds.word_similarity) & (nearest == i)).any())
        return found
