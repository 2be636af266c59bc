"""Names and numbers written the way the answer's language writes them.

The model copies forms from the Indonesian passages it cites, and the citation check then
restores numbers as the cited passage writes them, so an English answer says "Ukraina",
"3.000 soldiers" (three, to an English reader) and "4,75%". :func:`localize` is the last
rewrite of each answer sentence: it puts names and numbers into the forms of the answer's
language, and changes nothing else.

How a number is read (the separators decide, whatever the passage's language):

- a dot followed by exactly three digits, in groups after a first group of 1-3 digits that does
  not start with 0 ("3.000", "1.500.000"), is a thousands dot. Three digits are never minutes, so
  "pukul 10.000" is a thousands number too (a mistyped time cannot be repaired here). The cost:
  an English decimal with three places ("2.125") reads as Indonesian thousands and is left so;
- a lone dot followed by two digits that reads as hh.mm (hour 0-23, minutes 0-59: "15.00",
  "09.30", "2.50") is a time and is never rewritten, except in an Indonesian answer where a
  currency stands before it or "%" or a unit word after it ("US$2.50", "2.50%" -> "2,50");
  any other lone dot ("2.5", "4.75", "36.60") is an English decimal point;
- a comma followed by groups of exactly three digits after a first group of 1-3 digits that
  does not start with 0 ("3,000", "1,500,000") is a thousands comma (so a rare Indonesian
  "1,250" with three decimals reads as 1250); any other lone comma between digits ("4,75",
  "2,5", "0,500", "12345,6") is a decimal comma;
- "1.234,5" is Indonesian and "1,234.5" English; any other mix ("1.2.3", "30.10.2024",
  "15.30.00", "1,2,3") is a version, date, time or list and is left alone.

Example:
    >>> localize("Ukraina asked the Dewan Keamanan PBB to meet after 15.00 [1].", "en")
    'Ukraine asked the UN Security Council to meet after 15.00 [1].'
    >>> localize("At least 3.000 North Korean soldiers; the BI Rate fell to 4,75% [2][3].", "en")
    'At least 3,000 North Korean soldiers; the BI Rate fell to 4.75% [2][3].'
    >>> localize("Sekitar 3,000 tentara dan suku bunga 4.75% [1].", "id")
    'Sekitar 3.000 tentara dan suku bunga 4,75% [1].'
"""

from __future__ import annotations

import re

__all__ = ["NAMES_EN", "localize"]

