"""The headless commands over the Docker backend, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import docker
import pytest

from bot_bottle.backend.docker import DockerBottleBackend, DockerBottlePlan

from .docker_support import (
    Project,
    agent_resources,
    make_spec,
    module_project,
    new_stage_dir,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine

SECRET_NAME = "BOT_BOTTLE_TEST_CLI_SECRET"
SECRET_VALUE = "canary-cli-5e9b"


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("cli"))


def bot_bottle(
    project: Project,
    agent: str,
    args: list[str],
    images: tuple[str, str],
    stdin: str = "",
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BOT_BOTTLE_BASE_IMAGE": images[0],
        "BOT_BOTTLE_PIPELOCK_IMAGE": images[1],
        "BOT_BOTTLE_MANIFEST": str(project.manifests / f"{agent}.json"),
        SECRET_NAME: SECRET_VALUE,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot_bottle", *args],
        cwd=project.workdir,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_start_runs_claude_and_exits_with_its_status_leaving_nothing(
    project: Project,
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
) -> None:
    agent = unique_agent("cli")
    make_spec(project, agent, forward=[SECRET_NAME])
    result = bot_bottle(
        project,
        agent,
        ["start", agent, "--no-tui", "--yes", "--", "getenv", SECRET_NAME],
        (agent_image, proxy_image),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(SECRET_VALUE)
    assert "docker runtime: run" in result.stdout + result.stderr
    assert f"bot-bottle-{agent}-" in result.stdout
    assert SECRET_VALUE not in result.stderr
    assert SECRET_VALUE not in result.stdout.replace(SECRET_VALUE + "\n", "", 1)
    assert agent_resources(docker_client, agent) == []

    failed = bot_bottle(
        project,
        agent,
        ["start", agent, "--no-tui", "--yes", "--", "exit", "5"],
        (agent_image, proxy_image),
    )
    assert failed.returncode == 5, failed.stderr
    assert agent_resources(docker_client, agent) == []


def test_answering_no_creates_nothing(
    project: Project,
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
) -> None:
    agent = unique_agent("no")
    make_spec(project, agent)
    result = bot_bottle(
        project, agent, ["start", agent, "--no-tui"], (agent_image, proxy_image), "n\n"
    )
    assert result.returncode == 1
    assert "nothing was created" in result.stderr
    assert agent_resources(docker_client, agent) == []


def test_list_shows_a_running_bottle(
    project: Project,
    agent_image: str,
    proxy_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_test_images(monkeypatch, agent_image, proxy_image)
    agent = unique_agent("listed")
    backend = DockerBottleBackend()
    plan = backend.prepare(make_spec(project, agent), stage_dir=new_stage_dir())
    assert isinstance(plan, DockerBottlePlan)
    with backend.launch(plan):
        result = bot_bottle(
            project, agent, ["list", "--json"], (agent_image, proxy_image)
        )
    assert result.returncode == 0, result.stderr
    listed = {each["session"]: each for each in json.loads(result.stdout)}
    assert listed[plan.session]["agent"] == agent
    assert sorted(listed[plan.session]["containers"]) == [
        plan.names.container,
        plan.names.sidecar,
    ]


def test_sigterm_mid_session_tears_everything_down(
    project: Project,
    docker_client: docker.DockerClient,
    agent_image: str,
    proxy_image: str,
) -> None:
    agent = unique_agent("term")
    make_spec(project, agent)
    env = {
        **os.environ,
        "BOT_BOTTLE_BASE_IMAGE": agent_image,
        "BOT_BOTTLE_PIPELOCK_IMAGE": proxy_image,
        "BOT_BOTTLE_MANIFEST": str(project.manifests / f"{agent}.json"),
    }
    # The plan shows the command; only the shell's output shows "session-42".
    script = "echo session-$((40 + 2)); sleep 120"
    started = time.monotonic()
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot_bottle",
            "start",
            agent,
            "--no-tui",
            "--yes",
            "--",
            "sh",
            script,
        ],
        cwd=project.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as child:
        assert child.stdout is not None
        seen = ""
        for line in child.stdout:
            seen += line
            if "session-42" in line:
                break
        assert "session-42" in seen, seen
        assert len(agent_resources(docker_client, agent)) == 4
        child.send_signal(signal.SIGTERM)
        status = child.wait(timeout=60)
    assert status != 0
    assert time.monotonic() - started < 100
    assert agent_resources(docker_client, agent) == []
