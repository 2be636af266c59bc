"""Question answering over Indonesian news with checked, numbered citations.

Example:
    >>> from qa_bot import ask
    >>> answer = ask("When does the UN Security Council meet?")   # doctest: +SKIP
    >>> answer.text, answer.citations[0].text                      # doctest: +SKIP
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from qa_bot.config import Settings, get_settings
from qa_bot.types import Answer, Citation, Passage, SearchFilters

if TYPE_CHECKING:
    from qa_bot.answer.bot import QABot

__all__ = ["Answer", "Citation", "Passage", "QABot", "SearchFilters", "Settings", "ask", "get_settings"]

_default_bot: QABot | None = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> type[QABot]:
    # QABot pulls in langchain (~0.3 s): imported when first used, so `qa-bot --help` and
    # `qa-bot ingest`'s argument errors answer at once.
    if name == "QABot":
        from qa_bot.answer.bot import QABot

        return QABot
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ask(question: str, filters: SearchFilters | None = None, k: int | None = None) -> Answer:
    """Answer with the default bot (settings from QA_BOT_* variables, models loaded once)."""
    from qa_bot.answer.bot import QABot

    global _default_bot
    with _default_lock:
        if _default_bot is None:
            _default_bot = QABot.from_settings(get_settings())
    return _default_bot.ask(question, filters=filters, k=k)
