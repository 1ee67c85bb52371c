"""Helpers that every backend may use; none of them knows about a platform."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

__all__ = ["expand_tilde", "is_ipv4_literal"]


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
