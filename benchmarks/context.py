"""What every measurement works with: the engine, the backend, the workspace."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker

from bot_bottle.backend.docker.backend import DockerBottleBackend
from bot_bottle.backend.docker.bottle_plan import DockerBottlePlan

from .bottles import BottleFactory
from .calls import CallLog, counting
from .workspace import Project, Workspace

__all__ = ["Bench", "Timed", "timed"]


@dataclass
class Timed:
    """How long a block took and the engine calls it made."""

    seconds: float = 0.0
    calls: CallLog | None = None

    @property
    def call_count(self) -> int:
        return len(self.calls) if self.calls is not None else 0


@contextmanager
def timed() -> Iterator[Timed]:
    """Time the block and count its engine calls."""
    result = Timed()
    with counting() as calls:
        started = time.perf_counter()
        try:
            yield result
        finally:
            result.seconds = time.perf_counter() - started
            result.calls = calls


@dataclass
class Bench:
    """One benchmark run's engine, backend, workspace and settings."""

    client: docker.DockerClient
    backend: DockerBottleBackend
    workspace: Workspace
    project: Project
    factory: BottleFactory
    runs: int
    say: Callable[[str], None]

    @property
    def api(self) -> Any:
        return self.client.api

    def prepare(self, project: Project | None = None) -> DockerBottlePlan:
        spec = (project or self.project).spec()
        return self.backend.prepare(spec, stage_dir=self.workspace.stage_dir())

    def alternate(
        self, run: int, ours: Callable[[], object], floor: Callable[[], object]
    ) -> None:
        """Run both, bot-bottle first on even runs and the floor first on odd."""
        first, second = (ours, floor) if run % 2 == 0 else (floor, ours)
        first()
        second()
