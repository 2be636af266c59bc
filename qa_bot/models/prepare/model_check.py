"""`qa-bot setup`'s proof that the answer model runs on this machine.

A llama.cpp build for the wrong CPU features does not fail at install: it crashes the first
time the model computes (AMX on an Intel Xeon VM: a general protection fault at the first
decode). Setup therefore generates a few tokens in a child process, the same supervised
worker the app uses, and turns a crash into a message that names the cause and the command
that rebuilds llama-cpp-python for this CPU, instead of the app dying at its first question.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.messages import HumanMessage

from qa_bot.config import Settings
from qa_bot.models.common import ModelError
from qa_bot.models.prepare import llama_build
from qa_bot.models.prepare.gguf import prepare_default_gguf

PROBE = [HumanMessage(content="Reply with one word: OK")]
PROBE_TOKENS = 4


@dataclass(frozen=True)
class ModelCheck:
    """What the check saw: the build's CPU features, the reply, and the times."""

    system_info: str
    reply: str
    load_s: float
    generate_s: float
    build: str  # the tag the Makefile installed ("avx2"), "" when unknown

    def summary(self) -> str:
        build = f"llama.cpp build {self.build}" if self.build else "llama.cpp build not from `make`"
        return (
            f"answer model runs: {PROBE_TOKENS} tokens generated in {self.generate_s:.1f} s after a "
            f"{self.load_s:.1f} s load ({build})"
        )


def check_answer_model(settings: Settings) -> ModelCheck | None:
    """Load the configured llama.cpp model in a worker process and generate a few tokens.

    Returns None for an OpenAI-compatible server (it runs elsewhere; setup does not start it).

    Raises:
        ModelError: the model crashed or failed; the message says what happened and the
            command that fixes it.
    """
    from qa_bot.models.supervised_chat import AnswerModelCannotStart, AnswerModelCrashed, SupervisedLlamaChat

    if settings.llm_base_url or settings.llm_provider == "openai":
        return None
    path = Path(settings.llm_model_path or prepare_default_gguf(settings))
    chat = SupervisedLlamaChat(
        model_path=str(path),
        n_ctx=512,
        n_threads=settings.llm_threads,
        max_tokens=PROBE_TOKENS,
        restart_on_crash=False,
    )
    build = llama_build.installed_build().get("tag", "")
    started = time.perf_counter()
    try:
        info = chat.start()
        loaded = time.perf_counter()
        reply = "".join(str(c.content) for c in chat.stream(PROBE, max_tokens=PROBE_TOKENS))
    except AnswerModelCannotStart as exc:
        raise ModelError(_crash_advice(f"it died while loading the model ({exc.reason})", build)) from None
    except AnswerModelCrashed as exc:
        raise ModelError(_crash_advice(f"it died while generating ({exc.reason})", build)) from None
    except ModelError as exc:
        raise ModelError(_crash_advice(str(exc), build)) from None
    finally:
        chat.close()
    done = time.perf_counter()
    problems = llama_build.build_problems(info, llama_build.cpu_flags())
    if problems:
        # It ran this time, but a build using features the CPU lacks fails on some code path.
        raise ModelError(
            f"the llama.cpp build in this environment is wrong for this CPU: {'; '.join(problems)}. "
            f"Rebuild it: {_fix(llama_build.installed_build().get('tag', ''))}"
        )
    if not reply.strip():
        raise ModelError(f"the answer model loaded but generated nothing: check the GGUF file {path}")
    return ModelCheck(info, reply, loaded - started, done - loaded, build)


def _fix(installed: str) -> str:
    """The rebuild to suggest: this CPU's own feature set, or the AVX2 baseline when that
    is what is installed already (and it failed)."""
    try:
        tag = llama_build.resolve("auto")
    except llama_build.BuildError:
        tag = "avx2"
    return llama_build.fix_command("avx2" if tag == installed else tag)


def _crash_advice(what: str, build: str) -> str:
    built = (
        f"built for {build} by `make`"
        if build
        else "not installed by `make` (pip's own build targets the CPU it was compiled on, "
        "AMX included, which crashed on Intel Xeon VMs)"
    )
    return (
        f"the answer model failed a test answer in a child process: {what.rstrip('.')}. "
        f"The llama-cpp-python in this environment was {built}. Rebuild it for this CPU: {_fix(build)}; "
        "then run `qa-bot setup` again. To use a model server instead, set QA_BOT_LLM_BASE_URL."
    )
