import pytest

from qa_bot.answer.check.citations import cited_sentences, parse_markers, strip_markers, supports
from qa_bot.answer.check.finalize import finalize
from qa_bot.answer.prompt import NOT_FOUND_MESSAGES
from qa_bot.answer.select import Snippet
from qa_bot.types import Passage


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("Rabu [1].", 3, [1]),
        ("A [2]. B [1].", 3, [2, 1]),
        ("A [1, 3]. B [3][2].", 3, [1, 3, 2]),
        ("A [0]. B [4]. C [2].", 3, [2]),
        ("A [ 2 ; 1 ].", 2, [2, 1]),
        ("No markers.", 3, []),
        ("A [1]. again [1].", 1, [1]),
        ("Not a citation [a] or [1.5].", 3, []),
    ],
)
def test_parse_markers_table(text, n, expected):
    assert parse_markers(text, n) == expected


def test_strip_markers_removes_markers_and_their_space():
    assert strip_markers("Rabu (30/10) [1][2]. Pukul 15.00 [3].") == "Rabu (30/10). Pukul 15.00."


def test_cited_sentences_attach_trailing_marker_to_previous_sentence():
    got = cited_sentences("Mark Rutte. [1] Dia dari Belanda [2].", 2)
    assert [(s.text, s.cited) for s in got] == [("Mark Rutte.", (1,)), ("Dia dari Belanda.", (2,))]


MEETING = "Pertemuan tersebut akan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat."


@pytest.mark.parametrize(
    ("sentence", "passage", "question", "expected"),
    [
        (
            "The UN Security Council meets on Wednesday 30 October after 15.00 [1].",
            MEETING,
            "When does the UN Security Council meet?",
            True,
        ),
        ("It meets at 16.00 [1].", MEETING, "When does the UN Security Council meet?", False),
        ("The capital of France is Paris [1].", MEETING, "What is the capital of France?", False),
        (
            "Sekretaris Jenderal NATO adalah Mark Rutte [1].",
            "Sekretaris Jenderal NATO Mark Rutte mengatakan",
            "Siapa Sekretaris Jenderal NATO?",
            True,
        ),
        (
            "Sekretaris Jenderal NATO adalah Jens Stoltenberg [1].",
            "Sekretaris Jenderal NATO Mark Rutte mengatakan",
            "Siapa Sekretaris Jenderal NATO?",
            False,
        ),
        (
            "Ukraine asked for it.",
            "atas permintaan Ukraina, Dewan Keamanan PBB",
            "Who asked for the meeting?",
            True,
        ),
        ("They met in Turkey.", "perundingan pada April 2022 di Türkiye", "Where did they meet?", True),
        ("About 1,500 soldiers arrived.", "sekitar 1.500 pasukan khusus", "How many soldiers arrived?", True),
        ("The meeting is in 2024.", MEETING, "When is the meeting?", False),
        ("About 1.500 people came.", MEETING, "How many came?", False),  # 15.00 is a time, not 1,500
        ("It starts at 15:00.", MEETING, "When does it start?", True),
        # Scale words: an English answer writes out what the passage says in words.
        ("135,000 salmon died [1].", "sebanyak 135 ribu ekor ikan salmon mati", "How many died?", True),
        ("About $25 million [1].", "senilai 25 juta dolar AS", "How much was paid?", True),
        ("About 1.5 million people [1].", "sekitar 1,5 juta orang", "How many people?", True),
        ("136,000 salmon died [1].", "sebanyak 135 ribu ekor ikan salmon mati", "How many died?", False),
    ],
)
def test_supports_table(sentence, passage, question, expected):
    assert supports(sentence, passage, question) is expected


def test_supports_accepts_a_year_from_the_publication_date():
    assert supports("It meets on 30 October 2024.", MEETING, "When?", context="2024-10-29") is True


