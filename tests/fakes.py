"""An in-memory backend for testing the CLI and the dashboard.

It stands in for a real platform the way an in-memory transport stands in for
a network: it implements the backend contract fully, records what was asked of
it, and can be told to fail at any step. The Docker backend itself is never
tested through this; it is tested against a real engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot_bottle.backend import (
    ActiveBottle,
    Bottle,
    BottleBackend,
    BottleCleanupPlan,
    BottlePlan,
    BottleSpec,
    BottleState,
    CleanupItem,
    PlanSection,
)
from bot_bottle.env import resolve_env
from bot_bottle.errors import BackendError


@dataclass
class FakePlan(BottlePlan):
    def sections(self) -> list[PlanSection]:
        return [
            PlanSection("agent", (f"{self.agent} (bottle {self.bottle})",)),
            PlanSection("runtime", ("fake (in memory)",)),
            PlanSection("egress allowlist", self.allowlist),
            PlanSection("env (names only)", self.env_names),
        ]


@dataclass
class FakeCleanupPlan(BottleCleanupPlan):
    pass


class FakeBottle(Bottle):
    def __init__(self, plan: BottlePlan, backend: FakeBottleBackend) -> None:
        super().__init__(plan)
        self.backend = backend
        self.copied: list[tuple[Path, str]] = []

    @property
    def name(self) -> str:
        return f"fake-{self.plan.agent}"

    def exec_claude(self, argv: Sequence[str] = (), *, tty: bool = True) -> int:
        self.backend.calls.append(("exec_claude", (*self.plan.claude_argv, *argv)))
        if self.backend.fail_at == "exec":
            raise BackendError("claude could not be started (injected)")
        return self.backend.claude_status

    def cp_in(self, host: Path, ctr: str) -> None:
        self.copied.append((host, ctr))

    def teardown(self) -> None:
        self.state = BottleState.STOPPED
        self.backend.active.pop(self.plan.agent, None)
        self.backend.calls.append(("teardown", self.plan.agent))


@dataclass
class FakeBottleBackend(BottleBackend):
    """A backend that keeps its bottles in a dict and fails where told."""

    name: str = "fake"
    fail_at: str | None = None
    claude_status: int = 0
    orphans: list[CleanupItem] = field(default_factory=list)
    active: dict[str, ActiveBottle] = field(default_factory=dict)
    calls: list[tuple[str, object]] = field(default_factory=list)
    stage_dirs: list[Path] = field(default_factory=list)
    #: Set to make prepare() wait, to test that callers stay responsive.
    prepare_gate: threading.Event | None = None

    def prepare(self, spec: BottleSpec, *, stage_dir: Path) -> BottlePlan:
        self.calls.append(("prepare", spec.agent))
        self.stage_dirs.append(stage_dir)
        if self.prepare_gate is not None:
            self.prepare_gate.wait(10)
        if self.fail_at == "prepare":
            raise BackendError("image build failed (injected)")
        agent = spec.manifest.agents[spec.agent]
        bottle = spec.manifest.bottles[agent.bottle]
        env = resolve_env(spec.manifest, spec.agent)
        return FakePlan(
            spec=spec,
            bottle=agent.bottle,
            stage_dir=stage_dir,
            claude_argv=(*agent.claude_args, *spec.claude_args),
            allowlist=tuple(bottle.egress.allowlist),
            env_names=tuple(env.names),
            ssh_hosts=tuple(key.host for key in bottle.ssh),
            skills=tuple(agent.skills),
            prompt=None,
        )

    @contextmanager
    def launch(self, plan: BottlePlan) -> Iterator[Bottle]:
        self.calls.append(("launch", plan.agent))
        if self.fail_at == "launch":
            raise BackendError("network could not be created (injected)")
        bottle = FakeBottle(plan, self)
        self.active[plan.agent] = ActiveBottle(
            session="f00d",
            agent=plan.agent,
            bottle=plan.bottle,
            runtime="fake",
            started_at=datetime.now(UTC),
            containers=(bottle.name,),
        )
        bottle.state = BottleState.RUNNING
        try:
            self.provision(plan, bottle)
            yield bottle
        finally:
            bottle.teardown()

    def prepare_cleanup(self) -> BottleCleanupPlan:
        self.calls.append(("prepare_cleanup", None))
        if self.fail_at == "prepare_cleanup":
            raise BackendError("engine did not answer (injected)")
        return FakeCleanupPlan(items=list(self.orphans))

    def cleanup(self, plan: BottleCleanupPlan) -> None:
        self.calls.append(("cleanup", [item.name for item in plan.items]))
        if self.fail_at == "cleanup":
            raise BackendError("removal failed (injected)")
        removed = {item.name for item in plan.items}
        self.orphans = [item for item in self.orphans if item.name not in removed]

    def list_active(self) -> list[ActiveBottle]:
        if self.fail_at == "list_active":
            raise BackendError("engine did not answer (injected)")
        return sorted(self.active.values(), key=lambda item: item.started_at)

    def provision_prompt(self, plan: BottlePlan, target: Bottle) -> None:
        pass

    def provision_skills(self, plan: BottlePlan, target: Bottle) -> None:
        pass

    def provision_ssh(self, plan: BottlePlan, target: Bottle) -> None:
        pass

    def provision_git(self, plan: BottlePlan, target: Bottle) -> None:
        pass
