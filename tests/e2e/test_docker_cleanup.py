"""Cleanup after a killed run, the active list, and two launches at once.

A run is killed for real: a child process launches a bottle and is sent
SIGKILL, so nothing of its own removes what it made. Cleanup must find
exactly that, and leave a live session and an unlabelled look-alike alone.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bot_bottle.backend import Bottle
from bot_bottle.backend.docker import (
    DockerBottleBackend,
    DockerBottleCleanupPlan,
    DockerBottlePlan,
    labels,
)

from .conftest import TEST_LABEL, ResourceTracker
from .docker_support import (
    Project,
    make_spec,
    module_project,
    new_stage_dir,
    session_resources,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine

#: Launches a bottle, says so, and waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot_bottle.backend import BottleSpec
    from bot_bottle.backend.docker import DockerBottleBackend
    from bot_bottle.manifest import load_manifest
    from bot_bottle.stage import staging

    agent, manifest_path, workdir, stage_dir = sys.argv[1:5]
    spec = BottleSpec(agent=agent, manifest=load_manifest(Path(manifest_path)),
                      manifest_path=Path(manifest_path), workdir=Path(workdir))
    backend = DockerBottleBackend()
    plan = backend.prepare(spec, stage_dir=Path(stage_dir))
    with backend.launch(plan):
        print("READY", plan.session, flush=True)
        time.sleep(600)
    """
)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("cleanup"))


@pytest.fixture
def backend(
    monkeypatch: pytest.MonkeyPatch, agent_image: str, proxy_image: str
) -> DockerBottleBackend:
    use_test_images(monkeypatch, agent_image, proxy_image)
    return DockerBottleBackend()


def launch_and_kill(project: Project, agent: str, stage_dir: Path) -> str:
    """Launch a bottle in a child process, SIGKILL it; the session it left."""
    spec = make_spec(project, agent)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            agent,
            str(spec.manifest_path),
            str(project.workdir),
            str(stage_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], 120)
        line = child.stdout.readline() if ready else ""
        assert line.startswith("READY "), f"the child did not launch: {line!r}"
        return line.split()[1]
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()


def look_alike(
    client: docker.DockerClient, tracker: ResourceTracker, image: str, agent: str
) -> list[str]:
    """A network and a container named like a session's, without our labels."""
    stem = f"bot-bottle-{agent}-0dead0"
    network = client.networks.create(f"{stem}-internal", labels={TEST_LABEL: "x"})
    tracker.network(network.id)
    container = client.containers.create(
        image, ["true"], name=stem, labels={TEST_LABEL: "x"}
    )
    tracker.container(container.id)
    return [network.id, container.id]


def only_session(
    client: docker.DockerClient, plan: DockerBottleCleanupPlan, session: str
) -> DockerBottleCleanupPlan:
    """The part of `plan` that belongs to `session`.

    Other runs on this engine may have left orphans of their own; this test
    removes only what it made.
    """
    where = labels.session_filter(session)
    found = client.api.containers(all=True, filters=where)
    containers = {each["Id"] for each in found}
    stages = {Path(each["Labels"].get(labels.STAGE, "")) for each in found}
    networks = {each["Id"] for each in client.api.networks(filters=where)}
    return DockerBottleCleanupPlan(
        items=[item for item in plan.items if item.session == session],
        container_ids=[each for each in plan.container_ids if each in containers],
        network_ids=[each for each in plan.network_ids if each in networks],
        stage_dirs=[each for each in plan.stage_dirs if each in stages],
    )


def test_cleanup_removes_a_killed_runs_resources_and_nothing_else(
    backend: DockerBottleBackend,
    project: Project,
    docker_client: docker.DockerClient,
    tracker: ResourceTracker,
    agent_image: str,
) -> None:
    agent = unique_agent("killed")
    killed_stage = new_stage_dir()
    killed = launch_and_kill(project, agent, killed_stage)
    assert len(session_resources(docker_client, killed)) == 4
    assert killed_stage.exists()
    strangers = look_alike(docker_client, tracker, agent_image, agent)

    live_plan = backend.prepare(make_spec(project, agent), stage_dir=new_stage_dir())
    assert isinstance(live_plan, DockerBottlePlan)
    with backend.launch(live_plan):
        plan = backend.prepare_cleanup()
        assert isinstance(plan, DockerBottleCleanupPlan)
        assert killed in plan.sessions
        assert live_plan.session not in plan.sessions
        assert not set(strangers) & {*plan.container_ids, *plan.network_ids}
        assert killed_stage in plan.stage_dirs
        kinds = sorted(item.kind for item in plan.items if item.session == killed)
        assert kinds == ["container", "container", "network", "network"]

        mine = only_session(docker_client, plan, killed)
        backend.cleanup(mine)
        assert session_resources(docker_client, killed) == []
        assert not killed_stage.exists()
        assert len(session_resources(docker_client, live_plan.session)) == 4
        docker_client.networks.get(strangers[0])
        docker_client.containers.get(strangers[1])

        # What is already gone is not an error the second time.
        backend.cleanup(mine)
    assert session_resources(docker_client, live_plan.session) == []


def test_list_active_leaves_out_a_killed_run(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    killed = launch_and_kill(project, unique_agent("gone"), new_stage_dir())
    try:
        assert killed not in {each.session for each in backend.list_active()}
    finally:
        plan = only_session(docker_client, backend.prepare_cleanup(), killed)
        backend.cleanup(plan)
    assert session_resources(docker_client, killed) == []


def test_two_launches_of_one_agent_at_once_both_work(
    backend: DockerBottleBackend, project: Project, docker_client: docker.DockerClient
) -> None:
    spec = make_spec(project, unique_agent("twin"))
    both_up = threading.Barrier(2, timeout=120)
    results: dict[int, tuple[str, int]] = {}
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            plan = backend.prepare(spec, stage_dir=new_stage_dir())
            assert isinstance(plan, DockerBottlePlan)
            with backend.launch(plan) as bottle:
                both_up.wait()
                results[slot] = (bottle.name, status_of(bottle))
                both_up.wait()
        except BaseException as exc:
            errors.append(exc)
            both_up.abort()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert not errors, errors
    names = {name for name, _ in results.values()}
    assert len(names) == 2
    assert [status for _, status in results.values()] == [0, 0]
    assert time.monotonic() - started < 180
    for name in names:
        assert not docker_client.containers.list(all=True, filters={"name": name})


def status_of(bottle: Bottle) -> int:
    return bottle.exec_claude(["exit", "0"], tty=False)
