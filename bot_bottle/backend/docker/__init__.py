"""The Docker backend: bottles as containers on a Docker engine.

Nothing outside this package imports the Docker SDK. The backend is loaded by
`get_bottle_backend()` only when BOT_BOTTLE_BACKEND chooses it.
"""

from __future__ import annotations

from .backend import DockerBottleBackend
from .bottle import DockerBottle
from .bottle_cleanup_plan import DockerBottleCleanupPlan
from .bottle_plan import DockerBottlePlan
from .pipelock import DockerPipelockProxy

__all__ = [
    "DockerBottle",
    "DockerBottleBackend",
    "DockerBottleCleanupPlan",
    "DockerBottlePlan",
    "DockerPipelockProxy",
]
