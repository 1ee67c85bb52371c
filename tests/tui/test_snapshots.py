"""What each screen looks like, at 100x30, with fixed data and times.

Update after an intended change with `pytest tests/tui --snapshot-update`, and
look at the SVGs under __snapshots__/ before committing them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from bot_bottle.backend import CleanupItem
from tui import BotBottleApp
from tui.run import RunOutcome
from tui.screens import CleanupScreen, DashboardScreen, ReviewScreen
from tui.widgets import NavTable

from .conftest import (
    MANIFEST,
    SIZE,
    AppFactory,
    DemoBackend,
    EngineDownBackend,
    active_bottle,
    wait_for,
)

Snap = Callable[..., bool]

BUILD_LINES = (
    "building image bot-bottle-base:3f9a",
    "Step 1/6 : FROM debian:bookworm-slim",
    "Step 2/6 : RUN apt-get install -y git openssh-client ca-certificates",
    "Step 3/6 : RUN npm install -g @anthropic-ai/claude-code",
)
WARNINGS = (
    "the engine (20.10) forwards DNS from internal networks (CVE-2024-29018); "
    "the agent is given no resolver",
)


@pytest.fixture
def busy_backend() -> DemoBackend:
    backend = DemoBackend(build_lines=BUILD_LINES, warnings=WARNINGS)
    backend.active["coder"] = active_bottle("coder", minutes=84.2, session="7c1e")
    backend.active["reviewer"] = active_bottle("reviewer", minutes=3.5, session="a90d")
    return backend


def rows_shown(pilot: Pilot[Any], count: int) -> Callable[[], bool]:
    def shown() -> bool:
        return pilot.app.screen.query_one("#active", NavTable).row_count == count

    return shown


def test_dashboard(
    snap_compare: Snap, make_app: AppFactory, busy_backend: DemoBackend
) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, rows_shown(pilot, 2))

    app = make_app(busy_backend)
    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_dashboard_after_a_run(
    snap_compare: Snap, make_app: AppFactory, busy_backend: DemoBackend
) -> None:
    async def ran(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, rows_shown(pilot, 2))
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        screen.report(
            RunOutcome(
                "scratch",
                status=0,
                notes=("the agent's work is on branch bot-bottle/scratch-5d2f",),
            )
        )

    app = make_app(busy_backend)
    assert snap_compare(app, terminal_size=SIZE, run_before=ran)


def test_dashboard_filtered(
    snap_compare: Snap, make_app: AppFactory, busy_backend: DemoBackend
) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, rows_shown(pilot, 2))

    app = make_app(busy_backend)
    assert snap_compare(
        app, press=["slash", "w", "e", "b"], terminal_size=SIZE, run_before=ready
    )


def test_dashboard_invalid_manifest(
    snap_compare: Snap, make_app: AppFactory, manifest_path: Path
) -> None:
    broken = json.loads(json.dumps(MANIFEST))
    broken["bottles"]["web"]["egress"]["allowlist"][1] = "https://github.com/org"
    broken["agents"]["coder"]["colour"] = "blue"
    broken["agents"]["scratch"]["bottle"] = "offline!"
    manifest_path.write_text(json.dumps(broken), encoding="utf-8")
    app = make_app(DemoBackend())
    assert snap_compare(app, terminal_size=SIZE)


def test_dashboard_engine_unavailable(snap_compare: Snap, make_app: AppFactory) -> None:
    async def down(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.has_class("-engine-down"))

    app = make_app(EngineDownBackend())
    assert snap_compare(app, terminal_size=SIZE, run_before=down)


def test_review_plan(
    snap_compare: Snap, make_app: AppFactory, busy_backend: DemoBackend
) -> None:
    async def planned(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, ReviewScreen)
        await wait_for(pilot, lambda: screen.plan is not None)

    app = make_app(busy_backend)
    assert snap_compare(app, terminal_size=SIZE, run_before=planned)


def test_review_preparing(snap_compare: Snap, make_app: AppFactory) -> None:
    gate = threading.Event()
    backend = DemoBackend(build_lines=BUILD_LINES, prepare_gate=gate)

    async def preparing(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.has_class("-has-log"))

    app = make_app(backend)
    # The app's exit waits for the prepare thread: let it finish then.
    release_on_exit(app, gate)
    assert snap_compare(app, terminal_size=SIZE, run_before=preparing)


def release_on_exit(app: BotBottleApp, gate: threading.Event) -> None:
    exit_app = app.exit

    def exit_and_release(*args: Any, **kwargs: Any) -> None:
        gate.set()
        exit_app(*args, **kwargs)

    app.exit = exit_and_release  # type: ignore[method-assign]


def test_review_failed(snap_compare: Snap, make_app: AppFactory) -> None:
    backend = DemoBackend(build_lines=BUILD_LINES[:2], fail_at="prepare")

    async def failed(pilot: Pilot[Any]) -> None:
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, ReviewScreen)
        await wait_for(pilot, lambda: screen.failure is not None)

    app = make_app(backend)
    assert snap_compare(app, terminal_size=SIZE, run_before=failed)


def test_cleanup(snap_compare: Snap, make_app: AppFactory) -> None:
    backend = DemoBackend(
        orphans=[
            CleanupItem("container", "bot-bottle-coder-1a2b", "1a2b", "coder"),
            CleanupItem("container", "bot-bottle-coder-1a2b-proxy", "1a2b", "coder"),
            CleanupItem("network", "bot-bottle-coder-1a2b-internal", "1a2b", "coder"),
            CleanupItem("network", "bot-bottle-coder-1a2b-egress", "1a2b", "coder"),
        ]
    )

    async def listed(pilot: Pilot[Any]) -> None:
        await pilot.press("c")
        screen = pilot.app.screen
        assert isinstance(screen, CleanupScreen)
        await wait_for(pilot, lambda: screen.plan is not None)

    app = make_app(backend)
    assert snap_compare(app, terminal_size=SIZE, run_before=listed)


def test_help(
    snap_compare: Snap, make_app: AppFactory, busy_backend: DemoBackend
) -> None:
    async def ready(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, rows_shown(pilot, 2))

    app = make_app(busy_backend)
    assert snap_compare(
        app, press=["question_mark"], terminal_size=SIZE, run_before=ready
    )