def _snippets(*texts: str) -> list[Snippet]:
    out = []
    for i, text in enumerate(texts):
        p = Passage(
            chunk_id=f"c{i}",
            text=f"Intro. {text}",
            article_id="a",
            title="T",
            source="S",
            url="",
            published="2024-10-29",
            chunk_index=i,
            start=0,
            end=len(text) + 7,
        )
        out.append(Snippet(p, 7, 7 + len(text), 0.5))
    return out


SNIPPETS = _snippets("Rutte menekankan bahwa NATO siap bekerja sama.", MEETING, "Sekitar 1.500 pasukan tiba.")


def test_finalize_renumbers_citations_in_order_of_appearance():
    answer = finalize(
        "The council meets on Wednesday (30/10) after 15.00 [2].",
        "When does the council meet?",
        SNIPPETS,
        "en",
    )
    assert answer.text == "The council meets on Wednesday 30 October 2024 after 15.00 local time [1]."
    assert [(c.number, c.chunk_id, c.quote) for c in answer.citations] == [(1, "c1", MEETING)]
    assert (
        answer.citations[0].text[answer.citations[0].quote_start : answer.citations[0].quote_end] == MEETING
    )
    assert answer.found is True


def test_finalize_quotes_the_sentence_of_a_two_sentence_snippet_that_says_it():
    text = "Tevez resmi bergabung dengan Shanghai Shenhua. Penyerang itu berusia 32 tahun."
    answer = finalize("Tevez berusia 32 tahun [1].", "Berapa usia Tevez?", _snippets(text), "id")
    citation = answer.citations[0]
    assert citation.quote == "Penyerang itu berusia 32 tahun."
    assert citation.text[citation.quote_start : citation.quote_end] == citation.quote


def test_finalize_gives_a_when_answer_the_time_the_passage_puts_after_its_day():
    answer = finalize(
        "The council meets on Wednesday (30/10) [2].", "When does the council meet?", SNIPPETS, "en"
    )
    assert answer.text == "The council meets on Wednesday 30 October 2024 after 15.00 local time [1]."
    # Not asked when: the day alone stays.
    answer = finalize("It was on Wednesday (30/10) [2].", "What happened on Wednesday?", SNIPPETS, "en")
    assert "15.00" not in answer.text


def test_finalize_moves_a_wrong_citation_to_the_supporting_snippet():
    answer = finalize("About 1.500 troops arrived [1].", "How many troops arrived?", SNIPPETS, "en")
    assert answer.text == "About 1,500 troops arrived [1]."
    assert [c.chunk_id for c in answer.citations] == ["c2"]


def test_finalize_drops_out_of_range_citation_and_cites_support():
    answer = finalize("About 1.500 troops arrived [7].", "How many troops arrived?", SNIPPETS, "en")
    assert answer.text == "About 1,500 troops arrived [1]."
    assert [c.chunk_id for c in answer.citations] == ["c2"]


def test_finalize_made_up_answer_becomes_not_found():
    answer = finalize("The capital of France is Paris [3].", "What is the capital of France?", SNIPPETS, "en")
    assert (answer.text, answer.citations, answer.found) == (NOT_FOUND_MESSAGES["en"], (), False)


def test_finalize_drops_unsupported_sentence_keeps_supported_one():
    answer = finalize(
        "Sekitar 1.500 pasukan tiba [3]. Mereka dipimpin Jenderal Kim [3].",
        "Berapa pasukan yang tiba?",
        SNIPPETS,
        "id",
    )
    assert answer.text == "Sekitar 1.500 pasukan tiba [1]."


@pytest.mark.parametrize("raw", ["NOT_FOUND", "not_found.", "", "The passages do not contain the answer."])
def test_finalize_refusals_become_not_found_in_question_language(raw):
    answer = finalize(raw, "Siapa pemenang Piala Dunia?", SNIPPETS, "id")
    assert (answer.text, answer.citations, answer.found) == (NOT_FOUND_MESSAGES["id"], (), False)


