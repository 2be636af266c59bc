"""Follow-up questions: rewrite "And who asked for it?" into a standalone question.

Retrieval sees one question at a time, so a follow-up that leans on the conversation
("it", "itu", "dia") would search for nothing. The model rewrites it using the last turns;
questions that already stand alone are left as they are (no model call, no drift).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from qa_bot.answer.check.citations import strip_markers

# Words that point back into the conversation, in both languages.
_REFERRING = re.compile(
    r"\b(it|its|they|them|their|he|him|his|she|her|that|this|those|these|there|then|"
    r"itu|ini|tersebut|dia|ia|mereka|beliau|nya|sana|situ|kemudian|lalu)\b"
    r"|^\s*(and|but|also|what about|how about|dan|tapi|lalu|kalau|bagaimana dengan)\b"
    r"|\w+nya\b",
    re.IGNORECASE,
)

SYSTEM = (
    "Rewrite the user's last question so that it can be understood without the conversation: "
    "replace words like it, they, that, itu, tersebut, dia with what they refer to. Keep the "
    "language of the last question. Reply with the rewritten question only."
)

_EXAMPLE = (
    "Conversation:\nUser: Siapa Presiden Korea Selatan?\nAssistant: Yoon Suk Yeol [1].\n\n"
    "Last question: Kapan dia berbicara dengan Rutte?",
    "Kapan Presiden Korea Selatan Yoon Suk Yeol berbicara dengan Rutte?",
)


def needs_rewrite(question: str, history: Sequence[tuple[str, str]]) -> bool:
    """True when there is a conversation and the question refers back into it."""
    return bool(history) and bool(_REFERRING.search(question))


def condense_messages(question: str, history: Sequence[tuple[str, str]], turns: int = 2) -> list[BaseMessage]:
    """The prompt: a worked example, then the last ``turns`` exchanges and the question."""
    lines = []
    for user, assistant in list(history)[-turns:]:
        lines.append(f"User: {' '.join(user.split())}")
        # Only the answer's first paragraph: the sources under it would drown the prompt.
        short = strip_markers(assistant.split("\n\n")[0])
        lines.append(f"Assistant: {' '.join(short.split())[:300]}")
    prompt = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {' '.join(question.split())}"
    return [
        SystemMessage(content=SYSTEM),
        HumanMessage(content=_EXAMPLE[0]),
        AIMessage(content=_EXAMPLE[1]),
        HumanMessage(content=prompt),
    ]


def clean_rewrite(text: str, question: str) -> str:
    """The model's rewrite, or the original question when the rewrite is unusable."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    line = re.sub(r"^(rewritten question|question|pertanyaan)\s*:\s*", "", line, flags=re.IGNORECASE)
    line = line.strip().strip('"“”')
    if len(line) < 5 or len(line) > 4 * len(question) + 200:
        return question
    return line
