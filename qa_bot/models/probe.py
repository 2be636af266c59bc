"""The refusal probe: how a chat model lets a calibrated threshold decide whether to refuse.

Greedy decoding refuses whenever the refusal word is the single likeliest first token. A
model that implements :class:`RefusalProbe` instead measures that word's probability at the
first step (``first_token_p`` in the first chunk's ``response_metadata``) and refuses exactly
when it exceeds the threshold; below it, the refusal is banned and the model gives its best
answer, which the citation check then vets. In-process (:mod:`qa_bot.models.llamacpp_chat`,
:mod:`qa_bot.models.supervised_chat`) this reads llama.cpp's logits; over an
OpenAI-compatible server (:mod:`qa_bot.models.openai_chat`) the logprobs. Any other
LangChain chat model is streamed as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from langchain_core.messages import BaseMessage, BaseMessageChunk


@runtime_checkable
class RefusalProbe(Protocol):
    """A chat model whose stream a refusal threshold can decide."""

    def stream_probed(
        self, messages: Sequence[BaseMessage], refusal: str, threshold: float
    ) -> Iterator[BaseMessageChunk]:
        """Stream the reply: ``refusal`` when its first-step probability exceeds ``threshold``,
        else the likeliest reply that does not start with it."""
        ...


class ProbedStream:
    """:class:`RefusalProbe` for chat models whose ``stream`` takes ``watch_token`` and
    ``force_above`` (the three of this package)."""

    def stream_probed(
        self, messages: Sequence[BaseMessage], refusal: str, threshold: float
    ) -> Iterator[BaseMessageChunk]:
        stream: Any = self.stream  # type: ignore[attr-defined]  # the chat model's own stream
        return stream(list(messages), watch_token=refusal, force_above=threshold)
