"""Helpers for the unit tests: manifests written to real temporary files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WriteManifest = Callable[[dict[str, Any]], Path]


def minimal_manifest() -> dict[str, Any]:
    """The smallest manifest that loads: one bottle, one agent."""
    return {
        "bottles": {"web": {"egress": {"allowlist": ["api.anthropic.com"]}}},
        "agents": {"coder": {"bottle": "web"}},
    }


@pytest.fixture
def write_manifest(tmp_path: Path) -> WriteManifest:
    """Write a manifest as JSON into a fresh folder and return its path."""

    def write(data: dict[str, Any]) -> Path:
        path = tmp_path / "bot-bottle.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write
