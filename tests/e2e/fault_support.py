"""Helpers for the fault suite: the CLI as a user runs it, argv sampling, and
stopping and starting the engine.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.errors import DockerException

from .docker_support import Project

__all__ = ["ArgvSampler", "cli", "read_until", "start_engine", "stop_engine"]

ENGINE_PID_FILE = Path("/var/run/docker.pid")
ENGINE_LOG = Path("/var/log/dockerd.log")


def cli(
    project: Project,
    agent: str,
    args: Sequence[str],
    images: tuple[str, str],
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`bot-bottle ARGS` started in the project, as a user would run it."""
    child_env = {
        **os.environ,
        "BOT_BOTTLE_BASE_IMAGE": images[0],
        "BOT_BOTTLE_PIPELOCK_IMAGE": images[1],
        "BOT_BOTTLE_MANIFEST": str(project.manifests / f"{agent}.json"),
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot_bottle", *args],
        cwd=project.workdir,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(child: subprocess.Popen[str], marker: str, seconds: float) -> str:
    """Read the child's stdout until it holds `marker`; what was read."""
    assert child.stdout is not None
    fd = child.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + seconds
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        seen += chunk
    text = seen.decode(errors="replace")
    assert marker in text, f"{marker!r} never came; the output was:\n{text}"
    return text


class ArgvSampler:
    """Reads every process's command line on the host, over and over.

    Runs in a thread while something launches; `found` holds every command
    line that carried one of the watched strings.
    """

    def __init__(self, watched: Sequence[str]) -> None:
        self.watched = [each.encode() for each in watched]
        self.found: list[str] = []
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @contextmanager
    def sampling(self) -> Iterator[ArgvSampler]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    self._check(entry.path)
            self.sweeps += 1

    def _check(self, folder: str) -> None:
        try:
            with open(f"{folder}/cmdline", "rb") as handle:
                argv = handle.read()
        except OSError:
            return
        if any(each in argv for each in self.watched):
            self.found.append(argv.replace(b"\0", b" ").decode(errors="replace"))


def stop_engine() -> list[str]:
    """Stop dockerd and wait until it is gone; its command line."""
    pid = int(ENGINE_PID_FILE.read_text().strip())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGTERM)
    _wait_gone(pid, 90)
    return [part.decode() for part in argv]


def start_engine(client: docker.DockerClient, argv: Sequence[str]) -> None:
    """Start dockerd with `argv`, its output appended to its log; wait for it."""
    with ENGINE_LOG.open("ab") as log:
        subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            start_new_session=True,
        )
    _wait_answering(client, 90)


def _wait_gone(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"dockerd (pid {pid}) did not stop")
        time.sleep(0.2)


def _wait_answering(client: docker.DockerClient, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.ping()
            return
        except (DockerException, OSError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError("dockerd did not answer after a restart") from exc
            time.sleep(0.5)