@pytest.mark.parametrize(
    "written, language, shown",
    [
        ("1, 500", "en", "About 1,500 troops arrived [1]."),
        ("1,500", "en", "About 1,500 troops arrived [1]."),
        ("1500", "en", "About 1,500 troops arrived [1]."),
        ("1500", "id", "About 1.500 troops arrived [1]."),
    ],
)
def test_finalize_writes_numbers_as_the_passage_does_in_the_answers_language(written, language, shown):
    """The passage's digits ("1.500"), in the forms of the answer's language (1,500 in English)."""
    answer = finalize(f"About {written} troops arrived [3].", "How many troops arrived?", SNIPPETS, language)
    assert answer.text == shown


@pytest.mark.parametrize(
    ("raw", "language", "expected"),
    [
        (
            "Pertemuan berlangsung Rabu (30/10) setelah pukul 15.00 [2].",
            "id",
            "Pertemuan berlangsung Rabu, 30 Oktober 2024 setelah pukul 15.00 waktu setempat [1].",
        ),
        (
            "The council meets on Wednesday (30/10) after 15.00 [2].",
            "en",
            "The council meets on Wednesday 30 October 2024 after 15.00 local time [1].",
        ),
    ],
)
def test_finalize_writes_dates_out_from_publication_date_and_quote_keeps_source_wording(
    raw, language, expected
):
    answer = finalize(raw, "Kapan pertemuan?", SNIPPETS, language)
    assert answer.text == expected
    assert answer.citations[0].quote == MEETING


def test_finalize_leaves_dates_alone_without_publication_date():
    from dataclasses import replace

    undated = [replace(s, passage=replace(s.passage, published="")) for s in SNIPPETS]
    answer = finalize("The council meets on Wednesday (30/10) after 15.00 [2].", "When?", undated, "en")
    assert answer.text == "The council meets on Wednesday (30/10) after 15.00 local time [1]."


PASSAGE_TIME = "pertemuan tersebut akan berlangsung pada Rabu (30/10) setelah pukul 15.00 waktu setempat."


@pytest.mark.parametrize(
    ("sentence", "language", "expected"),
    [
        (
            "The council meets on Wednesday at 15.00.",
            "en",
            "The council meets on Wednesday after 15.00 local time.",
        ),
        ("The council meets at 15:00 local time.", "en", "The council meets after 15:00 local time."),
        (
            "It meets on Wednesday after 15.00 local time.",
            "en",
            "It meets on Wednesday after 15.00 local time.",
        ),
        ("DK PBB bertemu pada pukul 15.00.", "id", "DK PBB bertemu setelah pukul 15.00 waktu setempat."),
        (
            "DK PBB bertemu Rabu pukul 15.00 waktu setempat.",
            "id",
            "DK PBB bertemu Rabu setelah pukul 15.00 waktu setempat.",
        ),
        ("Pukul 15.00.", "id", "Setelah pukul 15.00 waktu setempat."),
        # a time the passage does not qualify, or does not have, is left alone
        ("It starts at 16.00.", "en", "It starts at 16.00."),
    ],
)
def test_time_qualifiers_follow_the_passage(sentence, language, expected):
    from qa_bot.answer.check.citations import restore_time_qualifiers

    assert restore_time_qualifiers(sentence, PASSAGE_TIME, language) == expected


def test_time_qualifiers_translate_each_word_and_zone():
    from qa_bot.answer.check.citations import restore_time_qualifiers

    passage = "Peresmian berlangsung sekitar pukul 09.30 WIB dan ditutup hingga pukul 17.00."
    assert (
        restore_time_qualifiers("It opened at 09.30 and closed at 17.00.", passage, "en")
        == "It opened around 09.30 WIB and closed at 17.00."
    )
    assert (
        restore_time_qualifiers("The meeting is at 15.00.", "Rapat pukul 15.00.", "en")
        == "The meeting is at 15.00."
    )
