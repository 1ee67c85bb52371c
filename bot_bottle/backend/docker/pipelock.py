"""The pipelock sidecar: the egress proxy container beside the agent's.

The sidecar sits on both networks: the agent reaches it on the internal one,
and it reaches the allowlisted world through the egress one. Readiness is
probed directly, by connecting to its port, rather than through the image's
HEALTHCHECK, which runs every 10 s and would add seconds to each launch.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.errors import APIError, DockerException
from docker.types import Mount

from ...errors import BackendError, LaunchError
from ...pipelock import PIPELOCK_PORT, PipelockProxy
from .engine import is_gone, translated
from .hardening import sidecar_security

__all__ = ["CONFIG_IN_CONTAINER", "DockerPipelockProxy", "Sidecar"]

log = logging.getLogger(__name__)

#: Where the generated config appears inside the sidecar, read-only.
CONFIG_IN_CONTAINER = "/etc/pipelock/pipelock.yaml"

READY_SECONDS = 20.0
_PROBE_INTERVAL = 0.02
_STATUS_INTERVAL = 0.25
_LOG_LINES = 20

STEP = "starting the egress proxy"


@dataclass(frozen=True)
class Sidecar:
    """What the sidecar container is called, runs and joins."""

    name: str
    image: str
    internal_network: str
    egress_network: str
    labels: Mapping[str, str] = field(default_factory=dict)


class DockerPipelockProxy(PipelockProxy):
    """Pipelock run as a container on a session's two networks."""

    def __init__(
        self,
        allowlist: Sequence[str],
        *,
        client: Any = None,
        sidecar: Sidecar | None = None,
    ) -> None:
        super().__init__(allowlist)
        self.client = client
        self.sidecar = sidecar
        self.container: Any = None
        self.internal_ip = ""
        self.egress_ip = ""

    @property
    def proxy_url(self) -> str:
        """The URL the agent's proxy variables point at: by IP, not by name."""
        return f"http://{self.internal_ip}:{PIPELOCK_PORT}"

    def command(self) -> list[str]:
        return [
            "run",
            "--config",
            CONFIG_IN_CONTAINER,
            "--listen",
            f"0.0.0.0:{PIPELOCK_PORT}",
        ]

    def start(self) -> None:
        """Create, attach and start the sidecar; return once it accepts connections.

        Raises:
            LaunchError: it could not be created or started, or it did not
                become ready; the detail is the tail of its log.
        """
        sidecar, config = self._require()
        try:
            self._create(sidecar, config)
            self._attach_and_start(sidecar)
            self._wait_ready(time.monotonic() + READY_SECONDS)
        except BackendError as exc:
            raise LaunchError(STEP, str(exc), detail=self.log_tail()) from exc

    def stop(self) -> None:
        """Remove the sidecar; one already gone is not an error."""
        if self.container is None:
            return
        with translated(f"removing the egress proxy {self.container.name}"):
            try:
                self.container.remove(force=True)
            except APIError as exc:
                if not is_gone(exc):
                    raise
        self.container = None

    def log_tail(self) -> str:
        """The last lines the sidecar wrote, or "" when there are none."""
        if self.container is None:
            return ""
        try:
            raw = self.container.logs(tail=_LOG_LINES)
        except DockerException:
            return ""
        except OSError:  # requests' connection errors
            return ""
        text = raw.decode("utf-8", "replace").rstrip()
        return f"egress proxy log (last lines):\n{text}" if text else ""

    def _require(self) -> tuple[Sidecar, Path]:
        if self.client is None or self.sidecar is None or self.config_path is None:
            raise BackendError(
                "the egress proxy cannot start before its config is prepared "
                "and its container is described"
            )
        return self.sidecar, self.config_path

    def _create(self, sidecar: Sidecar, config: Path) -> None:
        mount = Mount(CONFIG_IN_CONTAINER, str(config), type="bind", read_only=True)
        with translated(f"creating the egress proxy from image {sidecar.image}"):
            self.container = self.client.containers.create(
                sidecar.image,
                self.command(),
                name=sidecar.name,
                labels=dict(sidecar.labels),
                network=sidecar.egress_network,
                mounts=[mount],
                **sidecar_security(),
            )

    def _attach_and_start(self, sidecar: Sidecar) -> None:
        # Before API 1.44 a container is created on one network only; the
        # second is connected before it starts.
        with translated(f"attaching the egress proxy to {sidecar.internal_network}"):
            self.client.api.connect_container_to_network(
                self.container.id, sidecar.internal_network
            )
        with translated("starting the egress proxy"):
            self.container.start()
            self.container.reload()
        networks = self.container.attrs["NetworkSettings"]["Networks"]
        self.internal_ip = networks[sidecar.internal_network]["IPAddress"]
        self.egress_ip = networks[sidecar.egress_network]["IPAddress"]
        if not self.internal_ip or not self.egress_ip:
            raise BackendError("the egress proxy started without an address")

    def _wait_ready(self, deadline: float) -> None:
        next_status = time.monotonic() + _STATUS_INTERVAL
        while not _accepts(self.egress_ip, PIPELOCK_PORT):
            now = time.monotonic()
            if now > deadline:
                raise BackendError(
                    f"the egress proxy did not accept connections within "
                    f"{READY_SECONDS:g} s"
                )
            if now > next_status:
                self._check_running()
                next_status = now + _STATUS_INTERVAL
            time.sleep(_PROBE_INTERVAL)
        log.debug("egress proxy ready at %s", self.internal_ip)

    def _check_running(self) -> None:
        with translated("checking the egress proxy"):
            self.container.reload()
        state = self.container.attrs["State"]
        if not state.get("Running"):
            raise BackendError(
                f"the egress proxy exited with status {state.get('ExitCode')}"
            )


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False
