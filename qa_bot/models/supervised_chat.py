"""The in-process answer model, run in a supervised worker process.

:class:`SupervisedLlamaChat` is the LangChain chat model the bot uses by default. It runs
:class:`qa_bot.models.llamacpp_chat.LlamaCppChat` in a child process (:mod:`qa_bot.models.llm_worker`)
and relays its stream. When the worker dies (segmentation fault, out-of-memory kill, any
signal), the question in flight gets :class:`AnswerModelCrashed` with what happened, a new
worker is started at once, and questions waiting for the model are answered by it: the
process that serves the chat never goes down with llama.cpp.

Cost: one pipe message per streamed piece (tens of microseconds) and one extra process;
the model's memory moves to the worker instead of being added.
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, messages_to_dict
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from qa_bot.models.common import ModelError
from qa_bot.models.probe import ProbedStream

log = logging.getLogger(__name__)

# What a worker may take to load the GGUF (1.4-3.7 s measured; slow disks and busy machines more).
LOAD_TIMEOUT_S = 180.0
# Why a signal ended the worker, in words a user can act on.
_SIGNALS = {
    signal.SIGSEGV: "a segmentation fault in llama.cpp",
    signal.SIGBUS: "a bus error in llama.cpp",
    signal.SIGILL: "an illegal instruction: the llama.cpp build uses CPU features this machine lacks",
    signal.SIGABRT: "llama.cpp aborted",
    signal.SIGFPE: "an arithmetic fault in llama.cpp",
    signal.SIGKILL: "it was killed (SIGKILL; the kernel's out-of-memory killer sends it too)",
    signal.SIGTERM: "it was terminated (SIGTERM)",
}


class AnswerModelCrashed(ModelError):
    """The answer model's worker died while answering; a new one is being started.

    ``reason`` says how it died ("SIGSEGV: a segmentation fault in llama.cpp").
    """

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The answer model stopped while answering ({reason}). It is being restarted: "
            "please ask again in a few seconds."
        )
        self.reason = reason


class AnswerModelCannotStart(ModelError):
    """A new worker died before it was ready (loading the model or reading its prompt
    prefix): a build that does not run here, or a GGUF llama.cpp cannot read.

    ``reason`` says how it died; ``when`` is "loading the model" or "reading its prompt prefix".
    """

    def __init__(self, reason: str, when: str) -> None:
        super().__init__(
            f"the answer model's worker died while {when} ({reason}); run `qa-bot setup` to check "
            "that the llama.cpp build runs on this machine"
        )
        self.reason, self.when = reason, when


class WorkerDied(Exception):
    """Internal: the worker's pipe closed or it stopped replying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_exit(returncode: int | None) -> str:
    """Why a worker process ended, from its return code.

    Example:
        >>> describe_exit(-11)
        'SIGSEGV: a segmentation fault in llama.cpp'
        >>> describe_exit(1)
        'it exited with code 1'
    """
    if returncode is None:
        return "it stopped replying"
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"it was ended by signal {-returncode}"
        return f"{sig.name}: {_SIGNALS.get(sig, 'it was ended by this signal')}"
    return f"it exited with code {returncode}"


class _Worker:
    """One worker process and its two pipe ends."""

    def __init__(self, config: dict, timeout: float) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "qa_bot.models.llm_worker", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C goes to the app, which ends the worker.
                start_new_session=True,
            )
        finally:
            # The child's ends live on in the child only: when it dies, reads here see EOF.
            os.close(to_child_r)
            os.close(from_child_w)
        self.requests = Connection(to_child_w, readable=False)
        self.replies = Connection(from_child_r, writable=False)
        try:
            self.send(config)
            ready = self.recv(timeout)
        except WorkerDied:
            _close(self.requests, self.replies)
            raise
        if not ready.get("ready"):
            self.stop()
            raise ModelError(f"the answer model could not be loaded ({ready.get('error')})")
        self.system_info: str = ready.get("system_info", "")
        self.load_s: float = ready.get("load_s", 0.0)
        # Closing the pipes ends the worker (it reads EOF) if this object is dropped unstopped.
        weakref.finalize(self, _close, self.requests, self.replies)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        try:
            self.requests.send(message)
        except OSError as exc:  # broken pipe: it died between two requests
            raise WorkerDied(self._death()) from exc

    def recv(self, timeout: float) -> dict:
        """The next message, or :class:`WorkerDied` (EOF, or nothing for ``timeout`` s)."""
        try:
            if not self.replies.poll(timeout):
                self.process.kill()
                self.process.wait()
                raise WorkerDied(f"it sent nothing for {timeout:.0f} s and was stopped")
            return self.replies.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(self._death()) from exc

    def _death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # the pipe broke but the process lingers
            self.process.kill()
            code = self.process.wait()
        return describe_exit(code)

    def stop(self) -> None:
        _close(self.requests, self.replies)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _close(*connections: Connection) -> None:
    for connection in connections:
        try:
            connection.close()
        except OSError:
            pass


