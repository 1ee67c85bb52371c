"""A bottle launched through the Docker backend, looked at from inside and out.

One bottle serves the whole module: the tests here only read and run claude
(the test stand-in), which changes nothing another test depends on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from bot_bottle.backend import BottleState
from bot_bottle.backend.docker import DockerBottle, DockerBottleBackend, labels
from bot_bottle.backend.docker.bottle_plan import DockerBottlePlan
from bot_bottle.errors import BackendError

from .conftest import ResourceTracker
from .docker_support import (
    HTTP_PORT,
    PROMPT_TEXT,
    Project,
    Targets,
    connect_sidecar,
    egress_targets,
    make_spec,
    module_project,
    new_stage_dir,
    session_resources,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine

SECRET_NAME = "BOT_BOTTLE_TEST_SECRET"
SECRET_VALUE = "canary-7c1f0d2e"


@dataclass
class Launched:
    bottle: DockerBottle
    plan: DockerBottlePlan
    targets: Targets
    backend: DockerBottleBackend


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("bottle"))


@pytest.fixture(scope="module")
def launched(
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
    project: Project,
) -> Iterator[Launched]:
    tracker = ResourceTracker(docker_client)
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_test_images(monkeypatch, agent_image, proxy_image)
        monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
        try:
            with egress_targets(docker_client, tracker, agent_image) as targets:
                backend = DockerBottleBackend()
                spec = make_spec(
                    project,
                    unique_agent("bottle"),
                    allowlist=[targets.allowed_ip, "example.com"],
                    ssh_hosts=[targets.allowed_ip],
                    forward=[SECRET_NAME],
                    literals={"BOT_BOTTLE_TEST_MODE": "literal-value"},
                )
                plan = backend.prepare(spec, stage_dir=new_stage_dir())
                with backend.launch(plan) as bottle:
                    assert isinstance(bottle, DockerBottle)
                    connect_sidecar(docker_client, plan.names.sidecar, targets)
                    yield Launched(bottle, plan, targets, backend)
        finally:
            tracker.remove_all()


def run(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    capsys.readouterr()
    status = bottle.exec_claude(list(argv), tty=False)
    return status, capsys.readouterr().out


def run_json(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], *argv: str
) -> dict[str, Any]:
    status, out = run(bottle, capsys, *argv)
    assert status == 0, out
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def fetch(
    bottle: DockerBottle, capsys: pytest.CaptureFixture[str], url: str
) -> dict[str, Any]:
    # The target servers start alongside the bottle; give them a moment.
    deadline = time.monotonic() + 10
    while True:
        result = run_json(bottle, capsys, "fetch", url)
        if result.get("status") != 502 or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_an_allowlisted_host_is_reached_through_the_proxy(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://{launched.targets.allowed_ip}:{HTTP_PORT}/"
    result = fetch(launched.bottle, capsys, url)
    assert result["status"] == 200
    assert "allowed-ok" in result["body_head"]


def test_a_host_off_the_allowlist_is_refused_by_the_proxy(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://{launched.targets.refused_ip}:{HTTP_PORT}/"
    result = fetch(launched.bottle, capsys, url)
    assert result["status"] == 403
    assert "refused-ok" not in result.get("body_head", "")


def test_a_direct_connection_past_the_proxy_fails(
    launched: Launched,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    sidecar = docker_client.containers.get(launched.plan.names.sidecar)
    networks = sidecar.attrs["NetworkSettings"]["Networks"]
    egress_ip = networks[launched.plan.names.egress_network]["IPAddress"]
    for host, port in (
        (launched.targets.allowed_ip, HTTP_PORT),
        (egress_ip, 8888),
        ("1.1.1.1", 80),
    ):
        result = run_json(launched.bottle, capsys, "connect", host, str(port))
        assert result["ok"] is False, (host, port)


def test_the_runtime_is_runsc_exactly_when_the_engine_registers_it(
    launched: Launched, docker_client: docker.DockerClient
) -> None:
    registered = "runsc" in (docker_client.info().get("Runtimes") or {})
    agent = docker_client.containers.get(launched.plan.names.container)
    runtime = agent.attrs["HostConfig"]["Runtime"]
    assert runtime == ("runsc" if registered else "runc")
    assert launched.plan.runtime == ("runsc" if registered else None)
    assert agent.labels[labels.RUNTIME] == runtime


def test_the_agent_is_on_the_internal_network_only_and_the_sidecar_on_both(
    launched: Launched, docker_client: docker.DockerClient
) -> None:
    names = launched.plan.names
    agent = docker_client.containers.get(names.container)
    sidecar = docker_client.containers.get(names.sidecar)
    assert set(agent.attrs["NetworkSettings"]["Networks"]) == {names.internal_network}
    assert {names.internal_network, names.egress_network} <= set(
        sidecar.attrs["NetworkSettings"]["Networks"]
    )
    internal = docker_client.networks.get(names.internal_network)
    assert internal.attrs["Internal"] is True
    assert internal.attrs["EnableIPv6"] is False
    assert docker_client.networks.get(names.egress_network).attrs["Internal"] is False


def test_proxy_variables_point_at_the_sidecar_by_address(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(launched.bottle, capsys, "report")
    proxy = f"http://{launched.bottle.proxy_host}:8888"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert report["proxy"][name] == proxy
    assert report["proxy"]["NO_PROXY"] == "localhost,127.0.0.1"
    assert report["proxy"]["no_proxy"] == "localhost,127.0.0.1"


def test_every_container_and_network_carries_the_session_labels(
    launched: Launched, docker_client: docker.DockerClient
) -> None:
    names = launched.plan.names
    resources = [
        docker_client.containers.get(names.container).labels,
        docker_client.containers.get(names.sidecar).labels,
        docker_client.networks.get(names.internal_network).attrs["Labels"],
        docker_client.networks.get(names.egress_network).attrs["Labels"],
    ]
    for found in resources:
        assert found[labels.MANAGED] == "true"
        assert found[labels.SESSION] == launched.plan.session
        assert found[labels.AGENT] == launched.plan.agent
        assert found[labels.BOTTLE] == "box"
        owner = labels.Owner.parse(found[labels.OWNER])
        assert owner is not None and owner.pid == os.getpid() and owner.is_alive()
    assert [found[labels.ROLE] for found in resources[:2]] == ["agent", "sidecar"]


def test_claude_runs_as_the_agent_in_the_project_with_the_env_by_name(
    launched: Launched,
    capsys: pytest.CaptureFixture[str],
    docker_client: docker.DockerClient,
) -> None:
    report = run_json(launched.bottle, capsys, "report")
    assert report["user"] == "agent"
    assert report["cwd"] == str(launched.plan.spec.workdir.resolve())
    assert {SECRET_NAME, "BOT_BOTTLE_TEST_MODE"} <= set(report["env_names"])

    assert run(launched.bottle, capsys, "getenv", SECRET_NAME) == (
        0,
        SECRET_VALUE + "\n",
    )
    agent = docker_client.containers.get(launched.plan.names.container)
    assert SECRET_VALUE not in json.dumps(agent.attrs)


def test_prompt_skills_ssh_key_and_git_are_in_place(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    report = run_json(launched.bottle, capsys, "report")
    uid = launched.bottle.user.uid
    claude = {entry["path"]: entry for entry in report["claude_files"]}
    assert "/home/agent/.claude/CLAUDE.md" in claude
    assert "/home/agent/.claude/skills/hello/SKILL.md" in claude
    assert all(entry["uid"] == uid for entry in claude.values())

    ssh = {entry["path"]: entry for entry in report["ssh_files"]}
    keys = [entry for path, entry in ssh.items() if "/id_bot_bottle_" in path]
    assert len(keys) == 1
    assert keys[0]["mode"] == "0o600" and keys[0]["uid"] == uid
    assert "/home/agent/.ssh/config" in ssh

    assert report["git_dir"] is True
    assert "first commit" in (report["git_head"] or "")
    status, out = run(launched.bottle, capsys, "sh", "cat ~/.claude/CLAUDE.md")
    assert (status, out) == (0, PROMPT_TEXT)


def test_the_ssh_proxy_command_tunnels_through_the_sidecar(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    helper = "~/.ssh/bot-bottle/connect"
    request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
    allowed, refused = launched.targets.allowed_ip, launched.targets.refused_ip

    status, out = run(
        launched.bottle, capsys, "sh", f"{request} | {helper} {allowed} {HTTP_PORT}"
    )
    assert status == 0 and "allowed-ok" in out, out

    status, out = run(
        launched.bottle, capsys, "sh", f"{request} | {helper} {refused} {HTTP_PORT}"
    )
    assert status != 0 and "refused-ok" not in out
    status, out = run(launched.bottle, capsys, "sh", "grep ProxyCommand ~/.ssh/config")
    assert "ProxyCommand /home/agent/.ssh/bot-bottle/connect %h %p" in out


def test_git_sees_the_copied_in_tree_as_unchanged(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run(
        launched.bottle,
        capsys,
        "sh",
        "git config core.checkStat && git status --porcelain && echo clean",
    )

    assert status == 0, out
    assert out.split() == ["minimal", "clean"]


def test_exec_claude_returns_claudes_exit_status(
    launched: Launched, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(launched.bottle, capsys, "exit", "7")[0] == 7


def test_cp_in_copies_a_folder_keeping_modes(
    launched: Launched, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "kit"
    folder.mkdir()
    (folder / "run.sh").write_text("#!/bin/sh\necho kit-ran\n")
    (folder / "run.sh").chmod(0o750)
    (folder / "notes.txt").write_text("notes\n")
    (folder / "notes.txt").chmod(0o640)
    launched.bottle.cp_in(folder, "/home/agent/kit")

    status, out = run(
        launched.bottle,
        capsys,
        "sh",
        # find, not stat: this gVisor release has no statx.
        "find /home/agent/kit -type f -printf '%p %m\\n' | sort"
        " && /home/agent/kit/run.sh",
    )
    assert status == 0, out
    assert out.splitlines() == [
        "/home/agent/kit/notes.txt 640",
        "/home/agent/kit/run.sh 750",
        "kit-ran",
    ]


def test_list_active_shows_the_running_bottle(launched: Launched) -> None:
    active = {each.session: each for each in launched.backend.list_active()}
    mine = active[launched.plan.session]
    assert mine.agent == launched.plan.agent
    assert mine.bottle == "box"
    assert mine.runtime == launched.plan.runtime_label
    assert set(mine.containers) == {
        launched.plan.names.container,
        launched.plan.names.sidecar,
    }
    assert mine.age() < 600


def test_a_stopped_bottle_refuses_with_a_plain_sentence(
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_test_images(monkeypatch, agent_image, proxy_image)
    backend = DockerBottleBackend()
    plan = backend.prepare(
        make_spec(project, unique_agent()), stage_dir=new_stage_dir()
    )
    with backend.launch(plan) as bottle:
        assert plan.session in {each.session for each in backend.list_active()}
    assert bottle.state is BottleState.STOPPED
    with pytest.raises(BackendError, match="is stopped"):
        bottle.exec_claude(["report"], tty=False)
    assert session_resources(docker_client, plan.session) == []
    assert not plan.stage_dir.exists()
