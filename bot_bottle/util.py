"""Helpers that every backend may use; none of them knows about a platform."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

__all__ = ["expand_tilde", "format_age", "is_ipv4_literal"]


def expand_tilde(path: str | os.PathLike[str]) -> Path:
    """`~` and `~user` expanded; nothing else about the path changes."""
    return Path(os.path.expanduser(os.fspath(path)))


def is_ipv4_literal(text: str) -> bool:
    """Whether `text` is a dotted-quad IPv4 address, written canonically.

    Shorthands the C library would accept (`10.1`, `0x7f.1`, leading zeros)
    are refused: an allowlist entry should mean exactly what it reads as.
    """
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return str(address) == text


def format_age(seconds: float) -> str:
    """A running time in its two largest units: `45s`, `4m 05s`, `2h 03m`."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"
