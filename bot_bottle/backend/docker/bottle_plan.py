"""`DockerBottlePlan`: a Docker launch resolved and named, nothing created."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ...env import ResolvedEnv
from ...manifest import Limits
from .. import BottlePlan, PlanSection
from .util import SessionNames, runtime_line

__all__ = ["DockerBottlePlan"]


@dataclass(kw_only=True)
class DockerBottlePlan(BottlePlan):
    """What a Docker launch will create: names, images, runtime, networks."""

    session: str
    names: SessionNames
    #: The image the agent container runs: the working directory's image.
    image: str
    #: The image `image` was derived from.
    base_image: str
    sidecar_image: str
    #: "runsc" under gVisor, None for the engine's default runtime.
    runtime: str | None
    engine_version: str
    #: The project folder inside the bottle, where claude starts.
    workdir: str
    #: What the agent container may use of the host.
    limits: Limits = field(default_factory=Limits)
    #: Driver options of the internal network, as the engine assessment chose.
    internal_network_options: dict[str, str] = field(default_factory=dict)
    #: What keeps the agent in, one line per layer.
    isolation: tuple[str, ...] = ()
    #: Names and literal settings only; forwarded values stay in the host
    #: environment until exec time.
    env: ResolvedEnv = field(default_factory=ResolvedEnv, repr=False)

    @property
    def runtime_label(self) -> str:
        """The runtime by name, for labels and lists."""
        return self.runtime or "runc"

    @property
    def limits_line(self) -> str:
        limits = self.limits
        return f"memory {limits.memory}, {limits.cpus:g} CPUs, {limits.pids} processes"

    @property
    def claude_command(self) -> str:
        return shlex.join(["claude", *self.claude_argv])

    def sections(self) -> list[PlanSection]:
        names = self.names
        return [
            PlanSection("agent", (f"{self.agent} (bottle {self.bottle})",)),
            PlanSection(
                "bottle",
                (
                    f"session {self.session}",
                    f"agent container: {names.container}",
                    f"egress proxy container: {names.sidecar}",
                ),
            ),
            PlanSection(
                "images",
                (
                    f"agent: {self.image} (from {self.base_image})",
                    f"egress proxy: {self.sidecar_image}",
                ),
            ),
            PlanSection("runtime", (runtime_line(self.runtime),)),
            PlanSection("limits", (self.limits_line,)),
            PlanSection(
                "networks",
                (
                    f"internal: {names.internal_network} (agent and proxy; no way out)",
                    f"egress: {names.egress_network} (egress proxy only)",
                ),
            ),
            PlanSection("isolation", self.isolation),
            PlanSection("egress allowlist", self.allowlist),
            PlanSection("env (names only)", self.env_names),
            PlanSection("ssh hosts", self.ssh_hosts),
            PlanSection("skills", self.skills),
            PlanSection("prompt", (str(self.prompt),) if self.prompt else ()),
            PlanSection(
                "claude command", (f"{self.claude_command} (in {self.workdir})",)
            ),
            PlanSection("warnings", self.warnings),
        ]
