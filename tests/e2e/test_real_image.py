"""The shipped Dockerfile, built for real: Claude Code installed from npm.

Slow the first time (npm install; about a minute here), instant while the
image's inputs are unchanged, since the built image is then reused. Select
or skip it with `-m real_image` / `-m "not real_image"`.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from bot_bottle.backend.docker.image import IMAGE_LABEL, ImageBuilder

from .conftest import TEST_LABEL, ResourceTracker

pytestmark = [pytest.mark.engine, pytest.mark.real_image]

#: The CA of the TLS gateway between these machines and npm's registry.
CA_DIR = Path("/usr/local/share/ca-certificates")


def base_image_ids(client: docker.DockerClient) -> set[str]:
    return {image.id for image in client.images.list(filters={"label": IMAGE_LABEL})}


def test_the_shipped_image_runs_claude_as_a_user_who_is_not_root(
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BOT_BOTTLE_BASE_IMAGE", raising=False)
    existing = base_image_ids(docker_client)

    tag = ImageBuilder(docker_client).base_image(ca_certs=sorted(CA_DIR.glob("*.crt")))
    try:
        container = docker_client.containers.create(
            tag, ["sleep", "infinity"], init=True, labels={TEST_LABEL: "real-image"}
        )
        tracker.container(container.id)
        container.start()

        version = container.exec_run(["claude", "--version"], user="agent")
        uid = container.exec_run(["id", "-u"], user="agent")
        on_path = "for t in claude git ssh tar sleep; do command -v $t || exit 1; done"
        tools = container.exec_run(["sh", "-c", on_path], user="agent")
        default_user = container.exec_run(["id", "-un"])
    finally:
        # A base image the user already had stays; one this test made goes.
        if docker_client.images.get(tag).id not in existing:
            tracker.remove_all()
            docker_client.images.remove(tag, force=True)

    assert version.exit_code == 0, version.output
    assert b"Claude Code" in version.output
    assert uid.exit_code == 0 and uid.output.strip() not in (b"", b"0")
    assert tools.exit_code == 0 and len(tools.output.split()) == 5
    assert default_user.output == b"agent\n"
