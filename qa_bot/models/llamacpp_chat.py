"""A LangChain chat model over llama-cpp-python, streaming, safe to share between threads."""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from qa_bot.models.probe import ProbedStream

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}


class LlamaCppChat(ProbedStream, BaseChatModel):
    """Runs a GGUF in-process. Greedy decoding: answers must be reproducible.

    Build with :meth:`load`; the llama.cpp context is not thread-safe, so every call holds a
    lock (concurrent callers queue rather than corrupt each other's state).
    """

    model_path: str
    max_tokens: int = 160
    temperature: float = 0.0
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @classmethod
    def load(
        cls,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 2,
        max_tokens: int = 160,
        prompt_cache_bytes: int = 0,
    ) -> LlamaCppChat:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ImportError(
                "llama-cpp-python is not installed: run `pip install llama-cpp-python==0.3.36` "
                "(it compiles, about 10 minutes), or set QA_BOT_LLM_BASE_URL to an OpenAI-compatible server"
            ) from exc
        chat = cls(model_path=str(path), max_tokens=max_tokens)
        chat._llama = Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512, verbose=False
        )
        if prompt_cache_bytes:
            from llama_cpp import LlamaRAMCache

            # Two prompt families alternate (answers, follow-up rewrites); the context keeps
            # only the last prompt, so without this cache each switch re-reads the prefix.
            # Off by default: saved states cost about 1 GB of RAM (measured).
            chat._llama.set_cache(LlamaRAMCache(capacity_bytes=prompt_cache_bytes))
        return chat

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-in-process"

    @staticmethod
    def system_info() -> str:
        """The CPU features the loaded llama.cpp build uses ("AVX2 = 1 | ... | AMX_INT8 = 0")."""
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode(errors="replace").strip()

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "max_tokens": self.max_tokens}

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict:
        return {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": m.content} for m in messages],
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": self.temperature,
            "stop": stop or [],
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            out = self._llama.create_chat_completion(**self._request(messages, stop, **kwargs))
        text = out["choices"][0]["message"].get("content") or ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Generator[ChatGenerationChunk, None, None]:
        """Stream the reply, optionally letting the first step's probability of a token decide.

        With ``watch_token="WORD"`` the first chunk's metadata carries ``first_token_p``, the
        probability the model gave WORD's first token at the first step. With ``force_above=t``
        as well, that token is forced when its probability exceeds ``t`` and banned otherwise,
        so a calibrated threshold, not the greedy argmax, decides between refusing and answering.
        """
        watch = kwargs.pop("watch_token", None)
        force_above = kwargs.pop("force_above", None)
        request = self._request(messages, stop, **kwargs)
        probe: dict[str, float] = {}
        with self._lock:
            if watch:
                decide = _FirstStep(self._token_id(watch), force_above, probe)
                request["logits_processor"] = [decide]
            first = True
            for part in self._llama.create_chat_completion(stream=True, **request):
                delta = part["choices"][0]["delta"].get("content")
                if not delta:
                    continue
                metadata = {"first_token_p": probe["p"]} if first and "p" in probe else {}
                first = False
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta, response_metadata=metadata))
                if run_manager:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk

    def prime(self, messages: list[BaseMessage], cache_dir: Path) -> str:
        """Have the context hold ``messages`` evaluated, so prompts sharing their prefix (the
        fixed system prompt and examples) skip it. The evaluated state is saved under
        ``cache_dir`` and loaded in milliseconds by later processes: a cold ``qa-bot ask``
        would otherwise spend ~5 s re-reading the same prefix at 50 tokens/s.

        Returns "loaded" or "evaluated".
        """
        import hashlib

        import llama_cpp

        model = Path(self.model_path)
        key = hashlib.sha256(
            repr(
                (
                    str(model.resolve()),
                    model.stat().st_size,
                    model.stat().st_mtime_ns,
                    self._llama.n_ctx(),
                    llama_cpp.__version__,
                    # Another build's kernels evaluate the prefix slightly differently.
                    self.system_info(),
                    [(m.type, m.content) for m in messages],
                )
            ).encode()
        ).hexdigest()[:24]
        path = Path(cache_dir) / f"prefix-{key}.npz"
        with self._lock:
            if path.is_file() and self._load_state(path):
                return "loaded"
        self.invoke(messages, max_tokens=1)
        with self._lock:
            self._save_state(path)
        return "evaluated"

    def _save_state(self, path: Path) -> None:
        llama = self._llama
        state = llama.save_state()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp.npz")
        # The logits rows (state.scores, ~0.6 MB per token) are not kept: the next prompt
        # evaluates at least its own question, which refreshes them.
        np.savez(
            tmp,
            input_ids=np.asarray(state.input_ids[: state.n_tokens], dtype=np.intc),
            llama_state=np.frombuffer(state.llama_state, dtype=np.uint8),
        )
        tmp.replace(path)

    def _load_state(self, path: Path) -> bool:
        """Restore a saved prefix; False (and the context untouched) if it does not fit.

        Mirrors ``Llama.load_state`` of llama-cpp-python 0.3.36 (pinned) without its copy of
        the logits rows, which would allocate a few hundred MB for nothing.
        """
        import ctypes

        import llama_cpp

        try:
            data = np.load(path)
            ids, raw = data["input_ids"], data["llama_state"].tobytes()
        except (OSError, ValueError, KeyError):
            return False
        llama = self._llama
        if len(ids) >= llama.n_ctx():
            return False
        buffer = (ctypes.c_uint8 * len(raw)).from_buffer_copy(raw)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buffer, len(raw)) != len(raw):
            llama.reset()
            return False
        input_ids = np.zeros((llama.n_ctx(),), dtype=np.intc)
        input_ids[: len(ids)] = ids
        llama.input_ids = input_ids
        llama.n_tokens = len(ids)
        llama._requires_eval = True  # restored logits are stale: decode before sampling
        return True

    def _token_id(self, word: str) -> int:
        return self._llama.tokenize(word.encode(), add_bos=False, special=False)[0]


class _FirstStep:
    """A llama.cpp logits processor for the first sampling step only.

    It records softmax(logits)[token_id] and, given ``force_above``, forces or bans that
    token. It reads the logits llama.cpp computes anyway, so it costs nothing; asking for
    logprobs instead would need ``logits_all`` (a vocabulary-sized row per context token).
    """

    def __init__(self, token_id: int, force_above: float | None, out: dict[str, float]) -> None:
        self.token_id, self.force_above, self.out = token_id, force_above, out

    def __call__(self, input_ids, scores):
        if "p" in self.out:
            return scores
        shifted = np.exp(scores - scores.max())
        p = float(shifted[self.token_id] / shifted.sum())
        self.out["p"] = p
        if self.force_above is None:
            return scores
        decided = scores.copy()
        if p > self.force_above:
            decided[:] = -np.inf
            decided[self.token_id] = 0.0
        else:
            decided[self.token_id] = -np.inf
        return decided
