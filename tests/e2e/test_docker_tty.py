"""The interactive session through a real pseudo-terminal.

A child process, whose standard streams are the slave side of a new pty,
launches a bottle and runs the stand-in claude's `tty` command, which reports
its terminal, echoes one line and exits 3. The test types on the master side.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from collections.abc import Iterator

import docker
import pytest

from bot_bottle.backend.docker.bottle import MOUSE_RESET

from .docker_support import Project, make_spec, module_project, unique_agent

pytestmark = pytest.mark.engine

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from bot_bottle.backend import BottleSpec
    from bot_bottle.backend.docker import DockerBottleBackend
    from bot_bottle.manifest import load_manifest
    from bot_bottle.stage import staging

    agent, manifest_path, workdir, argv = sys.argv[1:5]
    spec = BottleSpec(agent=agent, manifest=load_manifest(Path(manifest_path)),
                      manifest_path=Path(manifest_path), workdir=Path(workdir))
    backend = DockerBottleBackend()
    with staging() as stage_dir:
        plan = backend.prepare(spec, stage_dir=stage_dir)
        with backend.launch(plan) as bottle:
            status = bottle.exec_claude(json.loads(argv))
    sys.exit(status)
    """
)

COLUMNS, ROWS = 97, 31


def read_until(master: int, needle: bytes, deadline: float, seen: bytearray) -> None:
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {needle!r} in {bytes(seen)[-2000:]!r}"
        ready, _, _ = select.select([master], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the slave side is closed
            chunk = b""
        assert chunk, f"the terminal closed before {needle!r}: {bytes(seen)!r}"
        seen += chunk


def drain(master: int, seen: bytearray) -> None:
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


class Terminal:
    """A child process launching a bottle on the slave side of a new pty."""

    def __init__(self, project: Project, argv: list[str], env: dict[str, str]):
        spec = make_spec(project, unique_agent("tty"))
        self.master, self.slave = os.openpty()
        size = struct.pack("HHHH", ROWS, COLUMNS, 0, 0)
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, size)
        self.modes = termios.tcgetattr(self.slave)
        self.seen = bytearray()
        self.deadline = time.monotonic() + 180
        command = [sys.executable, "-c", CHILD, spec.agent, str(spec.manifest_path)]
        self.child = subprocess.Popen(
            [*command, str(project.workdir), json.dumps(argv)],
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            env=env,
            start_new_session=True,
        )

    def expect(self, needle: bytes) -> None:
        read_until(self.master, needle, self.deadline, self.seen)

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> int:
        status = self.child.wait(timeout=60)
        drain(self.master, self.seen)
        return status

    def close(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        os.close(self.slave)
        os.close(self.master)


@pytest.fixture
def terminal_env(agent_image: str, proxy_image: str) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_BOTTLE_BASE_IMAGE": agent_image,
        "BOT_BOTTLE_PIPELOCK_IMAGE": proxy_image,
    }


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> Iterator[Project]:
    yield from module_project(docker_client, tmp_path_factory.mktemp("tty"))


def test_claude_gets_a_real_terminal_and_its_exit_status(
    project: Project, terminal_env: dict[str, str]
) -> None:
    terminal = Terminal(project, ["tty"], terminal_env)
    try:
        terminal.expect(b'"isatty": true')
        assert f'"columns": {COLUMNS}'.encode() in terminal.seen
        assert f'"rows": {ROWS}'.encode() in terminal.seen
        terminal.type(b"hello from the pty\r")
        terminal.expect(b"got: hello from the pty")
        assert terminal.finish() == 3
        # The docker CLI put the terminal in raw mode; it must be restored.
        assert termios.tcgetattr(terminal.slave) == terminal.modes
    finally:
        terminal.close()
    assert MOUSE_RESET.encode() in terminal.seen


def test_ctrl_c_reaches_claude_not_bot_bottle(
    project: Project, terminal_env: dict[str, str]
) -> None:
    script = "trap 'echo caught-int' INT; echo armed; while :; do sleep 0.1; done"
    terminal = Terminal(project, ["sh", script], terminal_env)
    try:
        terminal.expect(b"armed")
        terminal.type(b"\x03")
        terminal.expect(b"caught-int")
        # The whole foreground group in the bottle gets SIGINT: the stand-in
        # claude (python) too, which exits 130; bot-bottle returns its status.
        assert terminal.finish() == 130
    finally:
        terminal.close()
