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
    """A duration as a person reads it at a glance: 45s, 12m, 3h05m, 2d04h."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
