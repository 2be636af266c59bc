"""Question answering over Indonesian news with checked, numbered citations.

Example:
    >>> from qa_bot import ask
    >>> answer = ask("When does the UN Security Council meet?")   # doctest: +SKIP
    >>> answer.text, answer.citations[0].text                      # doctest: +SKIP
"""

from __future__ import annotations

import threading

from .bot import QABot
from .config import Settings, get_settings
from .types import Answer, Citation, Passage, SearchFilters

__all__ = ["Answer", "Citation", "Passage", "QABot", "SearchFilters", "Settings", "ask", "get_settings"]

_default_bot: QABot | None = None
_default_lock = threading.Lock()


def ask(question: str, filters: SearchFilters | None = None, k: int | None = None) -> Answer:
    """Answer with the default bot (settings from QA_BOT_* variables, models loaded once)."""
    global _default_bot
    with _default_lock:
        if _default_bot is None:
            _default_bot = QABot.from_settings(get_settings())
    return _default_bot.ask(question, filters=filters, k=k)
