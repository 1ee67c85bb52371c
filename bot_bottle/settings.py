"""Every setting bot-bottle reads from the environment, in one place.

Each is read when asked for, not at import, so tests and the CLI see the
environment as it is at the time of use.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_MANIFEST",
    "backend_name",
    "base_image",
    "ca_cert_paths",
    "claude_version",
    "manifest_path",
    "pipelock_image",
]

DEFAULT_BACKEND = "docker"
DEFAULT_MANIFEST = Path("bot-bottle.json")

#: The pipelock release the sidecar runs unless BOT_BOTTLE_PIPELOCK_IMAGE says
#: otherwise. Release images are tagged by version without a leading "v".
PIPELOCK_IMAGE = "ghcr.io/luckypipewrench/pipelock:2.3.0"

#: The Claude Code release baked into the base image by default.
CLAUDE_VERSION = "2.1.332"


def _get(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def backend_name() -> str:
    """The backend chosen by BOT_BOTTLE_BACKEND, `docker` by default."""
    return _get("BOT_BOTTLE_BACKEND") or DEFAULT_BACKEND


def manifest_path(cli_value: str | None = None) -> Path:
    """The manifest: `--manifest`, else BOT_BOTTLE_MANIFEST, else ./bot-bottle.json."""
    chosen = cli_value or _get("BOT_BOTTLE_MANIFEST")
    return Path(chosen) if chosen else DEFAULT_MANIFEST


def pipelock_image() -> str:
    """The sidecar's image: BOT_BOTTLE_PIPELOCK_IMAGE or the pinned release."""
    return _get("BOT_BOTTLE_PIPELOCK_IMAGE") or PIPELOCK_IMAGE


def claude_version() -> str:
    """The Claude Code version for the base image (BOT_BOTTLE_CLAUDE_VERSION)."""
    return _get("BOT_BOTTLE_CLAUDE_VERSION") or CLAUDE_VERSION


def ca_cert_paths() -> list[Path]:
    """Extra CA certificate files for image builds (BOT_BOTTLE_CA_CERTS).

    The value is a list separated like PATH (`:` on POSIX).
    """
    value = _get("BOT_BOTTLE_CA_CERTS")
    if value is None:
        return []
    return [Path(part) for part in value.split(os.pathsep) if part.strip()]


def base_image() -> str | None:
    """An image to use as the bottle's base instead of building the shipped one.

    Set by BOT_BOTTLE_BASE_IMAGE; the image must keep the base image's contract
    (docs/image.md): an `agent` user, and claude, git and ssh on PATH.
    """
    return _get("BOT_BOTTLE_BASE_IMAGE")
