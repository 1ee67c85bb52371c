"""The stage dir: a private host folder for the files one launch generates."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["remove_stage_dir", "staging"]

PREFIX = "bot-bottle-stage-"


@contextmanager
def staging() -> Iterator[Path]:
    """A new folder only this user can read, removed on every way out."""
    path = Path(tempfile.mkdtemp(prefix=PREFIX))
    try:
        yield path
    finally:
        remove_stage_dir(path)


def remove_stage_dir(path: Path) -> None:
    """Remove a stage dir and all in it; a missing one is not an error."""
    shutil.rmtree(path, ignore_errors=True)