# Foreign places and international bodies as Indonesian news writes them -> English. Only
# names that differ in English are listed (Israel, India, Lebanon, Denmark, Pyongyang, Seoul,
# Kyiv, Beijing, Gaza, NATO ... are spelled the same). Matched whole-word, case-sensitive, longest
# first. Indonesian places, people and ministries are deliberately absent: an English answer
# names them as Indonesians do ("Kementerian Luar Negeri", "Jawa Barat"). Add entries here; the
# pattern is built from this dict when the module is imported.
NAMES_EN: dict[str, str] = {
    # Countries
    "Afganistan": "Afghanistan",
    "Afrika Selatan": "South Africa",
    "Aljazair": "Algeria",
    "Amerika Serikat": "United States",
    "AS": "US",
    "AS Terbuka": "US Open",
    "Arab Saudi": "Saudi Arabia",
    "Belanda": "Netherlands",
    "Belgia": "Belgium",
    "Brasil": "Brazil",
    "Britania Raya": "United Kingdom",
    "Ceko": "Czech Republic",
    "Republik Ceko": "Czech Republic",
    "Cile": "Chile",
    "Cina": "China",
    "Tiongkok": "China",
    "Republik Rakyat Tiongkok": "People's Republic of China",
    "Etiopia": "Ethiopia",
    "Filipina": "Philippines",
    "Finlandia": "Finland",
    "Hongaria": "Hungary",
    "Inggris": "Britain",
    "Kerajaan Inggris": "United Kingdom",
    "Liga Inggris": "English Premier League",
    "Liga Primer Inggris": "English Premier League",
    "bahasa Inggris": "English",
    "Bahasa Inggris": "English",
    "Irak": "Iraq",
    "Irlandia": "Ireland",
    "Irlandia Utara": "Northern Ireland",
    "Islandia": "Iceland",
    "Italia": "Italy",
    "Jepang": "Japan",
    "Jerman": "Germany",
    "Kamboja": "Cambodia",
    "Kanada": "Canada",
    "Katar": "Qatar",
    "Kirgistan": "Kyrgyzstan",
    "Kolombia": "Colombia",
    "Kongo": "Congo",
    "Korea Selatan": "South Korea",
    "Korsel": "South Korea",
    "Korea Utara": "North Korea",
    "Korut": "North Korea",
    "Kroasia": "Croatia",
    "Kuba": "Cuba",
    "Libia": "Libya",
    "Lituania": "Lithuania",
    "Luksemburg": "Luxembourg",
    "Maladewa": "Maldives",
    "Maroko": "Morocco",
    "Meksiko": "Mexico",
    "Mesir": "Egypt",
    "Norwegia": "Norway",
    "Palestina": "Palestine",
    "Pantai Gading": "Ivory Coast",
    "Papua Nugini": "Papua New Guinea",
    "Perancis": "France",
    "Prancis": "France",
    "Polandia": "Poland",
    "Rumania": "Romania",
    "Rusia": "Russia",
    "Selandia Baru": "New Zealand",
    "Singapura": "Singapore",
    "Siprus": "Cyprus",
    "Skotlandia": "Scotland",
    "Slowakia": "Slovakia",
    "Spanyol": "Spain",
    "Sudan Selatan": "South Sudan",
    "Suriah": "Syria",
    "Swedia": "Sweden",
    "Swiss": "Switzerland",
    "Timor Leste": "Timor-Leste",
    "Turki": "Turkey",
    "Ukraina": "Ukraine",
    "Uni Emirat Arab": "United Arab Emirates",
    "UEA": "UAE",
    "Vatikan": "Vatican",
    "Yaman": "Yemen",
    "Yordania": "Jordan",
    "Yunani": "Greece",
    # Nicknames Indonesian news uses for countries
    "Negeri Paman Sam": "United States",
    "Negeri Tirai Bambu": "China",
    "Negeri Sakura": "Japan",
    "Negeri Ginseng": "South Korea",
    "Negeri Beruang Merah": "Russia",
    # Cities
    "Brussel": "Brussels",
    "Damaskus": "Damascus",
    "Den Haag": "The Hague",
    "Jenewa": "Geneva",
    "Kairo": "Cairo",
    "Kiev": "Kyiv",
    "Kopenhagen": "Copenhagen",
    "Kota Meksiko": "Mexico City",
    "Lisabon": "Lisbon",
    "Makau": "Macau",
    "Moskow": "Moscow",
    "Moskwa": "Moscow",
    "Praha": "Prague",
    "Teheran": "Tehran",
    "Warsawa": "Warsaw",
    "Yerusalem": "Jerusalem",
    # Regions and waters
    "Afrika": "Africa",
    "Amerika": "America",
    "Amerika Latin": "Latin America",
    "Asia Pasifik": "Asia-Pacific",
    "Asia Tenggara": "Southeast Asia",
    "Eropa": "Europe",
    "Jalur Gaza": "Gaza Strip",
    "Kalifornia": "California",
    "Krimea": "Crimea",
    "Laut China Selatan": "South China Sea",
    "Laut Cina Selatan": "South China Sea",
    "Laut Hitam": "Black Sea",
    "Laut Merah": "Red Sea",
    "Selat Hormuz": "Strait of Hormuz",
    "Semenanjung Korea": "Korean Peninsula",
    "Tepi Barat": "West Bank",
    "Terusan Suez": "Suez Canal",
    "Timur Tengah": "Middle East",
    # International bodies
    "Perserikatan Bangsa-Bangsa": "United Nations",
    "Perserikatan Bangsa Bangsa": "United Nations",
    "PBB": "UN",
    "Dewan Keamanan Perserikatan Bangsa-Bangsa": "United Nations Security Council",
    "Majelis Umum Perserikatan Bangsa-Bangsa": "United Nations General Assembly",
    "Sekretaris Jenderal Perserikatan Bangsa-Bangsa": "United Nations Secretary-General",
    "Dewan Keamanan PBB": "UN Security Council",
    "DK PBB": "UN Security Council",
    "Dewan Keamanan": "Security Council",
    "Majelis Umum PBB": "UN General Assembly",
    "Sidang Umum PBB": "UN General Assembly",
    "Majelis Umum": "General Assembly",
    "Sekjen PBB": "UN Secretary-General",
    "Sekretaris Jenderal PBB": "UN Secretary-General",
    "Dewan HAM PBB": "UN Human Rights Council",
    "Uni Eropa": "European Union",
    "UE": "EU",
    "Komisi Eropa": "European Commission",
    "Parlemen Eropa": "European Parliament",
    "Bank Sentral Eropa": "European Central Bank",
    "Uni Afrika": "African Union",
    "Liga Arab": "Arab League",
    "Bank Dunia": "World Bank",
    "Dana Moneter Internasional": "International Monetary Fund",
    "Organisasi Kesehatan Dunia": "World Health Organization",
    "Organisasi Perdagangan Dunia": "World Trade Organization",
    "Badan Energi Atom Internasional": "International Atomic Energy Agency",
    "Mahkamah Internasional": "International Court of Justice",
    "Mahkamah Pidana Internasional": "International Criminal Court",
    "Gedung Putih": "White House",
    "Kongres AS": "US Congress",
    "Senat AS": "US Senate",
}

