"""The dashboard: agents, active bottles, refresh, filter, error states, keys."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import DataTable, Static

from tests.fakes import FakeBottleBackend
from tui.screens import DashboardScreen, HelpScreen
from tui.widgets import NavTable

from .conftest import (
    MANIFEST,
    AppFactory,
    DemoBackend,
    EngineDownBackend,
    active_bottle,
    running,
    wait_for,
)


def plain_rows(table: DataTable[object]) -> list[list[str]]:
    return [
        [str(cell) for cell in table.get_row(row.key)] for row in table.ordered_rows
    ]


def static_text(screen: DashboardScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def problem_lines(screen: DashboardScreen) -> list[str]:
    return [str(line.render()) for line in screen.query(".problem-line")]


async def test_agents_show_name_bottle_allowlist_size_and_description(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        table = pilot.app.screen.query_one("#agents", NavTable)
        assert plain_rows(table) == [
            ["coder", "web", "3 hosts", "writes code in the repository"],
            ["reviewer", "web", "3 hosts", "reviews [bold]changes[/]"],
            ["scratch", "offline", "0 hosts", "no network at all"],
        ]


async def test_active_bottles_show_agent_bottle_runtime_and_age(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    backend.active["coder"] = active_bottle("coder", minutes=75.5)
    backend.active["reviewer"] = active_bottle("reviewer", minutes=7.25)
    async with running(make_app(backend)) as pilot:
        table = pilot.app.screen.query_one("#active", NavTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert plain_rows(table) == [
            ["coder", "web", "s-coder", "runsc", "1h 15m"],
            ["reviewer", "web", "s-reviewer", "runsc", "7m 15s"],
        ]


async def test_refresh_keeps_the_cursor_on_its_row(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    backend.active["coder"] = active_bottle("coder", minutes=30)
    backend.active["reviewer"] = active_bottle("reviewer", minutes=20)
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        active = screen.query_one("#active", NavTable)
        agents = screen.query_one("#agents", NavTable)
        await wait_for(pilot, lambda: active.row_count == 2)
        await pilot.press("j", "j")
        await pilot.press("tab", "j")
        assert (agents.cursor_key, active.cursor_key) == (
            "scratch",
            "s-reviewer/reviewer",
        )

        # A bottle older than the others appears first; one disappears.
        backend.active["scratch"] = active_bottle("scratch", minutes=90)
        del backend.active["coder"]
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: (
                active.row_count == 2
                and "s-scratch/scratch"
                in [row.key.value for row in active.ordered_rows]
            ),
        )
        assert (agents.cursor_key, active.cursor_key) == (
            "scratch",
            "s-reviewer/reviewer",
        )


async def test_timer_refreshes_the_active_bottles_without_a_key(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend, refresh_seconds=0.05)) as pilot:
        table = pilot.app.screen.query_one("#active", NavTable)
        assert table.row_count == 0
        backend.active["coder"] = active_bottle("coder", minutes=1)
        await wait_for(pilot, lambda: table.row_count == 1)


async def test_engine_unavailable_shows_a_clear_state_and_recovers(
    make_app: AppFactory,
) -> None:
    backend = EngineDownBackend()
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.has_class("-engine-down"))
        text = static_text(screen, "#engine-problem")
        assert "The container engine is not reachable." in text
        assert "unix:///var/run/docker.sock" in text
        assert not screen.query_one("#active").display

        backend.engine_up = True
        await pilot.press("r")
        await wait_for(pilot, lambda: not screen.has_class("-engine-down"))
        assert screen.query_one("#active").display


async def test_backend_error_while_listing_shows_its_cause(
    make_app: AppFactory,
) -> None:
    backend = FakeBottleBackend(fail_at="list_active")
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        await wait_for(pilot, lambda: screen.has_class("-engine-down"))
        text = static_text(screen, "#engine-problem")
        assert "could not list the active bottles" in text
        assert "engine did not answer (injected)" in text


async def test_invalid_manifest_lists_each_problem_with_its_place(
    make_app: AppFactory, backend: DemoBackend, manifest_path: Path
) -> None:
    broken = json.loads(json.dumps(MANIFEST))
    broken["bottles"]["web"]["egress"]["allowlist"][1] = "https://github.com/x"
    broken["agents"]["coder"]["colour"] = "blue"
    manifest_path.write_text(json.dumps(broken), encoding="utf-8")
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        assert screen.has_class("-manifest-invalid")
        assert problem_lines(screen) == [
            "bottles.web.egress.allowlist[1]: 'https://github.com/x' is a URL; "
            "write the host name alone, e.g. 'github.com'",
            "agents.coder.colour: unknown key; remove it or check its spelling "
            "in docs/manifest.md",
        ]
        assert str(screen.query_one("#manifest-problem .source", Static).render()) == (
            "bot-bottle.json"
        )

        manifest_path.write_text(json.dumps(MANIFEST), encoding="utf-8")
        await pilot.press("r")
        assert not screen.has_class("-manifest-invalid")
        assert screen.query_one("#agents", NavTable).row_count == 3


async def test_missing_manifest_is_a_state_not_a_crash(
    make_app: AppFactory, backend: DemoBackend, manifest_path: Path
) -> None:
    manifest_path.unlink()
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        assert "no such file" in problem_lines(screen)[0]
        await pilot.press("enter")
        assert screen is pilot.app.screen


async def test_details_follow_the_cursor_and_show_no_env_values(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        panel = screen.query_one("#details-panel")
        assert panel.border_title == "coder"
        await pilot.press("down", "down")
        assert panel.border_title == "scratch"
        await pilot.press("k")
        assert panel.border_title == "reviewer"


async def test_filter_narrows_the_agents_and_esc_clears_it(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        screen = pilot.app.screen
        table = screen.query_one("#agents", NavTable)
        await pilot.press("slash", "o", "f", "f")
        assert [row.key.value for row in table.ordered_rows] == ["scratch"]
        assert screen.query_one("#agents-panel").border_subtitle == (
            "1 of 3 · filter: off"
        )
        await pilot.press("enter")
        assert table.has_focus

        await pilot.press("escape")
        assert [row.key.value for row in table.ordered_rows] == [
            "coder",
            "reviewer",
            "scratch",
        ]
        assert not screen.query_one("#filter").display


async def test_filter_takes_letters_that_are_keys_elsewhere(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        await pilot.press("slash", "q", "c", "r", "j")
        assert pilot.app.is_running
        assert isinstance(pilot.app.screen, DashboardScreen)
        assert pilot.app.screen.filter_text == "qcrj"


async def test_help_opens_on_question_mark_and_closes_on_esc(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        text = str(pilot.app.screen.query_one("#help-keys", Static).render())
        for key in ("j k", "enter", "esc", "/", "r", "c", "?", "q"):
            assert key in text
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DashboardScreen)


async def test_q_quits_with_status_zero(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    app = make_app(backend)
    async with running(app) as pilot:
        await pilot.press("q")
    assert app.return_code == 0
    assert app.return_value == 0


async def test_ctrl_c_quits_even_from_the_filter(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    app = make_app(backend)
    async with running(app) as pilot:
        await pilot.press("slash", "ctrl+c")
    assert app.return_value == 0


async def test_footer_lists_the_keys(
    make_app: AppFactory, backend: DemoBackend
) -> None:
    async with running(make_app(backend)) as pilot:
        shown = {
            binding.key
            for (_, binding, enabled, _) in pilot.app.screen.active_bindings.values()
            if binding.show and enabled
        }
        assert {"k", "j", "enter", "slash", "r", "c", "question_mark", "q"} <= shown
