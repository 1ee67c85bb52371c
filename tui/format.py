"""How the dashboard writes times and paths."""

from __future__ import annotations

from pathlib import Path

from bot_bottle.util import format_age

__all__ = ["count", "first_lines", "format_age", "show_path"]


def show_path(path: Path) -> str:
    """A path as given, with the home folder written as `~`."""
    home = Path.home()
    if path.is_absolute() and path.is_relative_to(home) and path != home:
        return f"~/{path.relative_to(home)}"
    return str(path)


def count(number: int, noun: str) -> str:
    """`1 session`, `3 sessions`."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def first_lines(text: str, limit: int = 4) -> str:
    """At most `limit` lines of `text`, for a notification; the screen has all."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    return "\n".join([*lines[:limit], "…"])
