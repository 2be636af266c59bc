"""The real models end to end on the founding article (slow: the LLM runs on 2 CPU cores)."""

import pytest

from qa_bot.answer.prompt import NOT_FOUND_MESSAGES

pytestmark = pytest.mark.slow


def test_security_council_meeting_in_english(real_bot):
    answer = real_bot.ask("When does the UN Security Council meet?")
    assert answer.found is True
    assert answer.language == "en"
    text = answer.text
    # The guide's headline answer: the day written out from the publication date, and the
    # source's "setelah pukul 15.00 waktu setempat" kept as "after 15.00 local time".
    assert "Wednesday 30 October 2024" in text, text
    assert "after 15.00 local time [1]" in text, text
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


def test_first_token_probe_reports_refusal_probability(llm):
    """The in-process model reports how likely its first token was the refusal token."""
    from qa_bot.answer.prompt import NOT_FOUND_TOKEN, build_messages

    def probe(question: str) -> float:
        snippet = ["Sekretaris Jenderal NATO Mark Rutte mengatakan pasukan Korea Utara dikirim ke Kursk."]
        chunks = list(llm.stream(build_messages(question, snippet, "id"), watch_token=NOT_FOUND_TOKEN))
        assert all("first_token_p" not in c.response_metadata for c in chunks[1:])
        return chunks[0].response_metadata["first_token_p"]

    answerable, unanswerable = probe("Siapa Sekjen NATO?"), probe("Siapa presiden Prancis?")
    assert 0.0 <= answerable < 0.02 < unanswerable <= 1.0, (answerable, unanswerable)


@pytest.mark.parametrize(
    ("question", "passage", "threshold", "found"),
    [
        # Threshold 0 refuses even what the passage answers; threshold 1 makes the model answer.
        ("Siapa Sekretaris Jenderal NATO?", "Sekretaris Jenderal NATO Mark Rutte tiba di Seoul.", 0.0, False),
        ("Siapa Sekretaris Jenderal NATO?", "Sekretaris Jenderal NATO Mark Rutte tiba di Seoul.", 1.0, True),
    ],
)
def test_threshold_on_refusal_probability_decides(llm, question, passage, threshold, found):
    from qa_bot.answer.prompt import NOT_FOUND_TOKEN, build_messages, is_refusal

    messages = build_messages(question, [passage], "id")
    chunks = list(llm.stream(messages, watch_token=NOT_FOUND_TOKEN, force_above=threshold))
    text = "".join(c.content for c in chunks)
    assert is_refusal(text) is not found, text
    assert 0.0 <= chunks[0].response_metadata["first_token_p"] <= 1.0


def test_answer_reports_refusal_probability_and_threshold_applies(real_bot):
    question = "Siapa Sekretaris Jenderal NATO?"
    answer = real_bot.ask(question)
    assert answer.found is True and answer.refusal_p is not None and answer.refusal_p < 0.02
    strict = real_bot.settings.model_copy(update={"abstain_threshold": 0.0})
    refused = type(real_bot)(real_bot.retriever, real_bot.llm, strict).ask(question)
    assert (refused.found, refused.text, refused.citations) == (False, NOT_FOUND_MESSAGES["id"], ())
    assert refused.refusal_p == answer.refusal_p  # same prompt, same probability


def test_prompt_prefix_state_is_saved_once_and_loaded_after(real_bot, tmp_path):
    """A cold process loads the evaluated fixed prefix instead of re-reading it; the answer
    after a load is the same as after an evaluation."""
    from qa_bot.answer.prompt import build_messages

    messages = build_messages("?", ["-"], "en")
    assert real_bot.llm.prime(messages, tmp_path) == "evaluated"
    (saved,) = tmp_path.glob("prefix-*.npz")
    assert saved.stat().st_size < 50 << 20  # KV cache of the prefix, not vocabulary-sized logits
    evaluated = real_bot.ask("When does the UN Security Council meet?").text
    assert real_bot.llm.prime(messages, tmp_path) == "loaded"
    assert real_bot.ask("When does the UN Security Council meet?").text == evaluated
    saved.write_bytes(b"not a state")  # a broken file is evaluated again, not trusted
    assert real_bot.llm.prime(messages, tmp_path) == "evaluated"
