"""The real `bot-bottle` dashboard, driven in a real terminal (tmux), on a real engine.

Open it, pick an agent, approve its plan, reach the test stand-in's `claude`
in the handed-over terminal, answer it, and come back to the dashboard with no
bottle left behind.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from .docker_support import Project, agent_resources, make_project

pytestmark = pytest.mark.engine

WIDTH, HEIGHT = 110, 32


class Terminal:
    """A tmux session running one command, read as a person would read it."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.name = f"bot-bottle-test-{uuid.uuid4().hex[:6]}"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        script = f"cd {shlex.quote(str(cwd))} && env {exports} {command}; "
        script += "echo EXIT-STATUS=$?; sleep 600"
        self._tmux(
            "new-session",
            "-d",
            "-s",
            self.name,
            "-x",
            str(WIDTH),
            "-y",
            str(HEIGHT),
            script,
        )

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def press(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(
            ["tmux", "kill-session", "-t", self.name], capture_output=True, check=False
        )

    @staticmethod
    def _tmux(*args: str) -> str:
        result = subprocess.run(
            ["tmux", *args], capture_output=True, text=True, check=True
        )
        return result.stdout


@pytest.fixture
def project(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Project]:
    made = make_project(tmp_path)
    yield made
    where = {"label": f"dev.bot-bottle.workdir={made.workdir.resolve()}"}
    for image in docker_client.images.list(filters=where):
        docker_client.images.remove(image.id, force=True)


@pytest.fixture
def terminal_for(
    project: Project, agent_image: str, proxy_image: str
) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed to drive the dashboard in a real terminal")
    agent = f"tty-{uuid.uuid4().hex[:6]}"
    manifest = project.manifests / "bot-bottle.json"
    manifest.write_text(
        json.dumps(
            {
                "bottles": {"box": {"egress": {"allowlist": ["api.anthropic.com"]}}},
                "agents": {
                    agent: {
                        "bottle": "box",
                        "description": "answers in a tty",
                        "claude_args": ["tty"],
                    }
                },
            }
        )
    )
    env = {
        "BOT_BOTTLE_MANIFEST": str(manifest),
        "BOT_BOTTLE_BASE_IMAGE": agent_image,
        "BOT_BOTTLE_PIPELOCK_IMAGE": proxy_image,
        "PATH": os.environ["PATH"],
        "TERM": "xterm-256color",
    }
    command = f"{shlex.quote(sys.executable)} -m bot_bottle"
    terminal = Terminal(command, project.workdir, env)
    terminal.agent = agent  # type: ignore[attr-defined]
    try:
        yield terminal
    finally:
        terminal.close()


def test_pick_approve_reach_claude_exit_and_return_with_no_bottle_left(
    terminal_for: Terminal, docker_client: docker.DockerClient
) -> None:
    terminal = terminal_for
    agent: str = terminal.agent  # type: ignore[attr-defined]

    terminal.wait_for("answers in a tty")
    terminal.press("Enter")
    terminal.wait_for(f"Plan for {agent}")
    terminal.wait_for("y approves")
    terminal.press("y")

    handed_over = terminal.wait_for('"isatty": true')
    assert f'"columns": {WIDTH}' in handed_over
    terminal.press("hello from the test", "Enter")

    back = terminal.wait_for("claude exited with status 3")
    assert "Active bottles" in back
    assert agent_resources(docker_client, agent) == []

    terminal.press("q")
    terminal.wait_for("EXIT-STATUS=0", timeout=30)
