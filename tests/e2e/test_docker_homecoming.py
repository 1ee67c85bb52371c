"""The agent's work comes home from a real bottle as a branch on the host.

The test stand-in for claude runs shell commands inside (`claude sh CMD`),
playing an agent that commits, edits, and plants hostile git hooks and config.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bot_bottle.backend.docker import DockerBottle, DockerBottleBackend

from .docker_support import (
    Project,
    make_spec,
    module_project,
    new_stage_dir,
    unique_agent,
    use_test_images,
)

pytestmark = pytest.mark.engine


@pytest.fixture
def project(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Project]:
    # A project per test: each one brings work home into its repository.
    yield from module_project(docker_client, tmp_path)


@pytest.fixture
def backend(
    monkeypatch: pytest.MonkeyPatch, agent_image: str, proxy_image: str
) -> DockerBottleBackend:
    use_test_images(monkeypatch, agent_image, proxy_image)
    return DockerBottleBackend()


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def run_agent(
    backend: DockerBottleBackend, project: Project, *scripts: str
) -> str | None:
    plan = backend.prepare(
        make_spec(project, unique_agent("home")), stage_dir=new_stage_dir()
    )
    with backend.launch(plan) as bottle:
        for script in scripts:
            assert bottle.exec_claude(["sh", script], tty=False) == 0
    return bottle.work_branch


def test_a_commit_and_an_uncommitted_edit_come_home_as_a_branch(
    backend: DockerBottleBackend, project: Project
) -> None:
    start = git(project.workdir, "rev-parse", "HEAD")

    branch = run_agent(
        backend,
        project,
        "echo fixed > fix.txt && git add fix.txt && "
        "git -c user.name=agent -c user.email=a@b commit -q -m 'Add the fix'",
        "echo edited >> README.md",
    )

    assert branch is not None and branch.startswith("bot-bottle/home-")
    subjects = git(project.workdir, "log", "--format=%s", f"{start}..{branch}")
    assert subjects.splitlines()[1] == "Add the fix"
    assert subjects.splitlines()[0].startswith("Uncommitted work from bot-bottle")
    assert git(project.workdir, "show", f"{branch}:README.md").endswith("edited")
    assert git(project.workdir, "show", f"{branch}:fix.txt") == "fixed"
    # The user's checkout is untouched.
    assert git(project.workdir, "rev-parse", "HEAD") == start
    assert not (project.workdir / "fix.txt").exists()


def test_nothing_changed_makes_no_branch(
    backend: DockerBottleBackend, project: Project
) -> None:
    branch = run_agent(backend, project, "git status --short")

    assert branch is None
    assert git(project.workdir, "branch", "--list", "bot-bottle/*") == ""


def test_hooks_and_config_written_inside_are_never_run_or_adopted_on_the_host(
    backend: DockerBottleBackend, project: Project, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = f"#!/bin/sh\\ntouch {marker}\\n"
    hooks = ("post-checkout", "post-merge", "reference-transaction", "pre-push")
    plant = " && ".join(
        f"printf '{payload}' > .git/hooks/{hook} && chmod +x .git/hooks/{hook}"
        for hook in hooks
    )
    config = (
        f"git config core.fsmonitor 'touch {marker}' && "
        f"git config core.hooksPath .git/hooks && "
        f"git config alias.status '!touch {marker}'"
    )

    branch = run_agent(backend, project, plant, config, "echo work > work.txt")

    assert branch is not None
    git(project.workdir, "status")
    git(project.workdir, "checkout", "-q", branch)
    assert not marker.exists()
    host_config = (project.workdir / ".git" / "config").read_text()
    assert "fsmonitor" not in host_config
    assert "hooksPath" not in host_config
    assert "alias" not in host_config
    planted = [
        hook for hook in hooks if (project.workdir / ".git" / "hooks" / hook).exists()
    ]
    assert planted == []


def test_a_bottle_claude_never_ran_in_is_not_asked_for_work(
    backend: DockerBottleBackend, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def export_work(self: DockerBottle, base: str, bundle: Path) -> bool:
        asked.append(base)
        return False

    monkeypatch.setattr(DockerBottle, "export_work", export_work)
    plan = backend.prepare(
        make_spec(project, unique_agent("idle")), stage_dir=new_stage_dir()
    )

    with backend.launch(plan) as bottle:
        pass

    assert asked == []
    assert bottle.work_branch is None
