"""The backend contract: what every platform that runs bottles provides.

A backend turns a `BottleSpec` (what the user asked for) into a `BottlePlan`
(everything resolved and named, nothing created), launches the plan as a
running `Bottle`, and finds and removes what crashed runs left behind. The CLI
and the dashboard talk only to these types, so a new platform plugs in here
without touching them.

The backend is chosen by `BOT_BOTTLE_BACKEND`; each implementation is imported
only when chosen, so the Docker SDK loads only for the Docker backend.
"""

from __future__ import annotations

import enum
import importlib
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from .. import settings
from ..errors import BadInputError
from ..manifest import Manifest

__all__ = [
    "BACKENDS",
    "ActiveBottle",
    "Bottle",
    "BottleBackend",
    "BottleCleanupPlan",
    "BottlePlan",
    "BottleSpec",
    "BottleState",
    "CleanupItem",
    "PlanSection",
    "get_bottle_backend",
]

#: Known backends: name to "module:class", imported only when chosen.
BACKENDS: dict[str, str] = {
    "docker": "bot_bottle.backend.docker.backend:DockerBottleBackend",
}


@dataclass(frozen=True)
class BottleSpec:
    """What the user asked for: an agent of a manifest, run from a folder."""

    agent: str
    manifest: Manifest
    #: The manifest file; relative paths inside it are taken from its folder.
    manifest_path: Path
    #: The project folder whose working tree the bottle holds.
    workdir: Path
    #: Arguments for claude given on the command line, after the manifest's.
    claude_args: tuple[str, ...] = ()
    #: Extra CA certificates for image builds, beside BOT_BOTTLE_CA_CERTS.
    ca_certs: tuple[Path, ...] = ()

    @property
    def base_dir(self) -> Path:
        return self.manifest_path.resolve().parent


@dataclass(frozen=True)
class PlanSection:
    """One titled group of lines in a plan, as the preflight and TUI show it."""

    title: str
    lines: tuple[str, ...]


@dataclass
class BottlePlan(ABC):
    """Everything a launch will create, resolved and named; nothing created.

    The fields every backend can state are here; a backend adds its own. No
    field ever holds a secret value: env vars appear by name only.
    """

    spec: BottleSpec
    bottle: str
    stage_dir: Path
    #: What claude will be run as inside, after the program name.
    claude_argv: tuple[str, ...]
    allowlist: tuple[str, ...]
    env_names: tuple[str, ...]
    ssh_hosts: tuple[str, ...]
    skills: tuple[str, ...]
    prompt: Path | None
    #: What this platform cannot guarantee, in plain sentences.
    warnings: tuple[str, ...] = ()

    @property
    def agent(self) -> str:
        return self.spec.agent

    @abstractmethod
    def sections(self) -> list[PlanSection]:
        """The plan as titled lines, in the order a reader needs them."""

    def print(self, file: TextIO | None = None) -> None:
        """Write the plan for the y/N preflight."""
        out = file or sys.stdout
        for section in self.sections():
            print(f"{section.title}:", file=out)
            for line in section.lines or ("(none)",):
                print(f"  {line}", file=out)


