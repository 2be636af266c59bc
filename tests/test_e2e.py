"""The real models end to end on the founding article (slow: the LLM runs on 2 CPU cores)."""

import pytest

from qa_bot.prompt import NOT_FOUND_MESSAGES

pytestmark = pytest.mark.slow


def test_security_council_meeting_in_english(real_bot):
    answer = real_bot.ask("When does the UN Security Council meet?")
    assert answer.found is True
    assert answer.language == "en"
    text = answer.text
    assert "Wednesday" in text or "30/10" in text or "30 October" in text, text
    assert "15.00" in text or "15:00" in text or "3 p" in text, text
    assert "[1]" in text
    assert "Rabu (30/10) setelah pukul 15.00" in answer.citations[0].quote


def test_nato_secretary_general_in_indonesian(real_bot):
    answer = real_bot.ask("Siapa Sekretaris Jenderal NATO?")
    assert answer.found is True
    assert answer.language == "id"
    assert "Mark Rutte" in answer.text
    assert "[1]" in answer.text
    assert "Mark Rutte" in answer.citations[0].quote


@pytest.mark.parametrize(
    ("question", "language"),
    [("What is the capital of France?", "en"), ("Siapa pemenang Piala Dunia 2022?", "id")],
)
def test_question_outside_the_corpus_is_not_answered(real_bot, question, language):
    answer = real_bot.ask(question)
    assert (answer.text, answer.citations, answer.found) == (NOT_FOUND_MESSAGES[language], (), False)
