"""The floor: the engine operations of a launch and of removals, done directly.

Each function here makes the fewest low-level SDK calls that reach the state
bot-bottle reaches: no listing, no lookups of what is already known, one copy
of all the files. What bot-bottle does beyond these is its overhead.
"""

from __future__ import annotations

import io
import socket
import tarfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from docker.types import Mount

__all__ = [
    "FloorBottle",
    "LaunchInputs",
    "capture_files",
    "floor_launch",
    "floor_remove",
    "wait_accepting",
]

PROXY_PORT = 8888
CONFIG_IN_SIDECAR = "/etc/pipelock/pipelock.yaml"
#: A shorter probe interval than any product would use: the floor's wait
#: ends as soon as the port accepts.
PROBE_SECONDS = 0.005
READY_SECONDS = 20.0
#: Removals issued at once, as a careful direct script would.
PARALLEL = 4


@dataclass(frozen=True)
class LaunchInputs:
    """What a launch needs, taken from a bot-bottle plan of the same agent."""

    image: str
    sidecar_image: str
    runtime: str | None
    config_path: Path
    workdir: str
    user: str
    memory: str
    nano_cpus: int
    pids: int
    #: One tar of every file bot-bottle copies in, at their paths inside.
    files: bytes


@dataclass
class FloorBottle:
    """The ids of what a floor launch created."""

    networks: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)


def floor_launch(
    api: Any, inputs: LaunchInputs, name: str, labels: Mapping[str, str]
) -> FloorBottle:
    """Two networks, the sidecar started and accepting, the agent provisioned
    and started: the state `launch()` yields, in the fewest engine calls."""
    made = FloorBottle()
    internal, egress = f"{name}-internal", f"{name}-egress"
    for network, is_internal in ((internal, True), (egress, False)):
        created = api.create_network(
            network,
            driver="bridge",
            internal=is_internal,
            enable_ipv6=False,
            check_duplicate=True,
            labels=dict(labels),
        )
        made.networks.append(created["Id"])

    sidecar = _create_sidecar(api, inputs, f"{name}-proxy", egress, labels)
    made.containers.append(sidecar)
    api.connect_container_to_network(sidecar, internal)
    api.start(sidecar)
    addresses = api.inspect_container(sidecar)["NetworkSettings"]["Networks"]
    wait_accepting(addresses[egress]["IPAddress"], PROXY_PORT)

    proxy_url = f"http://{addresses[internal]['IPAddress']}:{PROXY_PORT}"
    agent = _create_agent(api, inputs, name, internal, labels, proxy_url)
    made.containers.append(agent)
    api.put_archive(agent, "/", inputs.files)
    api.start(agent)
    return made


def _create_sidecar(
    api: Any, inputs: LaunchInputs, name: str, network: str, labels: Any
) -> str:
    mount = Mount(CONFIG_IN_SIDECAR, str(inputs.config_path), "bind", read_only=True)
    created = api.create_container(
        inputs.sidecar_image,
        ["run", "--config", CONFIG_IN_SIDECAR, "--listen", f"0.0.0.0:{PROXY_PORT}"],
        name=name,
        labels=dict(labels),
        host_config=api.create_host_config(mounts=[mount], network_mode=network),
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config()}
        ),
    )
    return str(created["Id"])


def _create_agent(
    api: Any,
    inputs: LaunchInputs,
    name: str,
    network: str,
    labels: Any,
    proxy_url: str,
) -> str:
    proxy = {"HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url}
    proxy |= {key.lower(): value for key, value in proxy.items()}
    proxy |= {"NO_PROXY": "localhost,127.0.0.1", "no_proxy": "localhost,127.0.0.1"}
    host_config = api.create_host_config(
        network_mode=network,
        runtime=inputs.runtime,
        init=True,
        mem_limit=inputs.memory,
        nano_cpus=inputs.nano_cpus,
        pids_limit=inputs.pids,
    )
    created = api.create_container(
        inputs.image,
        ["sleep", "infinity"],
        name=name,
        hostname=name[:63],
        user=inputs.user,
        working_dir=inputs.workdir,
        environment=proxy,
        labels=dict(labels),
        host_config=host_config,
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config()}
        ),
    )
    return str(created["Id"])


def wait_accepting(address: str, port: int) -> None:
    """Return once `address:port` accepts a TCP connection."""
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(PROBE_SECONDS)


def floor_remove(api: Any, containers: Sequence[str], networks: Sequence[str]) -> None:
    """Remove containers (killing them) and then networks, by id, a few at once."""
    _each(lambda ident: api.remove_container(ident, force=True), containers)
    _each(api.remove_network, networks)


def _each(call: Callable[[str], object], idents: Sequence[str]) -> None:
    if not idents:
        return
    with ThreadPoolExecutor(min(len(idents), PARALLEL)) as pool:
        list(pool.map(call, idents))


def capture_files(api: Any, container: str, paths: Iterable[str]) -> bytes:
    """One tar, rooted at `/`, of `paths` as they are inside `container`.

    Taken from a bottle bot-bottle provisioned, so the floor copies exactly
    the files, modes and owners a launch copies.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as out:
        for path in paths:
            parent = PurePosixPath(path).parent
            stream, _ = api.get_archive(container, path)
            source = io.BytesIO(b"".join(stream))
            with tarfile.open(fileobj=source) as found:
                for member in found.getmembers():
                    data = found.extractfile(member) if member.isreg() else None
                    member.name = str(parent / member.name).lstrip("/")
                    out.addfile(member, data)
    return buffer.getvalue()