class BottleState(enum.Enum):
    """Where a bottle is in its life; each operation checks it."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"


class Bottle(ABC):
    """A running bottle: claude can be run in it until it is torn down."""

    def __init__(self, plan: BottlePlan) -> None:
        self.plan = plan
        self.state = BottleState.STARTING
        #: The host branch the agent's work was brought home to at teardown;
        #: None until then, and when nothing changed.
        self.work_branch: str | None = None

    @property
    @abstractmethod
    def name(self) -> str:
        """A name a person can find the bottle by on its platform."""

    @abstractmethod
    def exec_claude(self, argv: Sequence[str] = (), *, tty: bool = True) -> int:
        """Run claude with `argv` after the plan's arguments; its exit status.

        With `tty`, claude gets the caller's terminal; without, its output is
        streamed to the caller's stdout.
        """

    @abstractmethod
    def cp_in(self, host: Path, ctr: str) -> None:
        """Copy a host file or folder to path `ctr` inside, keeping modes."""

    @abstractmethod
    def teardown(self) -> None:
        """Remove everything the launch created; safe to call twice."""


@dataclass(frozen=True)
class ActiveBottle:
    """A live bottle, as `list_active` reports it."""

    session: str
    agent: str
    bottle: str
    runtime: str
    started_at: datetime
    containers: tuple[str, ...]

    def age(self, now: datetime | None = None) -> float:
        """Seconds since the bottle started."""
        current = now or datetime.now(UTC)
        return max(0.0, (current - self.started_at).total_seconds())


@dataclass(frozen=True)
class CleanupItem:
    """One orphaned resource a cleanup would remove."""

    kind: str
    name: str
    session: str
    agent: str


@dataclass
class BottleCleanupPlan:
    """What a cleanup would remove; nothing removed yet.

    Each backend subclasses it to carry what its `cleanup` needs.
    """

    items: list[CleanupItem] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.items

    @property
    def sessions(self) -> list[str]:
        return sorted({item.session for item in self.items})

    def print(self, file: TextIO | None = None) -> None:
        """Write the plan for the y/N prompt."""
        out = file or sys.stdout
        if self.is_empty:
            print("Nothing to clean up.", file=out)
            return
        print(f"Orphans of {len(self.sessions)} session(s):", file=out)
        for item in self.items:
            print(
                f"  {item.kind:<10} {item.name}  (agent {item.agent}, "
                f"session {item.session})",
                file=out,
            )


class BottleBackend(ABC):
    """One platform that can run bottles."""

    name: str

    @abstractmethod
    def prepare(self, spec: BottleSpec, *, stage_dir: Path) -> BottlePlan:
        """Resolve everything for `spec`; may build images, creates nothing else.

        Raises:
            BadInputError: the spec cannot be run as given.
            BackendError: the platform failed while preparing.
        """

    @abstractmethod
    def launch(self, plan: BottlePlan) -> AbstractContextManager[Bottle]:
        """Create and provision the bottle; tear it down when the block exits."""

    @abstractmethod
    def prepare_cleanup(self) -> BottleCleanupPlan:
        """Find what crashed or killed runs left behind; remove nothing."""

    @abstractmethod
    def cleanup(self, plan: BottleCleanupPlan) -> None:
        """Remove what `plan` lists, tolerating what is already gone."""

    @abstractmethod
    def list_active(self) -> list[ActiveBottle]:
        """The bottles running now, oldest first."""

    def provision(self, plan: BottlePlan, target: Bottle) -> None:
        """Copy the prompt, skills, SSH identities and `.git` into `target`."""
        self.provision_prompt(plan, target)
        self.provision_skills(plan, target)
        self.provision_ssh(plan, target)
        self.provision_git(plan, target)

    @abstractmethod
    def provision_prompt(self, plan: BottlePlan, target: Bottle) -> None: ...

    @abstractmethod
    def provision_skills(self, plan: BottlePlan, target: Bottle) -> None: ...

    @abstractmethod
    def provision_ssh(self, plan: BottlePlan, target: Bottle) -> None: ...

    @abstractmethod
    def provision_git(self, plan: BottlePlan, target: Bottle) -> None: ...


def get_bottle_backend(name: str | None = None) -> BottleBackend:
    """The backend named by `name`, else by BOT_BOTTLE_BACKEND (default docker).

    Raises:
        BadInputError: the name is not a known backend.
    """
    chosen = name or settings.backend_name()
    target = BACKENDS.get(chosen)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise BadInputError(
            f"BOT_BOTTLE_BACKEND={chosen!r} is not a known backend; use one of: {known}"
        )
    module_name, class_name = target.split(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    backend: BottleBackend = backend_class()
    return backend
