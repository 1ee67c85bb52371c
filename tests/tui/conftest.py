"""Fixtures for the dashboard's tests: a manifest, a fake backend, the app.

Async tests run on a fresh event loop each (no asyncio plugin is needed).
Times are fixed, so ages and snapshots do not depend on when tests run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import io
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.drivers.headless_driver import HeadlessDriver
from textual.pilot import Pilot

from bot_bottle.backend import ActiveBottle, BottlePlan, BottleSpec
from bot_bottle.errors import EngineUnavailableError
from tests.fakes import FakeBottleBackend
from tui import AppContext, BotBottleApp

FIXED_NOW = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)
SIZE = (100, 30)

MANIFEST: dict[str, Any] = {
    "bottles": {
        "web": {
            "egress": {"allowlist": ["api.anthropic.com", "github.com", "*.pypi.org"]},
            "env": {"set": {"EDITOR": "vi", "LANG": "C.UTF-8"}},
        },
        "offline": {},
    },
    "agents": {
        "coder": {"bottle": "web", "description": "writes code in the repository"},
        "reviewer": {"bottle": "web", "description": "reviews [bold]changes[/]"},
        "scratch": {"bottle": "offline", "description": "no network at all"},
    },
}


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True


class SuspendingDriver(HeadlessDriver):
    """A headless driver that allows `App.suspend()`, as Textual's tests use."""

    @property
    def is_headless(self) -> bool:
        return False

    @property
    def can_suspend(self) -> bool:
        return True


@dataclasses.dataclass
class DemoBackend(FakeBottleBackend):
    """The fake backend, plus build output and plan warnings to show."""

    build_lines: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def prepare(self, spec: BottleSpec, *, stage_dir: Path) -> BottlePlan:
        build = logging.getLogger("bot_bottle.build")
        for line in self.build_lines:
            build.info(line)
        plan = super().prepare(spec, stage_dir=stage_dir)
        return dataclasses.replace(plan, warnings=self.warnings)


@dataclasses.dataclass
class EngineDownBackend(FakeBottleBackend):
    """A backend whose engine does not answer until `engine_up` is set."""

    engine_up: bool = False

    def list_active(self) -> list[ActiveBottle]:
        if not self.engine_up:
            raise EngineUnavailableError(
                "cannot reach the engine at unix:///var/run/docker.sock"
            )
        return super().list_active()


def active_bottle(agent: str, minutes: float, session: str = "") -> ActiveBottle:
    """A live bottle that started `minutes` before FIXED_NOW."""
    return ActiveBottle(
        session=session or f"s-{agent}",
        agent=agent,
        bottle="web",
        runtime="runsc",
        started_at=FIXED_NOW - timedelta(minutes=minutes),
        containers=(f"bot-bottle-{agent}",),
    )


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder, made the current one so paths show short."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def manifest_path(workdir: Path) -> Path:
    path = Path("bot-bottle.json")
    path.write_text(json.dumps(MANIFEST), encoding="utf-8")
    return path


@pytest.fixture
def stage_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where stage dirs are made during the test; empty means none was left."""
    root = tmp_path / "stage-root"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    yield root


@pytest.fixture
def backend() -> DemoBackend:
    return DemoBackend()


@pytest.fixture
def terminal() -> io.StringIO:
    """What the app writes to the terminal while claude has it."""
    return io.StringIO()


AppFactory = Callable[..., BotBottleApp]


@pytest.fixture
def make_app(
    manifest_path: Path, workdir: Path, terminal: io.StringIO, stage_root: Path
) -> AppFactory:
    def make(
        backend: FakeBottleBackend,
        *,
        initial_agent: str | None = None,
        suspend: bool = False,
        refresh_seconds: float = 60.0,
        claude_args: tuple[str, ...] = (),
    ) -> BotBottleApp:
        context = AppContext(
            backend=backend,
            manifest_path=manifest_path,
            workdir=workdir,
            claude_args=claude_args,
            clock=lambda: FIXED_NOW,
            refresh_seconds=refresh_seconds,
            terminal=lambda: terminal,
            cursor_blink=False,
        )
        driver = SuspendingDriver if suspend else None
        return BotBottleApp(context, initial_agent=initial_agent, driver_class=driver)

    return make


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds; fail after five seconds."""
    for _ in range(250):
        try:
            if condition():
                return
        except NoMatches:
            pass  # the screen is not composed yet
        await pilot.pause(0.02)
    raise AssertionError("the app never reached the expected state")


def running(app: BotBottleApp) -> Any:
    """`app.run_test` at the tests' size; a suspending driver runs as given."""
    headless = not issubclass(app.driver_class, SuspendingDriver)
    return app.run_test(headless=headless, size=SIZE)


def notes(app: BotBottleApp) -> list[tuple[str, str, str]]:
    """The notifications shown so far: (title, message, severity)."""
    # Textual keeps them on a private attribute; its own tests read it too.
    return [(n.title, n.message, n.severity) for n in app._notifications]
