"""Cleanup: orphans are shown first; removed only on approval."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from bot_bottle.backend import CleanupItem
from tui.screens import CleanupScreen, DashboardScreen
from tui.widgets import NavTable

from .conftest import AppFactory, DemoBackend, notes, running, wait_for

ORPHANS = [
    CleanupItem("container", "bot-bottle-coder-1a2b", "1a2b", "coder"),
    CleanupItem("container", "bot-bottle-coder-1a2b-proxy", "1a2b", "coder"),
    CleanupItem("network", "bot-bottle-coder-1a2b-internal", "1a2b", "coder"),
    CleanupItem("network", "bot-bottle-scratch-9f9f-egress", "9f9f", "scratch"),
]


async def open_cleanup(pilot: Pilot[Any]) -> CleanupScreen:
    await pilot.press("c")
    screen = pilot.app.screen
    assert isinstance(screen, CleanupScreen)
    await pilot.app.workers.wait_for_complete()
    await wait_for(
        pilot, lambda: screen.plan is not None or screen.step.value == "done"
    )
    return screen


def summary(screen: CleanupScreen) -> str:
    return str(screen.query_one("#cleanup-summary", Static).render())


async def test_cleanup_lists_the_orphans_before_removing_anything(
    make_app: AppFactory,
) -> None:
    backend = DemoBackend(orphans=list(ORPHANS))
    async with running(make_app(backend)) as pilot:
        screen = await open_cleanup(pilot)
        table = screen.query_one("#orphans", NavTable)
        assert [str(table.get_row(row.key)[1]) for row in table.ordered_rows] == [
            item.name for item in ORPHANS
        ]
        assert summary(screen).startswith("4 orphaned resources of 2 sessions,")
        assert [name for name, _ in backend.calls] == ["prepare_cleanup"]


async def test_approving_removes_them_and_shows_the_result(
    make_app: AppFactory,
) -> None:
    backend = DemoBackend(orphans=list(ORPHANS))
    app = make_app(backend)
    async with running(app) as pilot:
        screen = await open_cleanup(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.step.value == "done")
        assert backend.calls[-1] == ("cleanup", [item.name for item in ORPHANS])
        assert backend.orphans == []
        assert summary(screen) == "Removed 4 orphaned resources."
        assert ("Cleanup done", "Removed 4 orphaned resources.", "information") in (
            notes(app)
        )
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)


async def test_refusing_keeps_everything(make_app: AppFactory) -> None:
    backend = DemoBackend(orphans=list(ORPHANS))
    app = make_app(backend)
    async with running(app) as pilot:
        await open_cleanup(pilot)
        await pilot.press("n")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert backend.orphans == ORPHANS
        assert "cleanup" not in [name for name, _ in backend.calls]
        assert ("Cleanup refused", "Nothing was removed.", "information") in notes(app)


async def test_esc_on_the_plan_refuses_too(make_app: AppFactory) -> None:
    backend = DemoBackend(orphans=list(ORPHANS))
    async with running(make_app(backend)) as pilot:
        await open_cleanup(pilot)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert backend.orphans == ORPHANS


async def test_nothing_to_clean_up_offers_nothing_to_approve(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        screen = await open_cleanup(pilot)
        assert summary(screen) == "Nothing to clean up: no orphans were found."
        await pilot.press("y")
        assert "cleanup" not in [name for name, _ in backend.calls]
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)


async def test_finding_failure_is_a_notification(make_app: AppFactory) -> None:
    backend = DemoBackend(fail_at="prepare_cleanup")
    app = make_app(backend)
    async with running(app) as pilot:
        screen = await open_cleanup(pilot)
        assert (
            "Could not find orphans",
            "engine did not answer (injected)",
            "error",
        ) in notes(app)
        assert "engine did not answer" in summary(screen)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)


async def test_removal_failure_is_a_notification(make_app: AppFactory) -> None:
    backend = DemoBackend(orphans=list(ORPHANS), fail_at="cleanup")
    app = make_app(backend)
    async with running(app) as pilot:
        screen = await open_cleanup(pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.step.value == "done")
        assert (
            "Could not remove the orphans",
            "removal failed (injected)",
            "error",
        ) in notes(app)
        assert app.is_running
