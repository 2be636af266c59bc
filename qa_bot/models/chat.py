"""The configured LangChain chat model, from one factory: an OpenAI-compatible server, or the
GGUF run by llama.cpp (in a supervised worker process by default)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qa_bot.config import Settings
from qa_bot.models.common import ModelError, Progress, say
from qa_bot.models.prepare.gguf import prepare_default_gguf

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


def load_chat_model(settings: Settings, progress: Progress = say) -> BaseChatModel:
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
            from qa_bot.models.openai_chat import OpenAIChat

            return OpenAIChat(
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
            if settings.llm_worker:
                from qa_bot.models.supervised_chat import SupervisedLlamaChat

                return SupervisedLlamaChat(
                    model_path=str(path),
                    n_ctx=settings.llm_context,
                    n_threads=settings.llm_threads,
                    max_tokens=settings.llm_max_tokens,
                    prompt_cache_bytes=settings.llm_prompt_cache_mb << 20,
                )
            from qa_bot.models.llamacpp_chat import LlamaCppChat

            return LlamaCppChat.load(
                Path(path),
                n_ctx=settings.llm_context,
                n_threads=settings.llm_threads,
                max_tokens=settings.llm_max_tokens,
                prompt_cache_bytes=settings.llm_prompt_cache_mb << 20,
            )
        case _:
            raise ModelError(f"unknown QA_BOT_LLM_PROVIDER {provider!r}: use auto, llamacpp or openai")
