"""What every screen of the dashboard works from."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot_bottle.backend import BottleBackend, BottleSpec
from bot_bottle.manifest import Manifest

from .logs import PackageLogs

__all__ = ["AppContext"]


def _now() -> datetime:
    return datetime.now(UTC)


def _terminal() -> TextIO | None:
    # Textual draws on stderr; lines for the user while the terminal is
    # handed over go to the same place.
    return sys.__stderr__


@dataclass(frozen=True)
class AppContext:
    """The backend, the manifest's place and the options of one session."""

    backend: BottleBackend
    manifest_path: Path
    workdir: Path
    claude_args: tuple[str, ...] = ()
    #: Extra CA certificates for image builds.
    ca_certs: tuple[Path, ...] = ()
    #: The time now; fixed in tests so ages are deterministic.
    clock: Callable[[], datetime] = _now
    #: Seconds between two refreshes of the active bottles.
    refresh_seconds: float = 3.0
    #: Where progress is written while claude has the terminal.
    terminal: Callable[[], TextIO | None] = field(default=_terminal)
    #: Whether text cursors blink; off in tests, for stable screenshots.
    cursor_blink: bool = True
    #: Where the package's log records go while the app runs.
    logs: PackageLogs = field(default_factory=PackageLogs)

    def spec(self, agent: str, manifest: Manifest) -> BottleSpec:
        """What launching `agent` asks of the backend."""
        return BottleSpec(
            agent=agent,
            manifest=manifest,
            manifest_path=self.manifest_path,
            workdir=self.workdir,
            claude_args=self.claude_args,
            ca_certs=self.ca_certs,
        )
