"""Helpers for the Docker backend's end-to-end tests.

A project (a git repository with a commit) is made once per test session, so
its per-working-directory image is built once; manifests live outside it, so
writing a new manifest does not change the project's image. Each test uses an
agent name of its own, which its resources carry in their labels.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError

from bot_bottle.backend import BottleSpec
from bot_bottle.backend.docker import labels
from bot_bottle.manifest import load_manifest
from bot_bottle.stage import PREFIX as STAGE_PREFIX

from .conftest import TEST_LABEL, ResourceTracker

HTTP_PORT = 8080
PROMPT_TEXT = "You are in a bottle.\n"
SKILL_TEXT = "# hello\nSay hello.\n"


@dataclass(frozen=True)
class Project:
    """A project folder and the files a manifest points at, outside it."""

    workdir: Path
    prompt: Path
    skill: Path
    ssh_key: Path
    manifests: Path


def make_project(root: Path) -> Project:
    workdir = root / "project"
    workdir.mkdir()
    (workdir / "README.md").write_text("a project\n")
    git = [
        "git",
        "-C",
        str(workdir),
        "-c",
        "user.email=t@example.com",
        "-c",
        "user.name=test",
    ]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first commit"], check=True)

    extras = root / "extras"
    skill = extras / "skills" / "hello"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(SKILL_TEXT)
    prompt = extras / "prompt.md"
    prompt.write_text(PROMPT_TEXT)
    key = extras / "id_test"
    key.write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )
    key.chmod(0o600)
    manifests = root / "manifests"
    manifests.mkdir()
    return Project(workdir, prompt, skill, key, manifests)


def module_project(client: docker.DockerClient, root: Path) -> Iterator[Project]:
    """A project for a test module; the images built for it go afterwards."""
    project = make_project(root)
    yield project
    where = {"label": f"dev.bot-bottle.workdir={project.workdir.resolve()}"}
    for image in client.images.list(filters=where):
        with contextlib.suppress(APIError):
            client.images.remove(image.id)


def unique_agent(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def make_spec(
    project: Project,
    agent: str,
    *,
    allowlist: Sequence[str] = (),
    ssh_hosts: Sequence[str] = (),
    forward: Sequence[str] = (),
    literals: dict[str, str] | None = None,
    claude_args: Sequence[str] = (),
    unattended: bool = False,
) -> BottleSpec:
    """A spec for `agent` in a manifest written for it."""
    manifest = {
        "bottles": {
            "box": {
                "env": {"forward": list(forward), "set": literals or {}},
                "ssh": [
                    {"host": host, "key": str(project.ssh_key)} for host in ssh_hosts
                ],
                "egress": {"allowlist": list(allowlist)},
            }
        },
        "agents": {
            agent: {
                "bottle": "box",
                "prompt": str(project.prompt),
                "skills": [str(project.skill)],
                "claude_args": list(claude_args),
                "unattended": unattended,
            }
        },
    }
    path = project.manifests / f"{agent}.json"
    path.write_text(json.dumps(manifest))
    return BottleSpec(
        agent=agent,
        manifest=load_manifest(path),
        manifest_path=path,
        workdir=project.workdir,
    )


def new_stage_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix=STAGE_PREFIX))


def session_resources(client: docker.DockerClient, session: str) -> list[str]:
    """Names of every container and network labelled with `session`."""
    where = labels.session_filter(session)
    containers = client.api.containers(all=True, filters=where)
    networks = client.api.networks(filters=where)
    return [each["Names"][0] for each in containers] + [
        each["Name"] for each in networks
    ]


def agent_resources(client: docker.DockerClient, agent: str) -> list[str]:
    """Names of every container and network labelled with agent `agent`."""
    where = {"label": [f"{labels.MANAGED}=true", f"{labels.AGENT}={agent}"]}
    containers = client.api.containers(all=True, filters=where)
    networks = client.api.networks(filters=where)
    return [each["Names"][0] for each in containers] + [
        each["Name"] for each in networks
    ]


def use_test_images(
    monkeypatch: pytest.MonkeyPatch, agent_image: str, proxy_image: str
) -> None:
    monkeypatch.setenv("BOT_BOTTLE_BASE_IMAGE", agent_image)
    monkeypatch.setenv("BOT_BOTTLE_PIPELOCK_IMAGE", proxy_image)


@dataclass(frozen=True)
class Targets:
    """HTTP servers on the egress side, one allowlisted and one not."""

    network: str
    allowed_ip: str
    refused_ip: str


@contextmanager
def egress_targets(
    client: docker.DockerClient, tracker: ResourceTracker, image: str
) -> Iterator[Targets]:
    """Two small HTTP servers at fixed addresses on a network of their own.

    The addresses must be known before `prepare` writes the allowlist, and
    Docker gives fixed addresses only on networks with a chosen subnet; the
    test connects the sidecar to this network once the bottle is up.
    """
    network = network_with_free_subnet(client, tracker)
    subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
    allowed_ip, refused_ip = str(subnet[10]), str(subnet[11])
    for address, body in ((allowed_ip, "allowed-ok"), (refused_ip, "refused-ok")):
        _start_server(client, tracker, image, network.name, address, body)
    yield Targets(network.name, allowed_ip, refused_ip)


def network_with_free_subnet(
    client: docker.DockerClient, tracker: ResourceTracker
) -> Any:
    """A test network on a /24 of its own, so targets can have fixed addresses."""
    name = f"bot-bottle-test-targets-{uuid.uuid4().hex[:6]}"
    for _ in range(20):
        subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24"
        ipam = docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=subnet)]
        )
        try:
            network = client.networks.create(
                name, ipam=ipam, labels={TEST_LABEL: "targets"}, check_duplicate=True
            )
        except APIError:
            continue  # the subnet overlaps one in use
        tracker.network(network.id)
        network.reload()
        return network
    raise RuntimeError("no free subnet for the test targets")


def _start_server(
    client: docker.DockerClient,
    tracker: ResourceTracker,
    image: str,
    network: str,
    address: str,
    body: str,
) -> None:
    script = (
        f"mkdir -p /tmp/www && echo {body} > /tmp/www/index.html && "
        f"cd /tmp/www && exec python3 -m http.server {HTTP_PORT}"
    )
    api = client.api
    endpoint = api.create_endpoint_config(ipv4_address=address)
    created = api.create_container(
        image,
        ["sh", "-c", script],
        labels={TEST_LABEL: "target"},
        host_config=api.create_host_config(network_mode=network),
        networking_config=api.create_networking_config({network: endpoint}),
    )
    tracker.container(created["Id"])
    api.start(created["Id"])


def connect_sidecar(
    client: docker.DockerClient, sidecar: str, targets: Targets
) -> None:
    """Give the sidecar a leg on the targets' network (the egress side)."""
    client.api.connect_container_to_network(sidecar, targets.network)
