"""The harness itself works against the real engine: create, label, remove."""

from __future__ import annotations

import uuid

import docker
import pytest
from docker.errors import NotFound

from .conftest import TEST_LABEL, ResourceTracker

pytestmark = pytest.mark.engine


#: Imported from a local debootstrap by .ci/run; no registry is reachable.
DEBIAN_IMAGE = "debian:bookworm-slim"


def test_labelled_network_and_container_are_created_and_removed(
    docker_client: docker.DockerClient, tracker: ResourceTracker
) -> None:
    name = f"bot-bottle-harness-{uuid.uuid4().hex[:8]}"
    labels = {TEST_LABEL: "harness"}

    network = docker_client.networks.create(
        name, labels=labels, internal=True, check_duplicate=True
    )
    tracker.network(network.id)
    container = docker_client.containers.create(
        DEBIAN_IMAGE, ["true"], name=name, labels=labels, network=name
    )
    tracker.container(container.id)

    found = docker_client.containers.list(all=True, filters={"label": TEST_LABEL})
    assert container.id in {each.id for each in found}
    assert docker_client.networks.get(network.id).attrs["Labels"] == labels

    tracker.remove_all()
    with pytest.raises(NotFound):
        docker_client.containers.get(container.id)
    with pytest.raises(NotFound):
        docker_client.networks.get(network.id)