# Names that contain a table entry but are something else: a football club ("AS Roma" is no
# "US Roma") and the land and building tax PBB-P2. Matched like the table (longest first, so
# they win over "AS" and "PBB") and written back unchanged.
_KEEP_EN = ("AS Roma", "AS Monaco", "PBB-P2")

# Lone "PBB" is also Indonesia's land and building tax (Pajak Bumi dan Bangunan): in a sentence
# about a tax it stays PBB.
_TAX = re.compile(r"\b(?:[Tt]ax\w*|[Pp]ajak|NJOP|P2)\b")

# "Swiss" is English too, as an adjective ("Swiss franc", "Swiss-made"): it is the country only
# where no noun follows it. The words listed may follow the country ("in Swiss and ...").
_NOUN_FOLLOWS = re.compile(
    r"-[a-z]|[ \u00a0]+(?!(?:and|or|but|on|in|at|for|to|with|from|since|over|after|before|during"
    r"|last|this|next|was|is|has|had|have|will|would|said|says|dan|di|pada|yang)\b)[^\W\d_]"
)


def _alternation(phrases: list[str]) -> str:
    """A regex alternation, longest phrase first (the regex takes the first alternative that
    matches, so "Korea Utara" must come before any shorter entry it starts with); a space in a
    phrase matches any run of whitespace, since an answer may wrap inside a name."""
    ordered = sorted(phrases, key=len, reverse=True)
    return "|".join(r"\s+".join(re.escape(word) for word in p.split(" ")) for p in ordered)


# Whole words only: not inside a longer word ("Rusiawan", "ASEAN", "Ukrainanya": a suffix glued
# on makes an Indonesian word, left whole) nor in a hashtag or handle. A hyphen is a boundary,
# because compounds are common ("Rusia-Ukraina" -> "Russia-Ukraine"); so "Ukraina-nya", rare in
# an English answer, becomes "Ukraine-nya".
_NAME_EN = re.compile(rf"(?<![\w@#])(?:{_alternation([*NAMES_EN, *_KEEP_EN])})(?!\w)")

# Spans never rewritten: citation markers ("[1]", "[1, 2]"; the same shape as
# citations._MARKER), URLs, bare domains and e-mail addresses.
_PROTECTED = re.compile(
    r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]"
    r"|\b(?:https?://|ftp://|www\.)[^\s<>\[\]]+"
    r"|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b(?:[\w-]++\.)+(?:com|org|net|int|gov|edu|id|io|co|uk)\b(?:/[^\s<>\[\]]*)?"
)

# A number (with an optional range: "4,5-5,5%", "2.000-3.000"), then a unit word directly after it.
_NUM = r"\d+(?:[.,]\d+)*"
_UNITS_EN = {
    "ribu": "thousand",
    "juta": "million",
    "miliar": "billion",
    "milyar": "billion",
    "triliun": "trillion",
    "persen": "percent",
}
_UNITS_ID = {
    "thousand": "ribu",
    "million": "juta",
    "billion": "miliar",
    "trillion": "triliun",
    "percent": "persen",
    "per cent": "persen",
}


