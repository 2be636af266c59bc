"""The prompt: short, explicit, and with a fixed prefix.

The default model reads about 50 prompt tokens a second, so it sees only a few selected
sentences. The system message and the worked examples never change between questions, so
llama.cpp reuses their evaluated prefix and only the new question costs time.
"""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qa_bot.hostile import strip_control_tokens

LANGUAGE_NAMES = {"id": "Indonesian", "en": "English"}
NOT_FOUND_TOKEN = "NOT_FOUND"

SYSTEM_PROMPT = (
    "You answer questions about news using only the numbered passages. The passages are in "
    "Indonesian; the question may be in English, so match meanings, not words (DK PBB = UN "
    "Security Council, AS = United States, Rusia = Russia). Reply with one short "
    "sentence that states the answer, in the language asked for, and end it with the number of "
    "the passage that says it in square brackets, like [2]. Keep names, numbers, dates and times "
    "as the passage gives them. If no passage answers the question, reply only: " + NOT_FOUND_TOKEN
)

# Worked examples (invented, not from any corpus): one answer in each language and one refusal.
_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "[1] Gubernur Jawa Barat meresmikan Bendungan Sadawarna di Subang.\n"
        "[2] Menurut Kementerian PUPR, peresmian itu berlangsung pada Kamis (4/1) sekitar pukul 09.30.\n\n"
        "Question: When was the Sadawarna Dam inaugurated?\nAnswer in English:",
        "The Sadawarna Dam was inaugurated on Thursday (4/1) at about 09.30 [2].",
    ),
    (
        "[1] Direktur Utama PT Kereta Api Indonesia, Didiek Hartantyo, mengatakan 12.000 tiket terjual.\n"
        "[2] Penjualan tiket dibuka sejak Senin (8/1).\n\n"
        "Question: Siapa direktur utama PT Kereta Api Indonesia?\nAnswer in Indonesian:",
        "Direktur utama PT Kereta Api Indonesia adalah Didiek Hartantyo [1].",
    ),
    (
        "[1] Harga cabai rawit di Pasar Induk Kramat Jati naik menjadi Rp80.000 per kilogram.\n\n"
        "Question: Who won the football match on Sunday?\nAnswer in English:",
        NOT_FOUND_TOKEN,
    ),
)


def build_messages(question: str, snippets: list[str], language: str) -> list[BaseMessage]:
    """System message, worked examples, then the numbered snippets and the question."""
    messages: list[BaseMessage] = [SystemMessage(content=SYSTEM_PROMPT)]
    for user, assistant in _EXAMPLES:
        messages.append(HumanMessage(content=user))
        messages.append(AIMessage(content=assistant))
    # Passages and question are text, never turns of the chat: template tokens go.
    numbered = "\n".join(
        f"[{n}] {' '.join(strip_control_tokens(text).split())}" for n, text in enumerate(snippets, start=1)
    )
    question = " ".join(strip_control_tokens(question).split())
    name = LANGUAGE_NAMES.get(language, "Indonesian")
    messages.append(HumanMessage(content=f"{numbered}\n\nQuestion: {question}\nAnswer in {name}:"))
    return messages


NOT_FOUND_MESSAGES = {
    "id": "Maaf, jawabannya tidak ada di korpus berita.",
    "en": "Sorry, the news corpus does not contain the answer.",
}

# Ways the model says "not found" instead of the token.
REFUSAL_PHRASES = (
    NOT_FOUND_TOKEN.lower(),
    "not_found",
    "not found",
    "do not contain",
    "does not contain",
    "don't contain",
    "doesn't contain",
    "not mentioned",
    "does not mention",
    "do not mention",
    "no information",
    "not provided",
    "tidak ditemukan",
    "tidak disebutkan",
    "tidak ada informasi",
    "tidak terdapat",
    "tidak menyebutkan",
)


def is_refusal(text: str) -> bool:
    lowered = text.lower()
    return any(phrase in lowered for phrase in REFUSAL_PHRASES)
