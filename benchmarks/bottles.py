"""Bottles made cheaply: a launch's resources, labelled as a launch labels them.

Twenty real launches at once are not possible on an engine with the default
address pools (each bottle takes two networks, and the engine hands out about
thirty), and would starve anything else using the engine. So the bottles for
the active list and for cleanup are made here, with the engine calls a launch
makes (two networks, a sidecar on both, an agent container on the internal
one, both started) but with each network on a small subnet of its own, and
with the labels a launch puts on them. An orphan's owner is a process that
has exited, as after a crash; a live bottle's owner is this process.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool, Mount

from bot_bottle.backend.docker import labels as label

from .floor import CONFIG_IN_SIDECAR, PROXY_PORT

__all__ = ["BottleFactory", "Images", "MadeBottles", "dead_owner", "discard"]

#: Subnets for the made bottles' networks, away from the engine's pools.
SUBNET_PREFIX = "10.99"
_BLOCKS = 16 * 256
_PARALLEL = 4


@dataclass
class MadeBottles:
    """The ids of what was made, for a direct removal."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    stage_dirs: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Images:
    agent: str
    sidecar: str
    runtime: str | None
    config: Path


class BottleFactory:
    """Makes labelled bottles for one benchmark run."""

    def __init__(
        self,
        client: docker.DockerClient,
        images: Images,
        *,
        agent: str,
        extra_labels: Mapping[str, str],
        stage_dir: Callable[[], Path],
    ) -> None:
        self.client = client
        self.images = images
        self.agent = agent
        self.extra_labels = dict(extra_labels)
        self.stage_dir = stage_dir
        self._blocks = itertools.count()
        self._lock = threading.Lock()

    def make(self, count: int, *, orphaned: bool) -> MadeBottles:
        """`count` bottles, live (owned by this process) or orphaned."""
        made = MadeBottles()
        with ThreadPoolExecutor(_PARALLEL) as pool:
            for part in pool.map(lambda _: self._one(orphaned), range(count)):
                made.containers += part.containers
                made.networks += part.networks
                made.stage_dirs += part.stage_dirs
        return made

    def _one(self, orphaned: bool) -> MadeBottles:
        owner = dead_owner() if orphaned else label.Owner.current()
        session = _session_id()
        stem = f"bot-bottle-{self.agent}-{session}"

        def labels(role: str) -> dict[str, str]:
            return {
                **label.session_labels(
                    session=session,
                    agent=self.agent,
                    bottle="bench",
                    owner=owner,
                    runtime=self.images.runtime or "runc",
                    role=role,
                ),
                **self.extra_labels,
            }

        made = MadeBottles()
        internal = self._network(f"{stem}-internal", labels("network"), True)
        egress = self._network(f"{stem}-egress", labels("network"), False)
        made.networks += [internal, egress]
        stage = self.stage_dir()
        (stage / "pipelock.yaml").write_bytes(self.images.config.read_bytes())
        made.stage_dirs.append(stage)
        sidecar_labels = {**labels("sidecar"), label.STAGE: str(stage)}
        made.containers.append(
            self._sidecar(f"{stem}-proxy", sidecar_labels, stage, internal, egress)
        )
        made.containers.append(self._agent(stem, labels("agent"), internal))
        return made

    def _network(self, name: str, labels: dict[str, str], internal: bool) -> str:
        api = self.client.api
        while True:
            with self._lock:
                block = next(self._blocks)
            if block >= _BLOCKS:
                raise RuntimeError(f"no free subnet left in {SUBNET_PREFIX}.0.0/16")
            subnet = f"{SUBNET_PREFIX}.{block // 16}.{(block % 16) * 16}/28"
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet)])
            try:
                created = api.create_network(
                    name, internal=internal, ipam=ipam, labels=labels
                )
            except APIError as exc:
                if "overlap" in str(exc.explanation):
                    continue
                raise
            return str(created["Id"])

    def _sidecar(
        self,
        name: str,
        labels: dict[str, str],
        stage: Path,
        internal: str,
        egress: str,
    ) -> str:
        api = self.client.api
        config = stage / "pipelock.yaml"
        mount = Mount(CONFIG_IN_SIDECAR, str(config), "bind", read_only=True)
        created = api.create_container(
            self.images.sidecar,
            ["run", "--config", CONFIG_IN_SIDECAR, "--listen", f"0.0.0.0:{PROXY_PORT}"],
            name=name,
            labels=labels,
            host_config=api.create_host_config(mounts=[mount], network_mode=egress),
        )
        api.connect_container_to_network(created["Id"], internal)
        api.start(created["Id"])
        return str(created["Id"])

    def _agent(self, name: str, labels: dict[str, str], internal: str) -> str:
        api = self.client.api
        created = api.create_container(
            self.images.agent,
            ["sleep", "infinity"],
            name=name,
            user="agent",
            labels=labels,
            host_config=api.create_host_config(
                network_mode=internal, runtime=self.images.runtime, init=True
            ),
        )
        api.start(created["Id"])
        return str(created["Id"])


def _session_id() -> str:
    return secrets.token_hex(3)


def dead_owner() -> label.Owner:
    """The owner label of a process that has exited, as after a crash."""
    with subprocess.Popen(["sleep", "60"]) as process:
        started = label.process_start_time(process.pid) or ""
        process.kill()
    return label.Owner(socket.gethostname(), process.pid, started)


def discard(api: Any, made: MadeBottles) -> None:
    """Remove what is left of `made`; what is already gone is skipped."""
    for ident in made.containers:
        with contextlib.suppress(NotFound):
            api.remove_container(ident, force=True)
    for ident in made.networks:
        with contextlib.suppress(NotFound):
            api.remove_network(ident)
