"""An unattended agent: claude skips permissions, and its first-run questions
are answered by settings written into the bottle before it starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

SETTINGS = "~/.claude/settings.json"
STATE = "~/.claude.json"
# gVisor refuses the statx(2) that stat and ls make; Python's stat(2) works.
OWNER_AND_MODE = (
    "import os, sys; info = os.stat(sys.argv[1]); "
    "print(info.st_uid, oct(info.st_mode & 0o777))"
)


@pytest.fixture
def project(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path)


def claude(bottle: DockerBottle, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert bottle.exec_claude(list(argv), tty=False) == 0
    return capsys.readouterr().out


def test_an_unattended_agent_skips_permissions_with_claudes_prompts_answered(
    monkeypatch: pytest.MonkeyPatch,
    agent_image: str,
    proxy_image: str,
    project: Project,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_test_images(monkeypatch, agent_image, proxy_image)
    backend = DockerBottleBackend()
    spec = make_spec(project, unique_agent("alone"), unattended=True)
    plan = backend.prepare(spec, stage_dir=new_stage_dir())

    with backend.launch(plan) as bottle:
        assert isinstance(bottle, DockerBottle)
        report: dict[str, Any] = json.loads(claude(bottle, capsys, "report"))
        settings = json.loads(claude(bottle, capsys, "sh", f"cat {SETTINGS}"))
        state = json.loads(claude(bottle, capsys, "sh", f"cat {STATE}"))
        owner = claude(bottle, capsys, "sh", f"python3 -c '{OWNER_AND_MODE}' {STATE}")

    assert report["argv"][1] == "--dangerously-skip-permissions"
    uid = bottle.user.uid
    files = {entry["path"]: entry for entry in report["claude_files"]}
    assert files["/home/agent/.claude/settings.json"]["mode"] == "0o600"
    assert files["/home/agent/.claude/settings.json"]["uid"] == uid
    assert owner.split() == [str(uid), "0o600"]

    assert settings["permissions"]["defaultMode"] == "bypassPermissions"
    assert settings["skipDangerousModePermissionPrompt"] is True
    assert state["hasCompletedOnboarding"] is True
    assert state["projects"][plan.workdir]["hasTrustDialogAccepted"] is True
    # The project folder claude trusts is the one it runs in.
    assert report["cwd"] == plan.workdir