def _number_pattern(units: dict[str, str]) -> re.Pattern[str]:
    unit = _alternation(list(units)).replace(r"\s+", " ")
    return re.compile(
        rf"(?<!\d)(?P<num>{_NUM})(?:(?P<dash>[ \u00a0]?[-–][ \u00a0]?)(?P<num2>{_NUM}))?"
        rf"(?:(?P<gap>[ \u00a0]?)(?P<unit>{unit})(?!\w))?"
    )


_NUMBER_EN = _number_pattern(_UNITS_EN)
_NUMBER_ID = _number_pattern(_UNITS_ID)

# What stands just before a number: a currency (a money amount, so "Rp12.50" is no time), a
# version word or "v", or another letter (a code or version such as "A1.500", "v2.5"): numbers
# glued to letters other than a currency are left alone.
_BEFORE = re.compile(
    r"(?:(?P<currency>Rp|RM|IDR|USD|EUR|[A-Z]{0,2}\$|[€£¥])[ \u00a0]?"
    r"|(?P<version>[Vv]ersi(?:on)?[ \u00a0=:'\"]{0,2}|v)|(?P<letter>[^\W\d_]))$"
)
_PERCENT_SIGN = re.compile(r"[ \u00a0]?%")

_ID_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
_EN_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")
_ID_MIXED = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+,\d+")
_EN_MIXED = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+\.\d+")
_ONE_COMMA = re.compile(r"\d+,\d+")
_ONE_DOT = re.compile(r"\d+\.\d+")
_CLOCK = re.compile(r"(?:[01]?\d|2[0-3])\.[0-5]\d")
_SWAP = str.maketrans(".,", ",.")


def _english_number(number: str, from_indonesian: bool = False) -> str:
    """``number`` as English writes it; ``from_indonesian``: it is written as an Indonesian
    passage writes numbers, so a single comma is a decimal comma ("31,542 triliun").

    Example:
        >>> [_english_number(n) for n in ["1.500.000", "1.234,5", "0,5", "3,000", "15.00", "1.2.3"]]
        ['1,500,000', '1,234.5', '0.5', '3,000', '15.00', '1.2.3']
        >>> _english_number("31,542", from_indonesian=True)
        '31.542'
    """
    if _ID_THOUSANDS.fullmatch(number) or _ID_MIXED.fullmatch(number):
        return number.translate(_SWAP)
    if _ONE_COMMA.fullmatch(number) and (from_indonesian or not _EN_THOUSANDS.fullmatch(number)):
        return number.replace(",", ".")
    # Dots left now are times ("15.00"), English decimals ("2.5", "4.75") or dates and versions.
    return number


def _indonesian_number(number: str, amount: bool) -> str:
    """``number`` as Indonesian writes it; ``amount`` says the context makes it a quantity
    (a currency before it, "%" or a unit word after it), so "2.50" there is no time.

    Example:
        >>> [_indonesian_number(n, False) for n in ["1,500,000", "1,234.5", "1.5", "15.00", "3.000"]]
        ['1.500.000', '1.234,5', '1,5', '15.00', '3.000']
        >>> _indonesian_number("2.50", True)
        '2,50'
    """
    if _EN_THOUSANDS.fullmatch(number) or _EN_MIXED.fullmatch(number):
        return number.translate(_SWAP)
    # A dot and three digits is an Indonesian thousands dot, even here ("2.125" stays).
    if _ONE_DOT.fullmatch(number) and not _ID_THOUSANDS.fullmatch(number):
        if amount or not _CLOCK.fullmatch(number):
            return number.replace(".", ",")
    return number


def _glued(text: str, start: int) -> tuple[bool, bool]:
    """Whether the number at ``start`` is glued to a letter or version word (left alone) and
    whether a currency stands before it."""
    before = _BEFORE.search(text, max(0, start - 12), start)
    if before is None:
        return False, False
    return before["currency"] is None, before["currency"] is not None


