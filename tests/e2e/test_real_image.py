"""The shipped Dockerfile, built for real: Claude Code installed from npm.

Slow the first time (npm install; about a minute here), instant while the
image's inputs are unchanged, since the built image is then reused. Select
or skip it with `-m real_image` / `-m "not real_image"`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bot_bottle.backend.docker import DockerBottle, DockerBottleBackend
from bot_bottle.backend.docker.image import IMAGE_LABEL, ImageBuilder, agent_ids

from .conftest import TEST_LABEL, ResourceTracker
from .docker_support import (
    Project,
    make_spec,
    module_project,
    new_stage_dir,
    unique_agent,
)

pytestmark = [pytest.mark.engine, pytest.mark.real_image]

#: The CA of the TLS gateway between these machines and npm's registry.
CA_DIR = Path("/usr/local/share/ca-certificates")
CA_CERTS = tuple(sorted(CA_DIR.glob("*.crt")))


def base_image_ids(client: docker.DockerClient) -> set[str]:
    return {image.id for image in client.images.list(filters={"label": IMAGE_LABEL})}


@pytest.fixture(scope="module")
def base_image(docker_client: docker.DockerClient) -> Iterator[str]:
    """The shipped base image, built with the gateway's CA certificates.

    A base image the user already had stays; one this module made goes.
    """
    existing = base_image_ids(docker_client)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("BOT_BOTTLE_BASE_IMAGE", raising=False)
        tag = ImageBuilder(docker_client).base_image(ca_certs=CA_CERTS)
    try:
        yield tag
    finally:
        if docker_client.images.get(tag).id not in existing:
            docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def project(
    base_image: str,
    tmp_path_factory: pytest.TempPathFactory,
    docker_client: docker.DockerClient,
) -> Iterator[Project]:
    # After base_image, so its per-project images go before the base image.
    yield from module_project(docker_client, tmp_path_factory.mktemp("real"))


def test_the_shipped_image_runs_claude_as_a_user_who_is_not_root(
    docker_client: docker.DockerClient, tracker: ResourceTracker, base_image: str
) -> None:
    container = docker_client.containers.create(
        base_image, ["sleep", "infinity"], init=True, labels={TEST_LABEL: "real-image"}
    )
    tracker.container(container.id)
    container.start()

    version = container.exec_run(["claude", "--version"], user="agent")
    uid = container.exec_run(["id", "-u"], user="agent")
    on_path = "for t in claude git ssh tar sleep; do command -v $t || exit 1; done"
    tools = container.exec_run(["sh", "-c", on_path], user="agent")
    default_user = container.exec_run(["id", "-un"])

    assert version.exit_code == 0, version.output
    assert b"Claude Code" in version.output
    assert uid.exit_code == 0 and uid.output.strip() not in (b"", b"0")
    assert tools.exit_code == 0 and len(tools.output.split()) == 5
    assert default_user.output == b"agent\n"


def test_a_real_bottle_runs_claude_through_the_backend_as_the_host_user(
    base_image: str,
    project: Project,
    proxy_image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("BOT_BOTTLE_BASE_IMAGE", raising=False)
    monkeypatch.setenv("BOT_BOTTLE_PIPELOCK_IMAGE", proxy_image)
    spec = make_spec(project, unique_agent("real"))
    spec = dataclasses.replace(spec, ca_certs=CA_CERTS)
    backend = DockerBottleBackend()

    plan = backend.prepare(spec, stage_dir=new_stage_dir())
    with backend.launch(plan) as bottle:
        assert isinstance(bottle, DockerBottle)
        capsys.readouterr()
        status = bottle.exec_claude(["--version"], tty=False)
        version = capsys.readouterr().out
        ids = bottle.container.exec_run(
            ["sh", "-c", "id -u; id -g"], user=bottle.user.name
        )

    # The certificates reached the builder: the same inputs, the same image.
    assert plan.base_image == base_image
    assert status == 0, version
    assert "Claude Code" in version
    expected = agent_ids()
    assert expected[0] != 0
    assert (bottle.user.uid, bottle.user.gid) == expected
    assert ids.output.split() == [str(expected[0]).encode(), str(expected[1]).encode()]
