"""localize: names and numbers in the forms of the answer's language, and nothing else changed."""

import re

import pytest

from qa_bot.answer.check.forms import NAMES_EN, localize

EN_NUMBERS = [
    # Indonesian thousands dots
    ("at least 3.000 North Korean soldiers [1].", "at least 3,000 North Korean soldiers [1]."),
    ("1.500.000 doses", "1,500,000 doses"),
    ("a price of Rp13.500 [2][3]", "a price of Rp13,500 [2][3]"),
    ("US$1.250 per ton", "US$1,250 per ton"),
    ("the 10.000th visitor", "the 10,000th visitor"),
    # Three digits after a dot are never minutes: a thousands number even after "pukul".
    ("pukul 10.000", "pukul 10,000"),
    # Decimal commas
    ("the BI Rate fell to 4,75%.", "the BI Rate fell to 4.75%."),
    ("inflation of 2,5 % in October", "inflation of 2.5 % in October"),
    ("0,500 of a point", "0.500 of a point"),
    ("a value of 12345,678", "a value of 12345.678"),
    # Both separators
    ("spending of Rp3.621,3 triliun", "spending of Rp3,621.3 trillion"),
    ("1.234,5 tons", "1,234.5 tons"),
    # Unit words directly after a number
    ("2,5 juta people", "2.5 million people"),
    ("Rp 1,2 triliun [1]", "Rp 1.2 trillion [1]"),
    ("135 ribu ekor", "135 thousand ekor"),
    ("Rp7 miliar and Rp7 milyar", "Rp7 billion and Rp7 billion"),
    ("4,75 persen", "4.75 percent"),
    ("Rp1,2triliun", "Rp1.2trillion"),
    # Ranges: the range stays, each number in it is rewritten
    ("growth of 4,5-5,5%", "growth of 4.5-5.5%"),
    ("2.000–3.000 troops", "2,000–3,000 troops"),
    ("2,5-3 juta", "2.5-3 million"),
]

# Times and dates, left alone in both languages.
TIMES_AND_DATES = [
    "after 15.00 local time",
    "pukul 09.30 WIB",
    "at 13.21 WIB [1]",
    "from 15.00-17.00",
    "at 15:00",
    "at 23.59 or 00.00",
    "15.30.00",
    "on Wednesday (30/10)",
    "on 28-29 Oktober 2025",
    "in 2024",
    "on 30.10.2024",
    "2025-10-30",
    "the 2024/2025 season",
]

EN_UNCHANGED = TIMES_AND_DATES + [
    # Already English
    "3,000 soldiers",
    "1,500,000 doses",
    "1,234.5 tons",
    "4.75%",
    "2.5 million",
    "0.5 points",
    # Ranges of integers
    "3-4%",
    # Versions, codes, lists
    "version 1.2.3",
    "v2.5",
    "versi 1.500",
    "the A1.500 code",
    "1,2,3",
    "juta is not after a number",
    "ribuan orang",
    # Markers, URLs, domains, addresses
    "[1,2]",
    "[1, 2][3]",
    "[ 2 ; 1 ]",
    "see https://example.com/2024/10/1.500 now",
    "www.kompas.id/3.000",
    "antaranews.com/berita/4,75",
    "redaksi@3.000.co.id",
]

ID_NUMBERS = [
    # English thousands commas
    ("sekitar 3,000 tentara [1].", "sekitar 3.000 tentara [1]."),
    ("1,500,000 dosis", "1.500.000 dosis"),
    ("Rp13,500", "Rp13.500"),
    # English decimal dots
    ("suku bunga 4.75% [2][3]", "suku bunga 4,75% [2][3]"),
    ("1.5 million orang", "1,5 juta orang"),
    ("0.500 poin", "0,500 poin"),
    ("harga 36.60 per barel", "harga 36,60 per barel"),
    ("inflasi 2.5 persen", "inflasi 2,5 persen"),
    # Two digits after a dot that would read as a time are a number only where the context says so
    ("naik 2.50%", "naik 2,50%"),
    ("US$2.50 per liter", "US$2,50 per liter"),
    ("Rp 12.50 per unit", "Rp 12,50 per unit"),
    ("2.50 million", "2,50 juta"),
    # Both separators
    ("1,234.5 ton", "1.234,5 ton"),
    # Unit words
    ("US$1.5 billion", "US$1,5 miliar"),
    ("3 trillion", "3 triliun"),
    ("135 thousand", "135 ribu"),
    ("4.75 percent", "4,75 persen"),
    ("4.75 per cent", "4,75 persen"),
    # Ranges
    ("2.25-2.50%", "2,25-2,50%"),
    ("4.5-5.5 percent", "4,5-5,5 persen"),
    ("2,000-3,000 orang", "2.000-3.000 orang"),
]

