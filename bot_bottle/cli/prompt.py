"""The y/N question the headless commands ask before acting."""

from __future__ import annotations

import sys
from typing import TextIO


def confirm(question: str, *, stdin: TextIO | None = None) -> bool:
    """Ask `question`; only an explicit yes counts, end of input is a no."""
    source = stdin or sys.stdin
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = source.readline()
    if not answer:
        print(file=sys.stderr)
    return answer.strip().lower() in {"y", "yes"}
