"""Teardown on every way out of a launch: nothing labelled and no stage dir left.

Each test injects a failure at one step of the launch (or leaves it normally,
or by Ctrl-C) and then asks the engine for anything labelled with the
session.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bot_bottle.backend import Bottle, BottlePlan
from bot_bottle.backend.docker import DockerBottleBackend, DockerBottlePlan
from bot_bottle.errors import BackendError, BadInputError, LaunchError
from bot_bottle.stage import remove_stage_dir, staging

from .conftest import ResourceTracker
from .docker_support import (
    Project,
    agent_resources,
    make_spec,
    module_project,
    new_stage_dir,
    session_resources,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("teardown"))


@pytest.fixture
def backend(
    monkeypatch: pytest.MonkeyPatch, agent_image: str, proxy_image: str
) -> Iterator[DockerBottleBackend]:
    use_test_images(monkeypatch, agent_image, proxy_image)
    yield DockerBottleBackend()


def prepared(backend: DockerBottleBackend, project: Project) -> DockerBottlePlan:
    plan = backend.prepare(
        make_spec(project, unique_agent()), stage_dir=new_stage_dir()
    )
    assert isinstance(plan, DockerBottlePlan)
    assert (plan.stage_dir / "pipelock.yaml").is_file()
    return plan


def assert_nothing_left(client: docker.DockerClient, plan: DockerBottlePlan) -> None:
    assert session_resources(client, plan.session) == []
    assert not plan.stage_dir.exists()


def test_normal_exit_removes_everything(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = prepared(backend, project)
    with backend.launch(plan) as bottle:
        assert len(session_resources(docker_client, plan.session)) == 4
        assert bottle.exec_claude(["exit", "0"], tty=False) == 0
    assert_nothing_left(docker_client, plan)


def test_prepare_creates_nothing_and_a_missing_base_image_is_bad_input(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOT_BOTTLE_BASE_IMAGE", "bot-bottle-test-missing:nope")
    agent = unique_agent()
    with staging() as stage_dir:
        with pytest.raises(BadInputError, match="BOT_BOTTLE_BASE_IMAGE"):
            backend.prepare(make_spec(project, agent), stage_dir=stage_dir)
        assert list(stage_dir.iterdir()) == []
    assert agent_resources(docker_client, agent) == []


def test_an_image_gone_at_launch_fails_the_agent_step_and_leaves_nothing(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = dataclasses.replace(prepared(backend, project), image="bot-bottle-gone:x")
    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step == "creating the agent container"
    assert "bot-bottle-gone:x" in str(caught.value)
    assert_nothing_left(docker_client, plan)


def test_a_network_name_collision_fails_the_network_step_and_spares_the_other(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
) -> None:
    plan = prepared(backend, project)
    squatter = docker_client.networks.create(plan.names.egress_network)
    tracker.network(squatter.id)

    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step == "creating the networks"
    assert_nothing_left(docker_client, plan)
    assert docker_client.networks.get(squatter.id).name == plan.names.egress_network


def test_a_sidecar_whose_command_fails_fails_the_proxy_step(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
    agent_image: str,
) -> None:
    # The agent image has no `run` program: the proxy's command cannot start.
    monkeypatch.setenv("BOT_BOTTLE_PIPELOCK_IMAGE", agent_image)
    plan = prepared(backend, project)
    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step == "starting the egress proxy"
    assert_nothing_left(docker_client, plan)


def test_a_sidecar_that_exits_fails_with_the_tail_of_its_log(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = prepared(backend, project)
    # pipelock stops on a key it does not know; so does the stand-in.
    config = plan.stage_dir / "pipelock.yaml"
    config.write_text(config.read_text() + "no_such_key: true\n")
    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step == "starting the egress proxy"
    assert "exited" in caught.value.cause
    assert "no_such_key" in caught.value.detail
    assert_nothing_left(docker_client, plan)


def test_an_unknown_runtime_fails_the_agent_step(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = dataclasses.replace(prepared(backend, project), runtime="no-such-runtime")
    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step in {
        "creating the agent container",
        "starting the agent container",
    }
    assert_nothing_left(docker_client, plan)


def test_a_provisioning_failure_fails_the_provisioning_step(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: DockerBottleBackend, plan: BottlePlan, target: Bottle) -> None:
        raise BackendError("the key could not be copied (injected)")

    monkeypatch.setattr(DockerBottleBackend, "provision_ssh", broken)
    plan = prepared(backend, project)
    with pytest.raises(LaunchError) as caught, backend.launch(plan):
        pytest.fail("the launch should have failed")
    assert caught.value.step == "provisioning the bottle"
    assert "injected" in caught.value.cause
    assert_nothing_left(docker_client, plan)


def test_ctrl_c_during_provisioning_removes_everything(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(
        self: DockerBottleBackend, plan: BottlePlan, target: Bottle
    ) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DockerBottleBackend, "provision_skills", interrupted)
    plan = prepared(backend, project)
    with pytest.raises(KeyboardInterrupt), backend.launch(plan):
        pytest.fail("the launch should have been interrupted")
    assert_nothing_left(docker_client, plan)


def test_ctrl_c_inside_the_session_removes_everything(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = prepared(backend, project)
    with pytest.raises(KeyboardInterrupt), backend.launch(plan):
        raise KeyboardInterrupt
    assert_nothing_left(docker_client, plan)


def test_an_error_inside_the_session_is_not_masked_by_teardown(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = prepared(backend, project)
    with pytest.raises(ZeroDivisionError), backend.launch(plan) as bottle:
        # Removed behind the backend's back: teardown must tolerate it.
        docker_client.containers.get(bottle.name).remove(force=True)
        raise ZeroDivisionError
    assert_nothing_left(docker_client, plan)


def test_teardown_twice_is_harmless(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    plan = prepared(backend, project)
    with backend.launch(plan) as bottle:
        bottle.teardown()
        assert_nothing_left(docker_client, plan)
    bottle.teardown()
    assert_nothing_left(docker_client, plan)


def test_the_stage_dir_is_removed_with_the_bottle(
    backend: DockerBottleBackend, project: Project
) -> None:
    plan = prepared(backend, project)
    stage_dir: Path = plan.stage_dir
    with backend.launch(plan):
        assert (stage_dir / "pipelock.yaml").is_file()
    assert not stage_dir.exists()


def test_prepare_asks_docker_info_once_logs_the_runtime_once_creates_nothing(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = backend.engine.client
    asked: list[dict[str, object]] = []

    def info() -> dict[str, object]:
        asked.append(docker_client.info())
        return asked[-1]

    monkeypatch.setattr(client, "info", info)
    agent = unique_agent()
    # Captured on the product's logger itself (the CLI stops it propagating),
    # and only there, so each record is seen once.
    product_log = logging.getLogger("bot_bottle")
    monkeypatch.setattr(product_log, "handlers", [caplog.handler])
    monkeypatch.setattr(product_log, "propagate", False)
    with caplog.at_level(logging.INFO, logger="bot_bottle"):
        plan = backend.prepare(make_spec(project, agent), stage_dir=new_stage_dir())
    remove_stage_dir(plan.stage_dir)

    assert len(asked) == 1
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "bot_bottle" and "docker runtime:" in record.getMessage()
    ]
    registered = "runsc" in (asked[0].get("Runtimes") or {})  # type: ignore[operator]
    expected = "runsc (gVisor)" if registered else "runc (default)"
    assert lines == [f"docker runtime: {expected}"]
    assert agent_resources(docker_client, agent) == []
