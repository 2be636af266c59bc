import pytest

from qa_bot.text import detect_language, keyword_tokens, sentence_spans, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rutte tiba pukul 15.00. Dia bicara.", ["Rutte tiba pukul 15.00.", "Dia bicara."]),
        (
            "Pertemuan pada Rabu (30/10) setelah pukul 15.00 waktu setempat. Ukraina meminta.",
            ["Pertemuan pada Rabu (30/10) setelah pukul 15.00 waktu setempat.", "Ukraina meminta."],
        ),
        (
            "Sekitar 1.500 pasukan tiba. AS memastikan 3.000 tentara.",
            ["Sekitar 1.500 pasukan tiba.", "AS memastikan 3.000 tentara."],
        ),
        (
            "“Ini berbahaya,” kata Rutte. “Kami siap.” Dia pergi.",
            ["“Ini berbahaya,” kata Rutte.", "“Kami siap.”", "Dia pergi."],
        ),
        (
            "Dr. Budi dan Prof. Sari hadir. Jl. Sudirman ditutup.",
            ["Dr. Budi dan Prof. Sari hadir.", "Jl. Sudirman ditutup."],
        ),
        ("M. Yamin lahir di Sawahlunto. Ia penyair.", ["M. Yamin lahir di Sawahlunto.", "Ia penyair."]),
        (
            "Judul\n\nParagraf satu. dua tetap satu kalimat.",
            ["Judul", "Paragraf satu. dua tetap satu kalimat."],
        ),
        ("Apa? Ya! Baik.", ["Apa?", "Ya!", "Baik."]),
        ("", []),
    ],
)
def test_split_sentences_table(text, expected):
    assert split_sentences(text) == expected


def test_sentence_spans_are_offsets_into_the_text():
    text = "  Satu.  Dua.\n Tiga. "
    assert sentence_spans(text) == [(2, 7), (9, 13), (15, 20)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("When does the UN Security Council meet?", ["security", "council", "meet"]),
        ("Siapa Sekretaris Jenderal NATO?", ["sekretaris", "jenderal", "nato"]),
        ("Pertemuannya pada 30 Oktober 2024 pukul 3", ["temu", "30", "oktober", "2024"]),
    ],
)
def test_keyword_tokens_table(text, expected):
    assert keyword_tokens(text) == expected


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("When does the UN Security Council meet?", "en"),
        ("Siapa Sekretaris Jenderal NATO?", "id"),
        ("Kapan DK PBB bertemu?", "id"),
        ("Who is Mark Rutte?", "en"),
        ("Mark Rutte?", "id"),
    ],
)
def test_detect_language_table(question, language):
    assert detect_language(question) == language
