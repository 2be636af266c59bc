"""Shared fixtures: the real embedding model and the real LLM are loaded once per session."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from qa_bot.config import apply_offline_env

apply_offline_env()

ROOT = Path(__file__).resolve().parents[1]
FOUNDING = ROOT / "corpus" / "000_c2c96c36c1e836fc.txt"


def free_port() -> int:
    """A port nothing listens on now (for servers the tests start on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def settings_factory(tmp_path_factory):
    """Settings with a fresh store dir; models come from the user cache (prepared once)."""
    from qa_bot.config import get_settings

    def make(**overrides):
        store = tmp_path_factory.mktemp("store")
        return get_settings(store_dir=store, **overrides)

    return make


@pytest.fixture(scope="session")
def embedder(settings_factory):
    from qa_bot.models.embeddings import load_embeddings

    return load_embeddings(settings_factory())


@pytest.fixture(scope="session")
def founding_corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    shutil.copy(FOUNDING, folder / FOUNDING.name)
    return folder


@pytest.fixture(scope="session")
def founding_settings(settings_factory, founding_corpus, embedder):
    """A store holding the founding article (ingested once per session)."""
    from ingest.pipeline import ingest_path

    settings = settings_factory()
    report = ingest_path(founding_corpus, settings, embedder=embedder)
    assert report.added == [FOUNDING.stem]
    return settings


def bot_for(settings, embedder, llm):
    """A bot on the store of ``settings`` (whatever it holds) with the given chat model."""
    from qa_bot import QABot
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    store = ChunkStore.from_settings(settings, embedder.name)
    return QABot(HybridRetriever.from_settings(store, embedder, settings), llm, settings)


@pytest.fixture(scope="session")
def retriever(founding_settings, embedder):
    from qa_bot.corpus.store import ChunkStore
    from qa_bot.search.retrieval import HybridRetriever

    store = ChunkStore.from_settings(founding_settings, embedder.name)
    return HybridRetriever.from_settings(store, embedder, founding_settings)


@pytest.fixture(scope="session")
def llm(settings_factory):
    from qa_bot.models.chat import load_chat_model

    return load_chat_model(settings_factory())


@pytest.fixture(scope="session")
def real_bot(retriever, llm, founding_settings):
    from qa_bot import QABot

    return QABot(retriever, llm, founding_settings)


def pytest_configure(config):
    os.environ.setdefault("QA_BOT_LLM_THREADS", str(os.cpu_count() or 2))
    config.addinivalue_line("markers", "models: needs the real embedding model or the real LLM")


# Fixtures that load a real model: a test using one is marked ``models``, so ``make
# test-fast`` (``-m "not slow and not models"``) runs only what the stand-ins cover.
REAL_MODEL_FIXTURES = {"embedder", "founding_settings", "retriever", "llm", "real_bot"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.models)
