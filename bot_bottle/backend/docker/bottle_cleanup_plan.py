"""`DockerBottleCleanupPlan`: the orphans of dead sessions, nothing removed yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import BottleCleanupPlan

__all__ = ["DockerBottleCleanupPlan"]


@dataclass
class DockerBottleCleanupPlan(BottleCleanupPlan):
    """Orphaned containers and networks by id, and the stage dirs they used.

    The ids are those the listing found, so a cleanup removes exactly what
    was shown, even if a new resource has taken a name since.
    """

    container_ids: list[str] = field(default_factory=list)
    network_ids: list[str] = field(default_factory=list)
    stage_dirs: list[Path] = field(default_factory=list)