ID_UNCHANGED = [
    # Times
    "pukul 15.00 WIB",
    "pukul 15:00",
    "setelah 15.00 waktu setempat",
    "13.21 WIB [1]",
    "pukul 2.50",
    "15.00-17.00",
    # Dates and years
    "Rabu (30/10)",
    "28-29 Oktober 2025",
    "tahun 2024",
    "30.10.2024",
    # Already Indonesian
    "3.000 tentara",
    "1.500.000 dosis",
    "4,75%",
    "1,5 juta",
    "1.234,5 ton",
    "Rp 1,2 triliun",
    # A dot and three digits is a thousands dot, even after an English source
    "2.125 orang",
    # Versions, lists, markers, URLs
    "versi 2.5",
    "version='2.0'",
    "v2.5",
    "1.2.3",
    "[1,2]",
    "[2][3]",
    "https://example.com/a/1,500",
    # Names stay in Indonesian answers, in either language's spelling
    "Ukraina dan Rusia, Korea Utara, PBB, AS",
    "Ukraine and Russia, UN, US",
]

EN_NAMES = [
    ("Ukraina asked the Security Council to meet [1].", "Ukraine asked the Security Council to meet [1]."),
    ("Ukraina meminta Dewan Keamanan PBB bersidang", "Ukraine meminta UN Security Council bersidang"),
    ("Korea Utara and Korut", "North Korea and North Korea"),
    ("Korea Selatan, Korsel", "South Korea, South Korea"),
    ("Amerika Serikat and AS [2]", "United States and US [2]"),
    ("the Rusia-Ukraina war", "the Russia-Ukraine war"),
    # A hyphen is a boundary: compounds are common, a hyphenated suffix rare
    ("Ukraina-nya", "Ukraine-nya"),
    ("AS-Tiongkok talks", "US-China talks"),
    ("Perserikatan Bangsa-Bangsa", "United Nations"),
    ("Majelis Umum PBB and Sekjen PBB", "UN General Assembly and UN Secretary-General"),
    ("Uni Eropa (UE)", "European Union (EU)"),
    ("in Den Haag", "in The Hague"),
    ("from Moskow to Kiev", "from Moscow to Kyiv"),
    ("Brussel, Jenewa", "Brussels, Geneva"),
    ("Inggris, Prancis, Perancis and Jerman", "Britain, France, France and Germany"),
    (
        "Selandia Baru, Filipina, Arab Saudi, Afrika Selatan",
        "New Zealand, Philippines, Saudi Arabia, South Africa",
    ),
    ("Korea\nUtara", "North Korea"),
    ("Korea Utara's missiles", "North Korea's missiles"),
    ("talks in Swiss.", "talks in Switzerland."),
    ("Swiss and Rusia [1]", "Switzerland and Russia [1]"),
    ("the PBB met", "the UN met"),
    (
        "Dewan Keamanan Perserikatan Bangsa-Bangsa (DK PBB)",
        "United Nations Security Council (UN Security Council)",
    ),
    ("won the AS Terbuka", "won the US Open"),
    ("in bahasa Inggris", "in English"),
]

