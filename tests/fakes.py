"""Stand-ins for the models, so tests of retrieval, selection, checking and the bot run in
milliseconds. They never replace the real-model tests of the same features (those stay, and
run in CI): they make the logic around the models fast to test.

- :class:`WordEmbeddings`: a LangChain ``Embeddings`` with predictable geometry: a text's
  vector is the normalised sum of one fixed random unit vector per word (lower-cased, e5's
  "query: "/"passage: " prefixes ignored), so the cosine of two texts grows with the words
  they share and is ~0 for texts sharing none.
- :class:`ScriptedChat`: a LangChain chat model that answers from a script: for a question it
  knows, it finds the passage holding a given phrase and replies with the scripted sentence
  citing that passage's number; otherwise it refuses with the prompt's NOT_FOUND token. It
  streams word by word, as the real model streams tokens.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from qa_bot.answer.prompt import NOT_FOUND_TOKEN

DIMENSIONS = 256


def word_vector(word: str) -> np.ndarray:
    """The fixed random unit vector of one word (the same in every process)."""
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIMENSIONS)
    return v / np.linalg.norm(v)


class WordEmbeddings(Embeddings):
    """Bag-of-words vectors (see the module doc); ``calls`` counts texts embedded."""

    model_name = "fake-words-256"

    def __init__(self) -> None:
        self.calls = 0

    def _embed(self, text: str) -> list[float]:
        self.calls += 1
        text = re.sub(r"^(query|passage): ", "", text)
        words = re.findall(r"\w+", text.lower())
        if not words:
            return [0.0] * DIMENSIONS
        v = np.sum([word_vector(w) for w in words], axis=0)
        return (v / max(float(np.linalg.norm(v)), 1e-12)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


class ScriptedChat(BaseChatModel):
    """Replies from ``script``: question -> (phrase, reply). The reply's ``{n}`` becomes the
    number of the first passage holding ``phrase`` (case-insensitive); a question not in the
    script, or whose phrase no passage holds, gets NOT_FOUND. Other prompts (a follow-up's
    rewrite) get ``rewrites[question]`` or the question itself. ``prompts`` keeps what the
    model was shown."""

    script: dict[str, tuple[str, str]] = Field(default_factory=dict)
    rewrites: dict[str, str] = Field(default_factory=dict)
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _reply(self, messages: list[BaseMessage]) -> str:
        prompt = str(messages[-1].content)
        self.prompts.append(prompt)
        match = re.search(r"\nQuestion: (.*)\nAnswer in \w+:$", prompt)
        if match is None:
            for question, rewrite in self.rewrites.items():
                if question in prompt:
                    return rewrite
            return prompt.strip().splitlines()[-1]
        question = match.group(1)
        if question not in self.script:
            return NOT_FOUND_TOKEN
        phrase, reply = self.script[question]
        passages = re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.MULTILINE)
        for number, text in passages:
            if phrase.lower() in text.lower():
                return reply.replace("{n}", number)
        return NOT_FOUND_TOKEN

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._reply(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in re.findall(r"\S+\s*", self._reply(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


def fake_bot(settings, corpus, llm: ScriptedChat):
    """A bot over ``corpus`` (ingested into the store of ``settings``, which must be empty)
    with :class:`WordEmbeddings` and ``llm``."""
    from ingest.pipeline import ingest_path
    from qa_bot import QABot
    from qa_bot.models.embeddings import embedder_of

    embeddings = WordEmbeddings()
    report = ingest_path(corpus, settings, embedder=embedder_of(embeddings))
    assert report.added, report.render()
    return QABot.from_settings(settings, embeddings=embeddings, llm=llm)
