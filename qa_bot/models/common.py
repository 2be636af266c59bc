"""What the model modules share: their error type, progress reporting and the file lock
that keeps two processes from preparing the same model at once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

Progress = Callable[[str], None]


class ModelError(Exception):
    """A model cannot be prepared or loaded; the message says what to do."""


def say(message: str) -> None:
    print(f"[qa-bot] {message}", file=sys.stderr, flush=True)


def file_lock(path: Path) -> FileLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock")