class SupervisedLlamaChat(ProbedStream, BaseChatModel):
    """A GGUF answered by llama.cpp in a supervised worker process. Greedy decoding.

    Takes the same stream arguments as :class:`qa_bot.models.llamacpp_chat.LlamaCppChat`
    (``watch_token``, ``force_above``, ``max_tokens``) and the same :meth:`prime`. Calls are
    served one at a time (llama.cpp's context is not shared), so concurrent callers queue.

    Raises (from ``stream``/``invoke``):
        AnswerModelCrashed: the worker died while answering this call; the next call is
            answered by a new worker, started as soon as the old one died.
        ModelError: no worker can be started (the message says why).
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 2
    max_tokens: int = 160
    prompt_cache_bytes: int = 0
    # Longest wait for the next piece of an answer (the longest prompt takes ~80 s to read).
    reply_timeout: float = 300.0
    # Start a new worker as soon as one dies (False for one-off checks that end anyway).
    restart_on_crash: bool = True

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _worker: _Worker | None = PrivateAttr(default=None)
    _primed: tuple[list[dict], str] | None = PrivateAttr(default=None)
    _ids: Any = PrivateAttr(default_factory=itertools.count)
    _restarts: int = PrivateAttr(default=0)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-worker"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "max_tokens": self.max_tokens}

    # ---- the worker ---------------------------------------------------------------------
    def start(self) -> str:
        """Start the worker now (else the first call does); returns llama.cpp's system info."""
        with self._lock:
            return self._ensure().system_info

    def start_in_background(self) -> None:
        """Start the worker in a thread (the model loads while the caller does other work);
        a failure is logged here and raised by the first call."""
        threading.Thread(target=self._restart, name="qa-bot-llm-start", daemon=True).start()

    @property
    def worker_pid(self) -> int | None:
        """The worker's process id while one runs (for monitoring and tests)."""
        worker = self._worker
        return worker.pid if worker is not None and worker.alive() else None

    @property
    def restarts(self) -> int:
        """How many times a dead worker was replaced."""
        return self._restarts

    def close(self) -> None:
        """Stop the worker (a later call starts a new one)."""
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None

    def _ensure(self) -> _Worker:
        """The running worker, started (and primed again) if there is none. Holds the lock."""
        if self._worker is not None and self._worker.alive():
            return self._worker
        config = {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "max_tokens": self.max_tokens,
            "prompt_cache_bytes": self.prompt_cache_bytes,
        }
        try:
            worker = _Worker(config, LOAD_TIMEOUT_S)
        except WorkerDied as exc:
            raise AnswerModelCannotStart(exc.reason, "loading the model") from None
        if self._primed is not None:
            try:
                self._send_prime(worker, *self._primed)
            except WorkerDied as exc:
                # Not restarted from here: a model that dies on its prefix would die again.
                raise AnswerModelCannotStart(exc.reason, "reading its prompt prefix") from None
            except BaseException:
                worker.stop()
                raise
        self._worker = worker
        return worker

    def _lost(self, worker: _Worker, reason: str) -> None:
        """The worker died: forget it and start the next one now, in the background, so the
        callers waiting for the lock find it ready."""
        if self._worker is worker:
            self._worker = None
        if not self.restart_on_crash:
            return  # the caller reports it; nothing to log or restart
        log.error("the answer model's worker (pid %d) died: %s; starting a new one", worker.pid, reason)
        self._restarts += 1
        threading.Thread(target=self._restart, name="qa-bot-llm-restart", daemon=True).start()

    def _restart(self) -> None:
        try:
            with self._lock:
                self._ensure()
        except ModelError as exc:
            log.warning("starting the answer model failed (%s); the next question tries again", exc)

    # ---- calls --------------------------------------------------------------------------
    def prime(self, messages: list[BaseMessage], cache_dir: Path) -> str:
        """Have the worker hold ``messages`` evaluated (see ``LlamaCppChat.prime``); a new
        worker started after a crash is primed the same way before it answers."""
        with self._lock:
            worker = self._ensure()
            self._primed = (messages_to_dict(messages), str(cache_dir))
            try:
                return self._send_prime(worker, *self._primed)
            except WorkerDied as exc:
                self._lost(worker, exc.reason)
                raise AnswerModelCrashed(exc.reason) from None

    def _send_prime(self, worker: _Worker, messages: list[dict], cache_dir: str) -> str:
        """Prime ``worker``; "loaded" or "evaluated" (:class:`WorkerDied` if it dies)."""
        rid = next(self._ids)
        worker.send({"op": "prime", "id": rid, "messages": messages, "cache_dir": cache_dir})
        while True:
            reply = worker.recv(self.reply_timeout)
            if reply.get("id") != rid:
                continue
            if "error" in reply:
                raise ModelError(f"the answer model failed to read its prompt prefix ({reply['error']})")
            return str(reply.get("result", ""))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        with self._lock:
            worker = self._ensure()
            rid = next(self._ids)
            request = {"op": "stream", "id": rid, "messages": messages_to_dict(messages), "stop": stop}
            request["kwargs"] = kwargs
            finished = False
            try:
                worker.send(request)
                while True:
                    reply = worker.recv(self.reply_timeout)
                    if reply.get("id") != rid:
                        continue  # what a cancelled earlier call still sent
                    if "chunk" in reply:
                        chunk = ChatGenerationChunk(
                            message=AIMessageChunk(content=reply["chunk"], response_metadata=reply["meta"])
                        )
                        if run_manager:
                            run_manager.on_llm_new_token(reply["chunk"], chunk=chunk)
                        yield chunk
                        continue
                    finished = True
                    if "error" in reply:
                        raise ModelError(f"the answer model failed ({reply['error']})")
                    return
            except WorkerDied as exc:
                finished = True
                self._lost(worker, exc.reason)
                raise AnswerModelCrashed(exc.reason) from None
            finally:
                if not finished:  # the caller stopped reading: stop the worker's answer too
                    self._cancel(worker, rid)

    def _cancel(self, worker: _Worker, rid: int) -> None:
        """Tell the worker to stop answering ``rid`` and read what it still sends, so the
        next call starts clean (a few tokens at most). Holds the lock."""
        try:
            worker.send({"op": "cancel", "id": rid})
            deadline = time.monotonic() + self.reply_timeout
            while time.monotonic() < deadline:
                reply = worker.recv(self.reply_timeout)
                if reply.get("id") == rid and "chunk" not in reply:
                    return
        except WorkerDied as exc:
            self._lost(worker, exc.reason)
