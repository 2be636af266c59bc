"""The answer cache: bounded, shared by concurrent askers, and a failed answer is retried."""

import threading
import time

from qa_bot.answer.cache import AnswerCache
from qa_bot.types import Answer


def answer(text: str) -> Answer:
    return Answer(question="q", text=text, citations=(), found=True, language="id")


def test_least_recently_used_answers_are_dropped_beyond_the_size():
    cache = AnswerCache(size=2)
    for key in ("a", "b", "c"):
        assert cache.claim(key) is None
        cache.release(key, answer(key))
    assert cache.claim("b").text == "b" and cache.claim("c").text == "c"
    assert cache.claim("a") is None  # dropped: the caller must answer again
    cache.release("a", answer("a"))


def test_concurrent_askers_of_one_question_share_one_answer():
    cache = AnswerCache()
    runs, got = [], []

    def ask() -> None:
        cached = cache.claim("q")
        if cached is None:
            runs.append(1)
            time.sleep(0.2)  # the model at work
            cache.release("q", answer("shared"))
            got.append("shared")
        else:
            got.append(cached.text)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1 and got == ["shared"] * 20


def test_a_failed_answer_is_not_stored_and_a_waiter_answers_instead():
    cache = AnswerCache()
    assert cache.claim("q") is None
    result = []
    waiter = threading.Thread(target=lambda: result.append(cache.claim("q")))
    waiter.start()
    time.sleep(0.1)
    cache.release("q", None)  # the first asker failed
    waiter.join(timeout=5)
    assert result == [None]  # the waiter now holds the key and answers itself
    cache.release("q", answer("second try"))
    assert cache.claim("q").text == "second try"


def test_size_zero_stores_nothing():
    cache = AnswerCache(size=0)
    assert cache.claim("q") is None
    cache.release("q", answer("x"))
    assert cache.claim("q") is None
    cache.release("q", None)
