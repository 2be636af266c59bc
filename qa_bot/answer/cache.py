"""Recent answers, and one model run for a question many people ask at once.

The model answers one question at a time (about 3 s each on two cores), so when a story
breaks and twenty people ask the same thing, the twentieth would wait a minute for an
answer identical to the first: decoding is greedy and the store has not changed. Answers
are kept by question, filters, store generation and day (relative dates like "kemarin"
depend on it); an ingest that commits a new generation makes every earlier entry
unreachable. A question already being answered is waited for, not answered twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from qa_bot.types import Answer


class AnswerCache:
    """Least-recently-used answers plus the questions being answered right now."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._done: OrderedDict[Hashable, Answer] = OrderedDict()
        self._running: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def claim(self, key: Hashable, timeout: float = 600) -> Answer | None:
        """The stored answer for ``key``; or None, and then the caller must answer and
        :meth:`release` the key (a caller that finds the key being answered waits for it)."""
        while True:
            with self._lock:
                if key in self._done:
                    self._done.move_to_end(key)
                    return self._done[key]
                running = self._running.get(key)
                if running is None:
                    self._running[key] = threading.Event()
                    return None
            # Another thread answers it; if that fails, the next loop claims the key.
            running.wait(timeout)

    def release(self, key: Hashable, answer: Answer | None) -> None:
        """Store ``answer`` (None when answering failed) and wake those waiting for it."""
        with self._lock:
            if answer is not None and self.size > 0:
                self._done[key] = answer
                self._done.move_to_end(key)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)
            self._running.pop(key).set()