EN_NAMES_UNCHANGED = [
    # Spelled the same in English
    "India, Israel, Lebanon, Denmark, Pyongyang, Seoul, Kyiv, Beijing",
    # Inside a longer word: a different word, or an Indonesian suffix glued on
    "Rusiawan",
    "ASEAN",
    "Ukrainanya",
    "PBBnya",
    # Not capitalised as a name
    "rusia",
    "as well as",
    # Indonesian places, people and ministries
    "Jawa Barat, Jakarta, Papua, Kementerian Luar Negeri, Bank Indonesia",
    # In a URL, a domain, a hashtag
    "https://www.antaranews.com/berita/Rusia-Ukraina",
    "see kompas.id/Ukraina",
    "#Ukraina",
    # Phrases that contain a table name but are something else
    "AS Roma",
    "AS Monaco",
    "tarif PBB-P2 naik",
    "the PBB tax in Pati",
    "the Swiss franc",
    "Swiss authorities",
    "Swiss-made",
]


@pytest.mark.parametrize(("sentence", "expected"), EN_NUMBERS)
def test_english_numbers(sentence, expected):
    assert localize(sentence, "en") == expected


@pytest.mark.parametrize("sentence", EN_UNCHANGED)
def test_english_leaves_alone(sentence):
    assert localize(sentence, "en") == sentence


@pytest.mark.parametrize(("sentence", "expected"), ID_NUMBERS)
def test_indonesian_numbers(sentence, expected):
    assert localize(sentence, "id") == expected


@pytest.mark.parametrize("sentence", ID_UNCHANGED + TIMES_AND_DATES)
def test_indonesian_leaves_alone(sentence):
    assert localize(sentence, "id") == sentence


@pytest.mark.parametrize(("sentence", "expected"), EN_NAMES)
def test_english_names(sentence, expected):
    assert localize(sentence, "en") == expected


@pytest.mark.parametrize("sentence", EN_NAMES_UNCHANGED)
def test_english_names_left_alone(sentence):
    assert localize(sentence, "en") == sentence


@pytest.mark.parametrize(("name", "english"), sorted(NAMES_EN.items()))
def test_every_table_entry(name, english):
    assert localize(f"Kata {name} [1].", "en") == f"Kata {english} [1]."
    assert localize(f"Kata {name} [1].", "id") == f"Kata {name} [1]."


def test_no_english_name_is_rewritten_again():
    # localize must be idempotent however the table grows: no English name holds an entry.
    for english in set(NAMES_EN.values()):
        assert localize(english, "en") == english


def test_names_and_numbers_together():
    sentence = "Korea Utara mengirim sedikitnya 3.000 tentara ke Rusia setelah pukul 15.00 [1][2]."
    assert localize(sentence, "en") == (
        "North Korea mengirim sedikitnya 3,000 tentara ke Russia setelah pukul 15.00 [1][2]."
    )


@pytest.mark.parametrize("language", ["", "EN", "fr", "ms"])
def test_other_languages_unchanged(language):
    sentence = "Ukraina 3.000, 4,75% [1]"
    assert localize(sentence, language) == sentence


ALL_SENTENCES = (
    [s for table in (EN_NUMBERS, ID_NUMBERS, EN_NAMES) for pair in table for s in pair]
    + EN_UNCHANGED
    + ID_UNCHANGED
    + EN_NAMES_UNCHANGED
)


@pytest.mark.parametrize("language", ["en", "id"])
def test_idempotent(language):
    for sentence in ALL_SENTENCES:
        once = localize(sentence, language)
        assert localize(once, language) == once, sentence


@pytest.mark.parametrize("language", ["en", "id"])
def test_markers_kept_exactly(language):
    marker = re.compile(r"\[[^\]]*\]")
    for sentence in ALL_SENTENCES:
        assert marker.findall(localize(sentence, language)) == marker.findall(sentence), sentence


@pytest.mark.parametrize(
    ("sentence", "written_as", "expected"),
    [
        # As the cited Indonesian passage writes it: one comma is a decimal comma.
        ("The stimulus costs Rp31,542 triliun [1].", "id", "The stimulus costs Rp31.542 trillion [1]."),
        ("About 1.500 troops [1].", "id", "About 1,500 troops [1]."),
        # Not known: "31,542" reads as an English thousands comma and stays.
        ("The stimulus costs Rp31,542 triliun [1].", None, "The stimulus costs Rp31,542 trillion [1]."),
    ],
)
def test_numbers_written_as_the_indonesian_passage_does(sentence, written_as, expected):
    assert localize(sentence, "en", written_as) == expected
