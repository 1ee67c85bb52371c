"""What one benchmark run works in, and the sweep that removes all it made.

Every container and network the benchmark makes carries the agent name of
the run (`dev.bot-bottle.agent=bench-<id>`): bot-bottle labels its own
resources with it, and the benchmark's direct ones carry it beside
`dev.bot-bottle.benchmark=<id>`. The sweep at the end removes everything with
either label, the images built for the run's projects, and its folders.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import docker
from docker.errors import APIError

from bot_bottle.backend import BottleSpec
from bot_bottle.backend.docker import labels
from bot_bottle.manifest import load_manifest
from bot_bottle.stage import PREFIX as STAGE_PREFIX

__all__ = ["BENCH_LABEL", "Project", "Workspace", "interrupts_as_keyboard"]

#: Carried by everything the benchmark makes directly, with the run's id.
BENCH_LABEL = "dev.bot-bottle.benchmark"
#: The image build label bot-bottle puts on a project's image.
WORKDIR_LABEL = "dev.bot-bottle.workdir"

PROMPT_TEXT = "You are in a bottle. Work on the project in the current folder.\n"
SKILL_TEXT = "# review\nRead the diff and say what is wrong with it.\n"
GIT_IDENTITY = ["-c", "user.email=bench@example.com", "-c", "user.name=bench"]


@dataclass(frozen=True)
class Project:
    """A git repository to run an agent in, and a manifest for the agent."""

    workdir: Path
    manifest_path: Path
    agent: str

    def spec(self) -> BottleSpec:
        return BottleSpec(
            agent=self.agent,
            manifest=load_manifest(self.manifest_path),
            manifest_path=self.manifest_path,
            workdir=self.workdir,
        )


class Workspace:
    """The run's id, temporary folders and projects; `sweep` removes them all."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.run_id = secrets.token_hex(3)
        self.agent = f"bench-{self.run_id}"
        self.root = Path(
            tempfile.mkdtemp(prefix=f"bot-bottle-bench-{self.run_id}-")
        ).resolve()
        self._extras = self._make_extras()

    @property
    def labels(self) -> dict[str, str]:
        """Labels for what the benchmark creates directly."""
        return {BENCH_LABEL: self.run_id}

    def stage_dir(self) -> Path:
        """A new stage dir, as the CLI makes one for each launch."""
        return Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=self.root))

    def project(self, name: str, files: int = 3) -> Project:
        """A committed git repository of `files` small files, and its manifest."""
        workdir = self.root / name
        _write_tree(workdir, files)
        git = ["git", "-C", str(workdir), *GIT_IDENTITY]
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "the project"], check=True)
        manifest = self.root / f"{name}.json"
        manifest.write_text(json.dumps(self._manifest()))
        return Project(workdir, manifest, self.agent)

    def _make_extras(self) -> dict[str, Path]:
        extras = self.root / "extras"
        skill = extras / "skills" / "review"
        skill.mkdir(parents=True)
        (skill / "SKILL.md").write_text(SKILL_TEXT)
        prompt = extras / "prompt.md"
        prompt.write_text(PROMPT_TEXT)
        key = extras / "id_bench"
        key.write_text(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n"
            "-----END OPENSSH PRIVATE KEY-----\n"
        )
        key.chmod(0o600)
        return {"skill": skill, "prompt": prompt, "key": key}

    def _manifest(self) -> dict[str, Any]:
        extras = self._extras
        return {
            "bottles": {
                "bench": {
                    "ssh": [{"host": "github.com", "key": str(extras["key"])}],
                    "egress": {"allowlist": ["api.anthropic.com", "github.com"]},
                }
            },
            "agents": {
                self.agent: {
                    "bottle": "bench",
                    "prompt": str(extras["prompt"]),
                    "skills": [str(extras["skill"])],
                }
            },
        }

    # -- the sweep ----------------------------------------------------------

    def sweep(self) -> list[str]:
        """Remove every container, network and image of the run, and its folders.

        Returns what could not be removed, as text.
        """
        left: list[str] = []
        for where in self._filters():
            left += _remove_containers(self.client, where)
        for where in self._filters():
            left += _remove_networks(self.client, where)
        left += self._remove_images()
        shutil.rmtree(self.root, ignore_errors=True)
        return left

    def _filters(self) -> list[dict[str, list[str]]]:
        return [
            {"label": [f"{BENCH_LABEL}={self.run_id}"]},
            {"label": [f"{labels.MANAGED}=true", f"{labels.AGENT}={self.agent}"]},
        ]

    def _remove_images(self) -> list[str]:
        left = []
        for image in self.client.images.list(filters={"label": WORKDIR_LABEL}):
            workdir = image.labels.get(WORKDIR_LABEL, "")
            if not Path(workdir).is_relative_to(self.root):
                continue
            try:
                self.client.images.remove(image.id, force=True)
            except APIError as exc:
                left.append(f"image {image.short_id}: {exc.explanation}")
        return left


def _write_tree(root: Path, files: int) -> None:
    """`files` small files, a hundred to a folder."""
    root.mkdir(parents=True)
    (root / "README.md").write_text("A project for the benchmark.\n")
    for index in range(files - 1):
        folder = root / f"pkg{index // 100:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"module{index % 100:02d}.py").write_text(
            f'"""Module {index}."""\n\nVALUE = {index}\n'
        )


def _remove_containers(client: docker.DockerClient, where: Any) -> list[str]:
    left = []
    for found in client.api.containers(all=True, filters=where):
        try:
            client.api.remove_container(found["Id"], force=True)
        except APIError as exc:
            if exc.status_code not in (404, 409):
                left.append(f"container {found['Names'][0]}: {exc.explanation}")
    return left


def _remove_networks(client: docker.DockerClient, where: Any) -> list[str]:
    left = []
    for found in client.api.networks(filters=where):
        try:
            client.api.remove_network(found["Id"])
        except APIError as exc:
            if exc.status_code != 404:
                left.append(f"network {found['Name']}: {exc.explanation}")
    return left


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, so `finally` blocks run."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {
        signum: signal.signal(signum, interrupt)
        for signum in (signal.SIGTERM, signal.SIGHUP)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(signum, handler)
