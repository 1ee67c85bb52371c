"""Fixtures for tests against a real Docker engine.

Where no engine answers, these tests skip with the reason; in CI (CI=true)
an absent engine fails them instead, so a broken engine never passes as green.
Every resource a test makes carries the TEST_LABEL, so leftovers can be found.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import docker
import pytest
from docker.errors import DockerException, NotFound
from requests import RequestException

#: Carried by everything the tests create directly (not through the backend).
TEST_LABEL = "dev.bot-bottle.test"


def _engine_or_reason() -> tuple[docker.DockerClient | None, str]:
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    # requests' connection errors and timeouts are not DockerExceptions.
    except (DockerException, RequestException) as exc:
        return None, f"no Docker engine answers: {exc}"
    return client, ""


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client, reason = _engine_or_reason()
    if client is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs a Docker engine: {reason}")
        pytest.skip(reason)
    yield client
    client.close()


class ResourceTracker:
    """Records what a test creates and removes it afterwards, whatever happened."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.containers: list[str] = []
        self.networks: list[str] = []

    def container(self, ident: str) -> str:
        self.containers.append(ident)
        return ident

    def network(self, ident: str) -> str:
        self.networks.append(ident)
        return ident

    def remove_all(self) -> None:
        for ident in reversed(self.containers):
            with contextlib.suppress(NotFound):
                self.client.containers.get(ident).remove(force=True)
        for ident in reversed(self.networks):
            with contextlib.suppress(NotFound):
                self.client.networks.get(ident).remove()


@pytest.fixture
def tracker(docker_client: docker.DockerClient) -> Iterator[ResourceTracker]:
    resources = ResourceTracker(docker_client)
    try:
        yield resources
    finally:
        resources.remove_all()


@pytest.fixture(scope="session")
def proxy_image(docker_client: docker.DockerClient) -> str:
    """The pipelock stand-in's tag (test scaffolding), built when changed."""
    # Imported here: the images module imports this one for TEST_LABEL.
    from .images import ensure_proxy_image

    return ensure_proxy_image(docker_client)


@pytest.fixture(scope="session")
def agent_image(docker_client: docker.DockerClient) -> str:
    """The agent test image's tag: a fake claude that reports what it sees."""
    from .images import ensure_agent_image

    return ensure_agent_image(docker_client)
