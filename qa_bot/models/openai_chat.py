"""An OpenAI-compatible server (vLLM, llama.cpp's server, llama-cpp-python's, Ollama) that
decides refusals the way the in-process model does.

The bot refuses when the model's first-step probability of its refusal token exceeds a
threshold chosen on train questions, and otherwise bans that token so the model gives its
best answer (see :mod:`qa_bot.models.probe`). In-process this reads llama.cpp's logits. Over
HTTP it takes one extra one-token request with ``logprobs`` (the server re-uses the
evaluated prompt for the real request) and a ``logit_bias`` on the token's id, which the
server's tokenize endpoint gives. A server without logprobs (llama-cpp-python without
``--logits_all``, Ollama) or without a tokenize endpoint falls back to the model's own
greedy choice, logged once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import httpx
import openai
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI
from pydantic import PrivateAttr

from qa_bot.models.probe import ProbedStream

log = logging.getLogger(__name__)


class OpenAIChat(ProbedStream, ChatOpenAI):
    """``ChatOpenAI`` plus ``watch_token`` / ``force_above`` stream arguments, with the
    same meaning as :class:`qa_bot.models.llamacpp_chat.LlamaCppChat`'s."""

    _probe_works: bool | None = PrivateAttr(default=None)
    _tokens: dict[str, tuple[int, str] | None] = PrivateAttr(default_factory=dict)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        watch = kwargs.pop("watch_token", None)
        force_above = kwargs.pop("force_above", None)
        p = self._first_token_p(messages, watch) if watch else None
        if p is not None and force_above is not None:
            if p > force_above:
                # What the in-process model does after forcing the token: refuse.
                yield ChatGenerationChunk(
                    message=AIMessageChunk(content=watch, response_metadata={"first_token_p": p})
                )
                return
            token = self._token(watch)
            if token is not None:
                kwargs["logit_bias"] = {str(token[0]): -100}
        first = True
        for chunk in super()._stream(messages, stop, run_manager, **kwargs):
            if first and p is not None and chunk.message.content:
                chunk.message.response_metadata = {**chunk.message.response_metadata, "first_token_p": p}
                first = False
            yield chunk

    def _first_token_p(self, messages: list[BaseMessage], word: str) -> float | None:
        """The probability of ``word``'s first token at the first step, or None when the
        server cannot say (then the greedy choice decides)."""
        if self._probe_works is False:
            return None
        from langchain_openai.chat_models.base import _convert_message_to_dict

        try:
            reply = self.root_client.chat.completions.create(
                model=self.model_name,
                messages=[_convert_message_to_dict(m) for m in messages],
                max_tokens=1,
                temperature=0,
                logprobs=True,
                top_logprobs=20,
            )
            top = reply.choices[0].logprobs.content[0].top_logprobs
        except openai.APIConnectionError:  # timeouts included
            return None  # the server is unreachable now: the answer request will say so
        except Exception as exc:  # a server that refuses logprobs, or replies without them
            log.warning("the LLM server gives no logprobs (%s): its greedy choice decides refusals", exc)
            self._probe_works = False
            return None
        self._probe_works = True
        token = self._token(word)  # asked once the server has answered (the result is kept)
        text = token[1] if token is not None else None
        if text is None:
            # No tokenizer endpoint: the longest listed token that starts the word.
            starts = [t for t in top if t.token and word.startswith(t.token)]
            text = max(starts, key=lambda t: len(t.token)).token if starts else None
        return next((math.exp(t.logprob) for t in top if t.token == text), 0.0)

    def _token(self, word: str) -> tuple[int, str] | None:
        """(id, text) of ``word``'s first token from the server's tokenizer, or None."""
        if word not in self._tokens:
            self._tokens[word] = _tokenize_first(str(self.openai_api_base or ""), self.model_name, word)
        return self._tokens[word]


def _tokenize_first(base_url: str, model: str, word: str) -> tuple[int, str] | None:
    """Ask the server for the first token of ``word``: llama-cpp-python's ``/extras``
    endpoints, then vLLM's and llama.cpp server's ``/tokenize`` and ``/detokenize``."""
    root = base_url.rstrip("/").removesuffix("/v1")
    attempts = [
        ("/extras/tokenize", {"input": word}, "/extras/detokenize", lambda i: {"tokens": [i]}, "text"),
        (
            "/tokenize",
            {"model": model, "prompt": word},
            "/detokenize",
            lambda i: {"model": model, "tokens": [i]},
            "prompt",
        ),
        ("/tokenize", {"content": word}, "/detokenize", lambda i: {"tokens": [i]}, "content"),
    ]
    with httpx.Client(timeout=10) as client:
        for tokenize, body, detokenize, detok_body, key in attempts:
            try:
                ids = client.post(root + tokenize, json=body).raise_for_status().json()["tokens"]
                first = int(ids[0]["id"] if isinstance(ids[0], dict) else ids[0])
                text = client.post(root + detokenize, json=detok_body(first)).raise_for_status().json()[key]
                return first, str(text)
            except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
                continue
    log.warning("the LLM server at %s has no tokenize endpoint: refusals cannot be banned", base_url)
    return None
