"""The answer model's worker process: runs llama.cpp and nothing else.

A native crash in llama.cpp (a segmentation fault, an illegal instruction, the kernel's
out-of-memory killer) ends the process it runs in. Run in-process, that is the chat app
with every user's session and any ingest it is doing; run here, it is only this worker,
and :class:`qa_bot.models.supervised_chat.SupervisedLlamaChat` tells the asker and starts another.

Protocol (pickled dicts over two pipes, see ``SupervisedLlamaChat``): the first message is
the load configuration, answered with ``{"ready": ...}``; then requests ``{"op": "stream" |
"prime", "id": n, ...}`` answered by ``{"id": n, "chunk": ...}`` pieces and one ``{"id": n,
"done": ...}`` or ``{"id": n, "error": ...}``. ``{"op": "cancel", "id": n}`` stops a stream
between two tokens. The worker exits when its parent's end of the pipe closes.

Run by the supervisor as ``python -m qa_bot.models.llm_worker READ_FD WRITE_FD``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa_bot.models.llamacpp_chat import LlamaCppChat


def main(argv: list[str]) -> int:
    # Ctrl-C in a terminal reaches the whole foreground group; the supervisor decides when
    # this process ends (it closes the pipe), so a worker never dies with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests, replies = Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False)
    try:
        return _serve(requests, replies)
    except (EOFError, OSError):
        # The supervisor is gone (it may exit while this worker still loads, e.g. when
        # `qa-bot ask` finds the store empty): nothing to tell anyone.
        return 0


def _serve(requests: Connection, replies: Connection) -> int:
    config = requests.recv()
    from qa_bot.models.llamacpp_chat import LlamaCppChat

    started = time.perf_counter()
    try:
        chat = LlamaCppChat.load(
            Path(config["model_path"]),
            n_ctx=config["n_ctx"],
            n_threads=config["n_threads"],
            max_tokens=config["max_tokens"],
            prompt_cache_bytes=config["prompt_cache_bytes"],
        )
    except Exception as exc:  # reported to the supervisor, which raises it as a ModelError
        replies.send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    replies.send({"ready": True, "system_info": chat.system_info(), "load_s": time.perf_counter() - started})
    while True:
        request = requests.recv()  # EOFError when the supervisor is gone or let this worker go
        op = request.get("op")
        if op == "stream":
            _stream(chat, request, requests, replies)
        elif op == "prime":
            _prime(chat, request, replies)
        # "cancel" for a stream that already ended needs nothing


def _stream(chat: LlamaCppChat, request: dict, requests: Connection, replies: Connection) -> None:
    from langchain_core.messages import messages_from_dict

    rid = request["id"]
    try:
        messages = messages_from_dict(request["messages"])
        with contextlib.closing(chat._stream(messages, request.get("stop"), **request["kwargs"])) as chunks:
            for chunk in chunks:
                if requests.poll() and _cancelled(requests, rid):
                    break
                replies.send(
                    {"id": rid, "chunk": chunk.message.content, "meta": chunk.message.response_metadata}
                )
    except (EOFError, OSError):
        raise  # the supervisor went away mid-answer: main ends quietly
    except Exception as exc:  # an error of this request only; the worker goes on
        replies.send({"id": rid, "error": f"{type(exc).__name__}: {exc}"})
        return
    replies.send({"id": rid, "done": True})


def _cancelled(requests: Connection, rid: int) -> bool:
    """Read what arrived during a stream: only a cancel of it can (the supervisor sends
    one request at a time); EOFError when the supervisor is gone."""
    message = requests.recv()
    return message.get("op") == "cancel" and message.get("id") == rid


def _prime(chat: LlamaCppChat, request: dict, replies: Connection) -> None:
    from langchain_core.messages import messages_from_dict

    rid = request["id"]
    try:
        result = chat.prime(messages_from_dict(request["messages"]), Path(request["cache_dir"]))
    except Exception as exc:
        replies.send({"id": rid, "error": f"{type(exc).__name__}: {exc}"})
        return
    replies.send({"id": rid, "done": True, "result": result})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