def _to_english_numbers(m: re.Match[str], from_indonesian: bool = False) -> str:
    glued, _ = _glued(m.string, m.start())
    out = m["num"] if glued else _english_number(m["num"], from_indonesian)
    if m["num2"] is not None:
        out += m["dash"] + _english_number(m["num2"], from_indonesian)
    if m["unit"] is not None:
        out += m["gap"] + _UNITS_EN[m["unit"]]
    return out


def _to_indonesian_numbers(m: re.Match[str]) -> str:
    glued, currency = _glued(m.string, m.start())
    last = "num2" if m["num2"] is not None else "num"
    amount = currency or m["unit"] is not None or _PERCENT_SIGN.match(m.string, m.end(last)) is not None
    out = m["num"] if glued else _indonesian_number(m["num"], amount)
    if m["num2"] is not None:
        out += m["dash"] + _indonesian_number(m["num2"], amount)
    if m["unit"] is not None:
        out += m["gap"] + _UNITS_ID[" ".join(m["unit"].split())]
    return out


def _english_names(text: str, sentence: str) -> str:
    def rewrite(m: re.Match[str]) -> str:
        name = " ".join(m.group().split())
        if name == "PBB" and _TAX.search(sentence):
            return m.group()
        if name == "Swiss" and _NOUN_FOLLOWS.match(text, m.end()):
            return m.group()
        return NAMES_EN.get(name, m.group())

    return _NAME_EN.sub(rewrite, text)


def localize(sentence: str, language: str, written_as: str | None = None) -> str:
    """``sentence`` with its names and numbers in the forms of ``language``.

    For "en": Indonesian thousands dots and decimal commas become English ("3.000" -> "3,000",
    "4,75%" -> "4.75%", "1.234,5" -> "1,234.5"), the unit words juta, miliar/milyar, triliun,
    ribu and persen directly after a number become million, billion, trillion, thousand and
    percent, and the foreign names of :data:`NAMES_EN` become English. For "id": English
    thousands commas and decimal dots become Indonesian ("3,000" -> "3.000", "4.75%" -> "4,75%")
    and million, billion, trillion, thousand, percent after a number become juta, miliar,
    triliun, ribu, persen; names stay as they are. Any other ``language``: unchanged.

    Never changed: citation markers, URLs, domains and e-mail addresses, times ("15.00",
    "13.21 WIB", "15:00"), dates ("30/10", "28-29 Oktober", "30.10.2024"), years and other plain
    integers, lists and versions ("1.2.3", "v2.5", numbers glued to letters other than a
    currency), numbers already in the language's form, and every other character. Applying it
    twice gives what applying it once gives.

    Args:
        sentence: one answer sentence, citation markers included.
        language: "en" or "id".
        written_as: the language whose conventions its numbers follow, when known (the
            citation check writes numbers as the cited passage does): "id" makes a single
            comma a decimal comma ("Rp31,542 triliun" -> "Rp31.542 trillion"), where alone
            "31,542" would read as an English thousands comma and be kept.

    Returns:
        The rewritten sentence.

    Example:
        >>> localize("Korea Utara mengirim 1,5 juta peluru ke Rusia [1].", "en")
        'North Korea mengirim 1.5 million peluru ke Russia [1].'
        >>> localize("Anggaran US$1.5 billion, pukul 15.00 [2].", "id")
        'Anggaran US$1,5 miliar, pukul 15.00 [2].'
        >>> localize("Ukraina 3.000", "fr")
        'Ukraina 3.000'
    """
    if language == "en":
        from_indonesian = written_as == "id"
        numbers = _NUMBER_EN

        def rewrite_numbers(m: re.Match[str]) -> str:
            return _to_english_numbers(m, from_indonesian)

    elif language == "id":
        numbers, rewrite_numbers = _NUMBER_ID, _to_indonesian_numbers
    else:
        return sentence
    parts: list[str] = []
    start = 0
    # Rewrite only between protected spans; each span is copied as it is.
    for span in [*_PROTECTED.finditer(sentence), None]:
        end = span.start() if span else len(sentence)
        text = numbers.sub(rewrite_numbers, sentence[start:end])
        if language == "en":
            text = _english_names(text, sentence)
        parts.append(text)
        if span:
            parts.append(span.group())
            start = span.end()
    return "".join(parts)
